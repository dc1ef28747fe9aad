// One complete browser-style password login over real HTTP, as a relying party and a person would drive it.
import { createHash, randomBytes } from 'node:crypto';

export type LoginTarget = {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  scope: string;
  /** Adds prompt=consent and accepts the consent page (needed for offline_access, i.e. a refresh token). */
  consent?: boolean;
};

export type LoginOutcome = { sub: string; accessToken: string; refreshToken?: string };

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

async function send(jar: Jar, url: URL, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}) {
  const response = await fetch(url, {
    method: init.method ?? (init.form ? 'POST' : 'GET'),
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

function formOf(html: string, suffix: string): { action: string; csrf: string } {
  for (const match of html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)) {
    if (!match[1].endsWith(suffix)) continue;
    const csrf = /name="csrf" value="([^"]+)"/.exec(match[2])?.[1];
    if (csrf) return { action: match[1], csrf };
  }
  throw new Error(`no ${suffix} form on the page`);
}

async function fail(step: string, response: Response): Promise<never> {
  const body = (await response.text().catch(() => '')).replace(/\s+/g, ' ').slice(0, 160);
  throw new Error(`${step}: HTTP ${response.status} ${body}`);
}

/**
 * GET /auth (PKCE S256) → login page → POST identifier and password → the 303s back to the callback →
 * POST /token (authorization_code, client_secret_basic) → GET /me. A fresh cookie jar each time: every
 * login is a new browser, so no SSO session short-cuts the password check.
 */
export async function passwordLogin(target: LoginTarget, identifier: string, password: string): Promise<LoginOutcome> {
  const jar: Jar = new Map();
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  const authorize = new URL('/auth', target.issuer);
  authorize.search = new URLSearchParams({
    client_id: target.clientId, redirect_uri: target.redirectUri, response_type: 'code', scope: target.scope, state,
    nonce: randomBytes(12).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    ...(target.consent ? { prompt: 'consent' } : {}),
  }).toString();

  let response = await send(jar, authorize);
  let here = authorize;
  let loggedIn = false;
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
    if (response.status !== 200) await fail(loggedIn ? 'after login' : 'login page', response);
    const html = await response.text();
    if (!loggedIn) {
      const form = formOf(html, '/login');
      here = new URL(form.action, here);
      response = await send(jar, here, { form: { csrf: form.csrf, identifier, password } });
      if (response.status !== 303) await fail('POST login', response);
      loggedIn = true;
    } else if (target.consent) {
      const form = formOf(html, '/consent');
      here = new URL(form.action, here);
      response = await send(jar, here, { form: { csrf: form.csrf } });
    } else {
      throw new Error('unexpected page after login (consent page for a require_consent=false client?)');
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
  const tokens = await token.json() as { access_token?: string; refresh_token?: string; id_token?: string };
  if (!tokens.access_token || !tokens.id_token) throw new Error('token response without access_token or id_token');

  const userinfo = await send(new Map(), new URL('/me', target.issuer), { headers: { authorization: `Bearer ${tokens.access_token}` } });
  if (userinfo.status !== 200) await fail('GET /me', userinfo);
  const claims = await userinfo.json() as { sub?: string };
  if (!claims.sub) throw new Error('userinfo without sub');
  return { sub: claims.sub, accessToken: tokens.access_token, refreshToken: tokens.refresh_token };
}
