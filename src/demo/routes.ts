import { randomBytes } from 'node:crypto';
import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createRemoteJWKSet } from 'jose';
import type { JWTVerifyGetKey } from 'jose';
import * as client from 'openid-client';
import { demoCaCrl } from '../bootstrap/demo-ca.ts';
import { createRelyingParty, readSignedCookie } from '../oidc/relying-party.ts';
import { createLogoutTokenVerifier, LogoutTokenError } from './logout-token.ts';
import type { LogoutTokenSubject } from './logout-token.ts';
import { DEMO_CSP, errorPage, loggedInPage, loggedOutPage } from './pages.ts';

export type DemoOptions = { issuer: string; clientId: string; clientSecret: string; cookieSecret: string };

type DemoSession = {
  claims: client.IDToken;
  userinfo: client.UserInfoResponse;
  idToken: string;
  sid?: string;
  createdAt: number;
  endedByBackchannelAt?: string;
};

const LOGIN_COOKIE = 'demo_login';
const SESSION_COOKIE = 'demo_session';
const COOKIE_PATH = '/demo';
const SESSION_TTL_MS = 8 * 60 * 60 * 1000;
const MAX_SESSIONS = 1_000;
const MAX_LOGGED_LOGOUTS = 1_000;
const SCOPE = 'openid profile phone';
const PROMPTS = new Set(['login', 'consent', 'select_account', 'none']);
// Only plain error codes from an unverified callback are echoed, so the page cannot be used for arbitrary text.
const ERROR_CODE = /^[a-z0-9_.-]{1,64}$/i;

const backchannelLogouts: { sid?: string; sub?: string; at: string }[] = [];

/** Every back-channel logout accepted by any demo instance in this process, oldest first (for tests). */
export function demoBackchannelLogouts(): readonly { sid?: string; sub?: string; at: string }[] {
  return backchannelLogouts.slice();
}

/**
 * A demo relying party of this very provider, under `/demo`. It is an ordinary OIDC client
 * (openid-client), so it reaches the provider over HTTP at its public issuer URL.
 */
export async function registerDemoRoutes(app: FastifyInstance, options: DemoOptions): Promise<void> {
  await app.register(async (scope) => demoPlugin(scope, options), { prefix: '/demo' });
}

