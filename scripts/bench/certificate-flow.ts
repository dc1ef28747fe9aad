// One complete browser-style certificate login (signed challenge) over real HTTP, as a relying party, a person
// and the CA's certificate assistant drive it. The password counterpart is ./login-flow.ts.
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { sm2 } from 'sm-crypto-v2';
import { SM2_DEFAULT_USER_ID } from '../../src/pki/gm-engine.ts';
import type { LoginTarget } from './login-flow.ts';

/** What the load generator needs to sign in as one citizen; structured-cloneable (it goes to a worker thread). */
export type CitizenKey = {
  idNumber: string;
  name: string;
  /** The signing certificate, DER, Base64 (the form's `chain` field). */
  chainBase64: string;
  privateKeyHex: string;
  /** Uncompressed point, hex (saves sm-crypto-v2 deriving it for every signature). */
  publicKeyHex: string;
};

export type CertificateLoginOutcome = { sub: string; acr: string; amr: string[]; signMs: number };

const REQUEST_TIMEOUT_MS = 15_000;
const MAX_HOPS = 8;

type Jar = Map<string, string>;

function store(jar: Jar, response: Response) {
  for (const header of response.headers.getSetCookie()) {
    const [pair, ...attributes] = header.split(';');
    const index = pair.indexOf('=');
    const name = pair.slice(0, index).trim();
    const value = pair.slice(index + 1).trim();
    const expired = value === '' || attributes.some((a) => /^\s*(max-age=0|expires=thu, 01 jan 1970)/i.test(a));
    if (expired) jar.delete(name);
    else jar.set(name, value);
  }
}

async function send(jar: Jar, url: URL, init: { form?: Record<string, string>; headers?: Record<string, string> } = {}) {
  const response = await fetch(url, {
    method: init.form ? 'POST' : 'GET',
    redirect: 'manual',
    headers: {
      ...(jar.size > 0 ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
      ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      ...init.headers,
    },
    body: init.form ? new URLSearchParams(init.form).toString() : undefined,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  store(jar, response);
  return response;
}

async function fail(step: string, response: Response): Promise<never> {
  const text = await response.text().catch(() => '');
  const alert = /role="alert">([^<]+)</.exec(text)?.[1];
  throw new Error(`${step}: HTTP ${response.status} ${alert ?? text.replace(/\s+/g, ' ').slice(0, 160)}`);
}

const unescapeHtml = (text: string) =>
  text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

/** The signed-challenge form of the certificate page: its action, CSRF token and the challenge to sign. */
function certificateForm(html: string): { action: string; csrf: string; challenge: string } {
  const form = /<form[^>]*action="([^"]+\/certificate\/signed)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  const csrf = form && /name="csrf" value="([^"]+)"/.exec(form[2])?.[1];
  const challenge = form && /<textarea id="f-challenge" name="challenge"[^>]*>([^<]*)<\/textarea>/.exec(form[2])?.[1];
  if (!form || !csrf || challenge === undefined || challenge === null) throw new Error('no signed-challenge form on the certificate page');
  return { action: form[1], csrf, challenge: unescapeHtml(challenge) };
}

/** SM2-with-SM3 (GM/T 0009 default ID) over the challenge (text: its UTF-8 bytes), DER, as a USB-key middleware returns it. */
export function signChallenge(key: Pick<CitizenKey, 'privateKeyHex' | 'publicKeyHex'>, challenge: string | Uint8Array): Uint8Array {
  const message = typeof challenge === 'string' ? new TextEncoder().encode(challenge) : challenge;
  const signature = sm2.doSignature(message, key.privateKeyHex, {
    der: true, hash: true, publicKey: key.publicKeyHex, userId: SM2_DEFAULT_USER_ID,
  });
  return new Uint8Array(Buffer.from(signature, 'hex'));
}

function idTokenClaims(idToken: string): { sub?: string; acr?: string; amr?: string[] } {
  // The token comes straight from our own token endpoint over the back channel; its signature is not the subject here.
  return JSON.parse(Buffer.from(idToken.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

/**
 * GET /auth (PKCE S256) → login page → its certificate tab → sign the page's challenge → POST
 * /interaction/:uid/certificate/signed → the 303s back to the callback → POST /token (authorization_code,
 * client_secret_basic). 6 HTTP requests, like the password login's. A fresh cookie jar each time (a new browser,
 * so no SSO session short-cuts the certificate check). The ID token must name the citizen's level and methods.
 */
export async function certificateLogin(target: LoginTarget, citizen: CitizenKey, expected: { acr: string; amr: readonly string[] }): Promise<CertificateLoginOutcome> {
  const jar: Jar = new Map();
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  const authorize = new URL('/auth', target.issuer);
  authorize.search = new URLSearchParams({
    client_id: target.clientId, redirect_uri: target.redirectUri, response_type: 'code', scope: target.scope, state,
    nonce: randomBytes(12).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  }).toString();

  let response = await send(jar, authorize);
  let here = authorize;
  let signMs = 0;
  let stage: 'login page' | 'certificate page' | 'after signing' = 'login page';
  let callback: URL | undefined;
  for (let hop = 0; hop < MAX_HOPS && !callback; hop++) {
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      const next = new URL(location, here);
      if (next.href.startsWith(target.redirectUri)) {
        callback = next;
        break;
      }
      if (next.origin !== authorize.origin) throw new Error(`redirected off the issuer to ${next.origin}`);
      response = await send(jar, next);
      here = next;
      continue;
    }
    if (response.status !== 200 || stage === 'after signing') await fail(stage, response);
    const html = await response.text();
    if (stage === 'login page') {
      const tab = /href="(\/interaction\/[^"]+\/certificate)"/.exec(html)?.[1];
      if (!tab) throw new Error('the login page offers no certificate login');
      here = new URL(tab, here);
      response = await send(jar, here);
      stage = 'certificate page';
    } else {
      const form = certificateForm(html);
      const started = performance.now();
      const signature = Buffer.from(signChallenge(citizen, form.challenge)).toString('base64');
      signMs = performance.now() - started;
      here = new URL(form.action, here);
      response = await send(jar, here, { form: { csrf: form.csrf, challenge: form.challenge, signature, chain: citizen.chainBase64 } });
      if (response.status !== 303) await fail('POST certificate/signed', response);
      stage = 'after signing';
    }
  }
  if (!callback) throw new Error('never reached the callback');
  const code = callback.searchParams.get('code');
  if (!code || callback.searchParams.get('state') !== state) throw new Error(`bad callback: ${callback.search.slice(0, 160)}`);

  const basic = Buffer.from(`${encodeURIComponent(target.clientId)}:${encodeURIComponent(target.clientSecret)}`).toString('base64');
  const token = await send(new Map(), new URL('/token', target.issuer), {
    form: { grant_type: 'authorization_code', code, redirect_uri: target.redirectUri, code_verifier: verifier },
    headers: { authorization: `Basic ${basic}` },
  });
  if (token.status !== 200) await fail('POST /token', token);
  const tokens = await token.json() as { access_token?: string; id_token?: string };
  if (!tokens.access_token || !tokens.id_token) throw new Error('token response without access_token or id_token');
  const claims = idTokenClaims(tokens.id_token);
  if (!claims.sub) throw new Error('ID token without sub');
  const amr = claims.amr ?? [];
  if (claims.acr !== expected.acr || amr.join(' ') !== expected.amr.join(' ')) {
    throw new Error(`ID token acr ${claims.acr} amr [${amr.join(', ')}], expected ${expected.acr} [${expected.amr.join(', ')}]`);
  }
  return { sub: claims.sub, acr: claims.acr, amr, signMs };
}
