// One complete browser-style certificate login (signed challenge) over real HTTP, as a relying party, a person
// and the CA's certificate assistant drive it. The password counterpart is ./login-flow.ts.
import { performance } from 'node:perf_hooks';
import { sm2 } from 'sm-crypto-v2';
import { SM2_DEFAULT_USER_ID } from '../../src/pki/gm-engine.ts';
import { fail, send, type CookieJar } from './browser.ts';
import { authorizationRequest, codeAtCallback, exchangeCode, type LoginTarget } from './relying-party.ts';

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

/** The refusal a certificate page shows (its alert), rather than the start of the page. */
const alertOf = (html: string) => /role="alert">([^<]+)</.exec(html)?.[1];

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
  const jar: CookieJar = new Map();
  const request = authorizationRequest(target);
  let signMs = 0;
  let stage: 'login page' | 'certificate page' | 'after signing' = 'login page';
  const code = await codeAtCallback(jar, target, request, async (response, here) => {
    if (response.status !== 200 || stage === 'after signing') await fail(stage, response, alertOf);
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
      if (response.status !== 303) await fail('POST certificate/signed', response, alertOf);
      stage = 'after signing';
    }
    return { response, here };
  });
  const tokens = await exchangeCode(target, request, code);
  const claims = idTokenClaims(tokens.idToken);
  if (!claims.sub) throw new Error('ID token without sub');
  const amr = claims.amr ?? [];
  if (claims.acr !== expected.acr || amr.join(' ') !== expected.amr.join(' ')) {
    throw new Error(`ID token acr ${claims.acr} amr [${amr.join(', ')}], expected ${expected.acr} [${expected.amr.join(', ')}]`);
  }
  return { sub: claims.sub, acr: claims.acr, amr, signMs };
}