async function demoPlugin(scope: FastifyInstance, options: DemoOptions) {
  if (!scope.hasDecorator('parseCookie')) await scope.register(cookie, { secret: options.cookieSecret });

  // The development CA's CRL (src/bootstrap/demo-ca.ts), fetched by the server's own revocation check.
  scope.get('/ca/issuing.crl', async (_request, reply) =>
    reply.type('application/pkix-crl').header('cache-control', 'public, max-age=3600').send(demoCaCrl()));

  const base = options.issuer.replace(/\/+$/, '');
  const redirectUri = `${base}/demo/callback`;
  const postLogoutRedirectUri = `${base}/demo/`;
  const secureCookies = new URL(base).protocol === 'https:';
  const sessions = new Map<string, DemoSession>();
  const cookieOptions = { path: COOKIE_PATH, httpOnly: true, sameSite: 'lax', secure: secureCookies, signed: true } as const;
  const relyingParty = createRelyingParty({
    issuer: base,
    clientId: options.clientId,
    clientSecret: async () => options.clientSecret,
    redirectUri,
    scope: SCOPE,
    loginCookie: LOGIN_COOKIE,
    cookieOptions,
  });

  let jwks: JWTVerifyGetKey | undefined;
  const verifyLogoutToken = createLogoutTokenVerifier({
    audience: options.clientId,
    issuer: async () => (await relyingParty.getConfiguration()).serverMetadata().issuer,
    keys: async () => {
      if (jwks) return jwks;
      const jwksUri = (await relyingParty.getConfiguration()).serverMetadata().jwks_uri;
      if (!jwksUri) throw new LogoutTokenError('provider metadata has no jwks_uri');
      jwks = createRemoteJWKSet(new URL(jwksUri));
      return jwks;
    },
  });


  function currentSession(request: FastifyRequest): { id: string; session: DemoSession } | undefined {
    const id = readSignedCookie(request, SESSION_COOKIE);
    const session = id ? sessions.get(id) : undefined;
    if (!id || !session) return undefined;
    if (Date.now() - session.createdAt > SESSION_TTL_MS) {
      sessions.delete(id);
      return undefined;
    }
    return { id, session };
  }

  function storeSession(session: DemoSession): string {
    const now = Date.now();
    for (const [id, existing] of sessions) {
      if (now - existing.createdAt <= SESSION_TTL_MS && sessions.size < MAX_SESSIONS) break;
      sessions.delete(id);
    }
    const id = randomBytes(32).toString('base64url');
    sessions.set(id, session);
    return id;
  }

  function sendHtml(reply: FastifyReply, status: number, html: string) {
    return reply.status(status).type('text/html; charset=utf-8').send(html);
  }

  function sendUnavailable(request: FastifyRequest, reply: FastifyReply, error: unknown) {
    request.log.warn({ err: error }, 'demo relying party could not reach the provider');
    return sendHtml(reply, 502, errorPage('temporarily_unavailable', '无法连接身份认证服务 / The identity provider could not be reached.'));
  }

  /** Maps openid-client failures to an OAuth error code for the error page; never a stack trace. */
  function sendOAuthFailure(request: FastifyRequest, reply: FastifyReply, error: unknown) {
    if (error instanceof client.AuthorizationResponseError || error instanceof client.ResponseBodyError) {
      return sendHtml(reply, 400, errorPage(error.error, error.error_description));
    }
    if (error instanceof client.WWWAuthenticateChallengeError) {
      const challenge = error.cause[0]?.parameters;
      return sendHtml(reply, 400, errorPage(challenge?.error ?? 'invalid_token', challenge?.error_description));
    }
    if (error instanceof client.ClientError) {
      const detail = error.cause instanceof Error ? error.cause.message : error.message;
      return sendHtml(reply, 400, errorPage(error.code ?? 'invalid_response', detail));
    }
    return sendUnavailable(request, reply, error);
  }

  scope.addHook('onRequest', async (_request, reply) => {
    reply.header('content-security-policy', DEMO_CSP);
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });

  scope.get('/', async (request, reply) => {
    const current = currentSession(request);
    if (!current) return sendHtml(reply, 200, loggedOutPage());
    const { session } = current;
    if (session.endedByBackchannelAt) return sendHtml(reply, 200, loggedOutPage({ endedByBackchannelAt: session.endedByBackchannelAt }));
    return sendHtml(reply, 200, loggedInPage({ claims: session.claims, userinfo: session.userinfo }));
  });

  scope.get<{ Querystring: { prompt?: unknown } }>('/login', async (request, reply) => {
    let config: client.Configuration;
    try {
      config = await relyingParty.getConfiguration();
    } catch (error) {
      return sendUnavailable(request, reply, error);
    }
    const { prompt } = request.query;
    const authorizationUrl = await relyingParty.startLogin(reply, config, typeof prompt === 'string' && PROMPTS.has(prompt) ? { prompt } : {});
    return reply.redirect(authorizationUrl.href, 302);
  });

  scope.get<{ Querystring: { error?: unknown } }>('/callback', async (request, reply) => {
    const transaction = relyingParty.takeTransaction(request, reply);
    if (!transaction) {
      // Without our state we cannot tie the response to a login we started; only a well-formed code is shown.
      const reported = request.query.error;
      const code = typeof reported === 'string' && ERROR_CODE.test(reported) ? reported : 'invalid_state';
      return sendHtml(reply, 400, errorPage(code, '登录请求已过期或不是由本应用发起 / The login request expired or was not started by this application.'));
    }

    let config: client.Configuration;
    try {
      config = await relyingParty.getConfiguration();
    } catch (error) {
      return sendUnavailable(request, reply, error);
    }

    let session: DemoSession;
    try {
      const { claims, idToken, accessToken } = await relyingParty.redeemCode(config, request, transaction);
      const userinfo = await client.fetchUserInfo(config, accessToken, claims.sub);
      session = {
        claims,
        userinfo,
        idToken,
        ...(typeof claims.sid === 'string' ? { sid: claims.sid } : {}),
        createdAt: Date.now(),
      };
    } catch (error) {
      return sendOAuthFailure(request, reply, error);
    }

    reply.setCookie(SESSION_COOKIE, storeSession(session), cookieOptions);
    return reply.redirect('/demo/', 303);
  });

  scope.get('/logout', async (request, reply) => {
    const current = currentSession(request);
    if (current) sessions.delete(current.id);
    reply.clearCookie(SESSION_COOKIE, { path: COOKIE_PATH });

    let config: client.Configuration;
    try {
      config = await relyingParty.getConfiguration();
    } catch (error) {
      return sendUnavailable(request, reply, error);
    }
    const parameters: Record<string, string> = { post_logout_redirect_uri: postLogoutRedirectUri };
    if (current) parameters.id_token_hint = current.session.idToken;
    return reply.redirect(client.buildEndSessionUrl(config, parameters).href, 302);
  });

  scope.post('/backchannel-logout', async (request, reply) => {
    const fail = (description: string) => reply.status(400).send({ error: 'invalid_request', error_description: description });

    const contentType = request.headers['content-type'] ?? '';
    const body = request.body as Record<string, unknown> | undefined;
    const token = body?.logout_token;
    if (!contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) return fail('expected an application/x-www-form-urlencoded body');
    if (typeof token !== 'string' || token === '') return fail('missing logout_token');

    let subject: LogoutTokenSubject;
    try {
      subject = await verifyLogoutToken(token);
    } catch (error) {
      if (error instanceof LogoutTokenError) return fail(error.message);
      request.log.warn({ err: error }, 'demo back-channel logout could not be verified');
      return fail('logout_token could not be verified');
    }

    const at = new Date().toISOString();
    for (const session of sessions.values()) {
      if (subject.sid !== undefined && session.sid !== subject.sid) continue;
      if (subject.sub !== undefined && session.claims.sub !== subject.sub) continue;
      session.endedByBackchannelAt ??= at;
    }
    backchannelLogouts.push({ ...subject, at });
    if (backchannelLogouts.length > MAX_LOGGED_LOGOUTS) backchannelLogouts.shift();
    return reply.status(200).send();
  });
}
