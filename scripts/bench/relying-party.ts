// The relying party's side of a benchmarked login: the authorization request (PKCE S256), the issuer's redirects
// back to the callback, and the code exchange (client_secret_basic).
import { createHash, randomBytes } from 'node:crypto';
import { fail, send, type CookieJar } from './browser.ts';

export type LoginTarget = {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  scope: string;
  /** Adds prompt=consent and accepts the consent page (needed for offline_access, i.e. a refresh token). */
  consent?: boolean;
};

export type AuthorizationRequest = { url: URL; state: string; verifier: string };

export type IssuedTokens = { accessToken: string; idToken: string; refreshToken?: string };

/** A page on the way to the callback: what the person does there, answered with the next response and its URL. */
export type PageStep = (response: Response, here: URL) => Promise<{ response: Response; here: URL }>;

const MAX_HOPS = 8;

export function authorizationRequest(target: LoginTarget): AuthorizationRequest {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  const url = new URL('/auth', target.issuer);
  url.search = new URLSearchParams({
    client_id: target.clientId, redirect_uri: target.redirectUri, response_type: 'code', scope: target.scope, state,
    nonce: randomBytes(12).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    ...(target.consent ? { prompt: 'consent' } : {}),
  }).toString();
  return { url, state, verifier };
}

/**
 * Sends the authorization request and follows the issuer's redirects until one leads to the redirect URI; every page
 * on the way goes to `onPage`. Returns the authorization code, once the callback's state is checked.
 */
export async function codeAtCallback(jar: CookieJar, target: LoginTarget, request: AuthorizationRequest, onPage: PageStep): Promise<string> {
  let response = await send(jar, request.url);
  let here = request.url;
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
      if (next.origin !== request.url.origin) throw new Error(`redirected off the issuer to ${next.origin}`);
      response = await send(jar, next);
      here = next;
      continue;
    }
    ({ response, here } = await onPage(response, here));
  }
  if (!callback) throw new Error('never reached the callback');
  const code = callback.searchParams.get('code');
  if (!code || callback.searchParams.get('state') !== request.state) throw new Error(`bad callback: ${callback.search.slice(0, 160)}`);
  return code;
}

/** POST /token (authorization_code) from the back channel; the answer must hold an access token and an ID token. */
export async function exchangeCode(target: LoginTarget, request: AuthorizationRequest, code: string): Promise<IssuedTokens> {
  const basic = Buffer.from(`${encodeURIComponent(target.clientId)}:${encodeURIComponent(target.clientSecret)}`).toString('base64');
  const token = await send(new Map(), new URL('/token', target.issuer), {
    form: { grant_type: 'authorization_code', code, redirect_uri: target.redirectUri, code_verifier: request.verifier },
    headers: { authorization: `Basic ${basic}` },
  });
  if (token.status !== 200) await fail('POST /token', token);
  const tokens = await token.json() as { access_token?: string; refresh_token?: string; id_token?: string };
  if (!tokens.access_token || !tokens.id_token) throw new Error('token response without access_token or id_token');
  return { accessToken: tokens.access_token, idToken: tokens.id_token, refreshToken: tokens.refresh_token };
}
