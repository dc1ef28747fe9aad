import Fastify, { type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import * as client from 'openid-client';
import { buildApp } from '../../src/app.ts';
import type { Runtime } from '../../src/bootstrap/runtime.ts';
import { ensureAccountClient, registerSelfServiceRoutes } from '../../src/self-service/routes.ts';
import { createSelfService, type SelfService } from '../../src/self-service/service.ts';
import { DEFAULT_SELF_SERVICE_SETTINGS, type SelfServiceSettings } from '../../src/self-service/settings.ts';
import type { buildCitizen } from '../helpers/builders.ts';
import { latestCode, RP_CALLBACK } from '../helpers/oidc.ts';
import { createTestRuntime, freePort } from '../helpers/runtime.ts';
import { createUserAgent, formOf } from '../helpers/user-agent.ts';

type Teardown = { teardown(fn: () => unknown): void };
export type Ua = ReturnType<typeof createUserAgent>;
export type Citizen = Awaited<ReturnType<typeof buildCitizen>>;

/**
 * Like startTestServer, with the self-service routes added before the app listens (fastify refuses routes
 * afterwards), unless buildApp already registers them.
 */
export async function startSelfServiceServer(t: Teardown, options: { env?: Record<string, string>; clock?: () => Date; settings?: SelfServiceSettings } = {}): Promise<{
  runtime: Runtime; app: FastifyInstance; issuer: string; service: SelfService;
}> {
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const runtime = await createTestRuntime(t, { env: { ISSUER: issuer, PORT: String(port), SMS_COOLDOWN_SECONDS: '1', ...options.env }, clock: options.clock });
  const app = await buildApp(runtime, { logger: false });
  t.teardown(() => app.close());
  await ensureAccountClient(runtime, issuer);
  const settings = options.settings ?? DEFAULT_SELF_SERVICE_SETTINGS;
  const service = app.hasRoute({ method: 'GET', url: '/account/login' })
    ? createSelfService(runtime, settings)
    : await registerSelfServiceRoutes(app, { runtime, issuer, cookieSecret: runtime.config.cookieSecrets[0], settings });
  await app.listen({ port, host: '127.0.0.1' });
  return { runtime, app, issuer, service };
}

/** The SMS cool-down of the test servers is 1 s: wait it out before the next code to the same phone. */
export const coolDown = () => new Promise((resolve) => setTimeout(resolve, 1100));

/** Signs in to the account page with the password (L1); returns the overview. */
export async function accountLogin(ua: Ua, citizen: { idNumber: string; password: string }) {
  const login = await ua.get('/account/');
  const form = formOf(login.html, '/login');
  return ua.post(form.action, { csrf: form.csrf, identifier: citizen.idNumber, password: citizen.password });
}

/** Answers the step-up page of a re-login: the password and/or the SMS code it asks for; returns the page after it. */
export async function completeStepUp(runtime: Runtime, ua: Ua, page: { html: string }, citizen: { password: string; phone: string }) {
  let current = page as Awaited<ReturnType<Ua['get']>>;
  for (let i = 0; i < 3; i++) {
    if (/action="[^"]+\/step-up\/password"/.test(current.html)) {
      const form = formOf(current.html, '/step-up/password');
      current = await ua.post(form.action, { csrf: form.csrf, password: citizen.password });
    } else if (/action="[^"]+\/step-up\/sms\/send"/.test(current.html)) {
      const send = formOf(current.html, '/step-up/sms/send');
      const sent = await ua.post(send.action, { csrf: send.csrf });
      const verify = formOf(sent.html, '/step-up/sms/verify');
      current = await ua.post(verify.action, { csrf: verify.csrf, code: latestCode(runtime, citizen.phone) });
    } else {
      return current;
    }
  }
  return current;
}

/** The names and values of every input of the first form whose action ends with `suffix`. */
export function formFields(html: string, suffix: string): Record<string, string> {
  const form = [...html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)].find((m) => m[1].endsWith(suffix));
  if (!form) throw new Error(`no form ending with ${suffix}`);
  return Object.fromEntries([...form[2].matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)].map((m) => [m[1], m[2]]));
}

export const csrfOf = (html: string) => {
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!csrf) throw new Error('no csrf token in page');
  return csrf;
};

/**
 * A relying party with a back-channel logout endpoint (the logout tokens it receives are decoded into
 * `received`), and a login through the provider pages that returns its tokens.
 */
export async function startRelyingParty(t: Teardown, runtime: Runtime, issuer: string, options: { clientId: string; clientName: string; requireConsent?: boolean }) {
  const received: { sid?: string; sub?: string }[] = [];
  const rp = Fastify({ logger: false });
  await rp.register(formbody);
  rp.post('/backchannel', async (request) => {
    const token = (request.body as { logout_token: string }).logout_token;
    received.push(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { sid?: string; sub?: string });
    return {};
  });
  await rp.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => rp.close());
  const { port } = rp.server.address() as { port: number };
  const registered = await runtime.clients.create({
    client_id: options.clientId,
    client_name: options.clientName,
    redirect_uris: [RP_CALLBACK],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    backchannel_logout_uri: `http://127.0.0.1:${port}/backchannel`,
    backchannel_logout_session_required: true,
    ...(options.requireConsent === false ? { require_consent: false } : {}),
  });
  const config = await client.discovery(new URL(issuer), options.clientId, registered.client_secret!, client.ClientSecretBasic(registered.client_secret!), {
    execute: [client.allowInsecureRequests],
  });

  /** Password login (when the browser has no session yet), consent when asked; returns the tokens. */
  async function login(ua: Ua, citizen: { idNumber: string; password: string }, { offline = false } = {}) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: RP_CALLBACK, scope: offline ? 'openid profile offline_access' : 'openid profile', state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...(offline ? { prompt: 'consent' } : {}),
    });
    let page = await ua.get(url.toString());
    if (/name="password"/.test(page.html)) {
      const form = formOf(page.html, '/login');
      page = await ua.post(form.action, { csrf: form.csrf, identifier: citizen.idNumber, password: citizen.password });
    }
    if (/action="[^"]+\/consent"/.test(page.html)) {
      const consent = formOf(page.html, '/consent');
      page = await ua.post(consent.action, { csrf: consent.csrf });
    }
    if (!page.redirectedTo) throw new Error(`the relying-party login did not come back: ${page.url} ${page.html.slice(0, 300)}`);
    return client.authorizationCodeGrant(config, new URL(page.redirectedTo), { pkceCodeVerifier: verifier, expectedState: state });
  }

  return { config, received, login };
}

/** The OAuth error code a token request failed with. */
export async function oauthError(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { error?: string }).error ?? (error as Error).message;
  }
}

/** The person at the sandbox vendor's capture page presses Start; returns where the browser is sent back. */
export async function faceCapture(captureUrl: string): Promise<string> {
  const page = await fetch(captureUrl);
  const html = await page.text();
  const action = /<form method="post" action="([^"]+)"/.exec(html)![1];
  const response = await fetch(new URL(action, captureUrl), { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
  return response.headers.get('location')!;
}

/** The page without its per-flow CSRF tokens, to compare two answers. */
export const withoutTokens = (html: string) => html.replace(/name="csrf" value="[^"]+"/g, 'name="csrf" value=""');
