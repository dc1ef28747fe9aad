// One complete browser-style password login over real HTTP, as a relying party and a person would drive it.
import { fail, send, type CookieJar } from './browser.ts';
import { authorizationRequest, codeAtCallback, exchangeCode, type LoginTarget } from './relying-party.ts';

export type LoginOutcome = { sub: string; accessToken: string; refreshToken?: string };

function formOf(html: string, suffix: string): { action: string; csrf: string } {
  for (const match of html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)) {
    if (!match[1].endsWith(suffix)) continue;
    const csrf = /name="csrf" value="([^"]+)"/.exec(match[2])?.[1];
    if (csrf) return { action: match[1], csrf };
  }
  throw new Error(`no ${suffix} form on the page`);
}

/**
 * GET /auth (PKCE S256) → login page → POST identifier and password → the 303s back to the callback →
 * POST /token (authorization_code, client_secret_basic) → GET /me. A fresh cookie jar each time: every
 * login is a new browser, so no SSO session short-cuts the password check.
 */
export async function passwordLogin(target: LoginTarget, identifier: string, password: string): Promise<LoginOutcome> {
  const jar: CookieJar = new Map();
  const request = authorizationRequest(target);
  let loggedIn = false;
  const code = await codeAtCallback(jar, target, request, async (response, here) => {
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
    return { response, here };
  });
  const tokens = await exchangeCode(target, request, code);

  const userinfo = await send(new Map(), new URL('/me', target.issuer), { headers: { authorization: `Bearer ${tokens.accessToken}` } });
  if (userinfo.status !== 200) await fail('GET /me', userinfo);
  const claims = await userinfo.json() as { sub?: string };
  if (!claims.sub) throw new Error('userinfo without sub');
  return { sub: claims.sub, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken };
}
