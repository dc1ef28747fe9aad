import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Fastify from 'fastify';
import * as client from 'openid-client';
import type { Page, Response } from 'playwright-core';
import t from 'tap';
import { CERTIFICATE_ERROR_MESSAGES, type CertificateRefusal } from '../../src/authn/certificate/errors.ts';
import { startTestServer } from '../helpers/app.ts';
import { chromiumSkip, launchChromium, newContext, screenshotDir, visibleText, watchPageProblems } from '../helpers/browser.ts';
import { buildCitizen, buildUnregisteredIdNumber } from '../helpers/builders.ts';
import { base64, registerCa } from '../helpers/certificates.ts';
import { latestCode } from '../helpers/oidc.ts';
import { serveFiles } from '../helpers/revocation-fixtures.ts';
import { createTestPki, type TestCertificate, type TestKeyHolder } from '../helpers/test-pki.ts';

type Teardown = { teardown(fn: () => unknown): void };
type SignerResult = { signature: string; chain: string[] };

const POLICY_L4 = '1.2.156.99999.1.4';
const CHALLENGE_SHAPE = /^GOV-IDP-CERT-LOGIN\/1\nissuer=(\S+)\ninteraction=([A-Za-z0-9_-]+)\nnonce=[A-Za-z0-9_-]{43}\nexpires=\S+$/;

const isDocument = (path: RegExp, method = 'GET') => (response: Response) =>
  response.request().isNavigationRequest() && response.request().method() === method && path.test(new URL(response.url()).pathname);

const messageOf = (refusal: CertificateRefusal) => CERTIFICATE_ERROR_MESSAGES[refusal]['zh-CN'];

/**
 * A running provider with an SM2 CA registered (root + issuing CA, policy → L4, hardware key, PIN), its CRL
 * served over HTTP, a relying party on another loopback port and Chromium.
 */
async function setUp(t: Teardown) {
  const { runtime, issuer } = await startTestServer(t);
  const pki = createTestPki(t);
  const files = await serveFiles(t);
  const root = pki.root({ name: 'SM2 Root', keyType: 'sm2' });
  const issuing = root.intermediate({ name: 'SM2 Issuing CA', pathLen: 0 });
  await registerCa(runtime, {
    name: 'SM2 CA', anchors: [root], intermediates: [issuing], policyLevels: { [POLICY_L4]: 'L4' },
    keyProtection: 'hardware', pinRequired: true, revocationMode: 'crl',
  });
  const leafFor = (person: { name: string; idNumber: string }) => {
    const leaf = issuing.leaf({ name: person.name, keyType: 'sm2', idNumber: person.idNumber, policies: [POLICY_L4], crlUrl: files.url('/issuing.crl') });
    files.set('/issuing.crl', issuing.crlDer({ nextUpdateHours: 1 }));
    return leaf;
  };

  // The relying party: a page on a loopback port showing the query string it was called back with.
  const rp = Fastify({ logger: false });
  rp.get('/cb', async (request, reply) => reply.header('content-type', 'text/html; charset=utf-8')
    .send('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>RP callback</title><link rel="icon" href="data:,"></head><body><p id="back">back at the portal</p></body></html>'));
  await rp.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => rp.close());
  const rpOrigin = `http://127.0.0.1:${(rp.server.address() as AddressInfo).port}`;
  const redirectUri = `${rpOrigin}/cb`;

  async function portal(clientId: string, clientName: string, minLevel: string) {
    const registered = await runtime.clients.create({
      client_id: clientId, client_name: clientName, redirect_uris: [redirectUri], grant_types: ['authorization_code'], require_consent: false,
    });
    await runtime.policies.set({ clientId, minLevel }, { name: 'test' });
    const config = await client.discovery(new URL(issuer), clientId, registered.client_secret!, client.ClientSecretBasic(registered.client_secret!), {
      execute: [client.allowInsecureRequests],
    });
    return {
      async start() {
        const verifier = client.randomPKCECodeVerifier();
        const state = client.randomState();
        const url = client.buildAuthorizationUrl(config, {
          redirect_uri: redirectUri, scope: 'openid', state, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
        });
        return { url: url.toString(), verifier, state };
      },
      /** The relying party redeems the code it was called back with; openid-client checks the ID token. */
      async claims(callbackUrl: string, started: { verifier: string; state: string }) {
        const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), { pkceCodeVerifier: started.verifier, expectedState: started.state });
        return tokens.claims()!;
      },
    };
  }

  const browser = await launchChromium(t);
  const shots = screenshotDir(t, 'idp-e2e-certificate-');
  return { runtime, issuer, issuing, files, leafFor, portal, rpOrigin, browser, shots };
}

/**
 * The CA's certificate assistant as a browser extension provides it: `window.govCertSigner.sign(challenge)`
 * in the page, backed by the USB key (here: the test key in Node). `cancelNext` stands for the person
 * cancelling the PIN dialog.
 */
async function installUsbKey(page: Page, key: { holder: TestKeyHolder; chain: TestCertificate[] }) {
  const usbKey = { ...key, asked: [] as string[], cancelNext: false };
  await page.exposeFunction('__signWithUsbKey', (challenge: string): SignerResult => {
    usbKey.asked.push(challenge);
    if (usbKey.cancelNext) {
      usbKey.cancelNext = false;
      throw new Error('PIN entry cancelled');
    }
    return {
      signature: base64(usbKey.holder.sign(new TextEncoder().encode(challenge))),
      chain: [usbKey.holder, ...usbKey.chain].map((c) => base64(c.certDer)),
    };
  });
  await page.context().addInitScript(() => {
    const w = window as unknown as { __signWithUsbKey(c: string): Promise<SignerResult>; govCertSigner: { sign(c: string): Promise<SignerResult> } };
    w.govCertSigner = { sign: (challenge) => w.__signWithUsbKey(challenge) };
  });
  return usbKey;
}

/** Waits for an element; on failure says where the browser is and what it shows. */
async function expectVisible(page: Page, selector: string, what: string) {
  try {
    await page.locator(selector).first().waitFor();
  } catch (error) {
    throw new Error(`expected ${what} (${selector}), but the browser is at ${page.url()} showing: ${await visibleText(page)}`, { cause: error });
  }
}

async function backAtPortal(page: Page, rpOrigin: string, action: () => Promise<unknown>) {
  await Promise.all([page.waitForURL((url) => url.origin === rpOrigin && url.pathname === '/cb'), action()]).catch(async (error: unknown) => {
    throw new Error(`expected the relying party's callback, but the browser is at ${page.url()} showing: ${await visibleText(page)}`, { cause: error });
  });
  const landed = new URL(page.url());
  if (landed.searchParams.get('error')) throw new Error(`the relying party got an error: ${landed.search}`);
  return landed.toString();
}

const cspViolations = (problems: string[]) => problems.filter((text) => /content security policy/i.test(text));

t.test('an SM2 USB key signs the challenge through the certificate assistant: L4 with hwk + pin, in a real browser', { skip: chromiumSkip }, async (t) => {
  const { runtime, issuer, issuing, files, leafFor, portal, rpOrigin, browser, shots } = await setUp(t);
  t.comment(`screenshots: ${shots}`);
  const tax = await portal('tax-l4', '电子税务局', 'L4');
  const person = { name: '张三', idNumber: buildUnregisteredIdNumber() };
  const leaf = leafFor(person);

  const context = await newContext(browser, { width: 1000, height: 900 });
  const page = await context.newPage();
  const problems = watchPageProblems(page, { responses: true, locations: true });
  const usbKey = await installUsbKey(page, { holder: leaf, chain: [issuing] });

  const started = await tax.start();
  await page.goto(started.url);
  await expectVisible(page, '#f-identifier', 'the login page');
  t.equal((await page.locator('#tab-certificate').textContent())?.trim(), '数字证书登录', 'the login page offers the certificate tab');
  const [certificateResponse] = await Promise.all([
    page.waitForResponse(isDocument(/^\/interaction\/[^/]+\/certificate$/)),
    page.locator('#tab-certificate').click(),
  ]);
  await expectVisible(page, '#f-challenge', 'the certificate page');
  const csp = certificateResponse.headers()['content-security-policy'] ?? '';
  t.match(csp, /(^|;\s*)script-src 'self'(;|$)/, `the certificate page allows our own script only (${csp})`);
  t.notMatch(csp, /unsafe-inline|unsafe-eval/, 'and no inline script');
  t.equal(await page.locator('#tab-certificate').getAttribute('aria-current'), 'page', 'the certificate tab is the current one');

  const challenge = await page.locator('#f-challenge').inputValue();
  const shape = CHALLENGE_SHAPE.exec(challenge);
  t.ok(shape, `the page shows the server challenge (${JSON.stringify(challenge)})`);
  t.equal(shape?.[1], issuer, 'naming this issuer');
  t.equal(`/interaction/${shape?.[2]}/certificate`, new URL(page.url()).pathname, 'and this interaction');
  t.ok(await page.locator('#certificate-sign').isVisible(), 'with a certificate assistant the sign button shows');
  t.ok(await page.locator('#certificate-no-signer').isHidden(), 'and the "no assistant" notice does not');
  await page.screenshot({ path: join(shots, 'certificate.png'), fullPage: true });

  // The person cancels the PIN dialog: the page stays, says so and lets them try again.
  usbKey.cancelNext = true;
  await page.locator('#certificate-sign').click();
  await expectVisible(page, '#certificate-sign-failed', 'the notice after a cancelled signature');
  t.ok(await page.locator('#certificate-no-signer').isHidden(), 'not the "no assistant" notice: the assistant is there');
  t.ok(await page.locator('#certificate-sign').isEnabled(), 'the sign button works again after a cancelled PIN entry');
  t.match(new URL(page.url()).pathname, /\/certificate$/, 'still on the certificate page');

  const callback = await backAtPortal(page, rpOrigin, () => page.locator('#certificate-sign').click());
  t.same(usbKey.asked, [challenge, challenge], 'the assistant was asked to sign exactly the challenge the page shows');
  const claims = await tax.claims(callback, started);
  t.equal(claims.acr, `${issuer}/acr/L4`, 'ID token acr is L4');
  t.same(claims.amr, ['hwk', 'pin'], 'amr: hardware key with PIN');
  const account = await runtime.accounts.findById(claims.sub);
  t.equal(account?.idNumber, person.idNumber, 'the account of the ID number in the certificate');
  t.ok(files.count('/issuing.crl') >= 1, 'the CRL was fetched over HTTP');

  t.same(cspViolations(problems), [], 'no Content-Security-Policy violations');
  t.same(problems, [], 'no console errors, page errors or failed loads');
});

t.test('without a certificate assistant: the manual form, a tampered signature, a replayed challenge, then success', { skip: chromiumSkip }, async (t) => {
  const { issuer, issuing, leafFor, portal, rpOrigin, browser, shots } = await setUp(t);
  const tax = await portal('tax-l4', '电子税务局', 'L4');
  const leaf = leafFor({ name: '李四', idNumber: buildUnregisteredIdNumber() });
  const signatureOver = (text: string) => base64(leaf.sign(new TextEncoder().encode(text)));
  const chain = [leaf, issuing].map((c) => base64(c.certDer)).join('\n');

  const context = await newContext(browser, { width: 1000, height: 900 });
  const page = await context.newPage();
  const problems = watchPageProblems(page, { locations: true });

  const started = await tax.start();
  await page.goto(started.url);
  await expectVisible(page, '#tab-certificate', 'the login page');
  await page.locator('#tab-certificate').click();
  await expectVisible(page, '#certificate-no-signer', 'the "no assistant" notice');
  t.ok(await page.locator('#certificate-sign').isHidden(), 'no sign button without an assistant');
  t.ok(await page.locator('#f-signature').isHidden(), 'the manual form starts folded');
  await page.locator('#certificate-manual summary').click();
  t.ok(await page.locator('#f-signature').isVisible(), 'unfolded, it shows the signature field');
  t.ok(await page.getByLabel('证书链（签名证书在前，Base64 DER 或 PEM）').isVisible(), 'and the chain field, by its label');
  await page.screenshot({ path: join(shots, 'certificate-manual.png'), fullPage: true });

  /** A kiosk or client SDK: reads the challenge off the page, signs it elsewhere and fills in the form. */
  async function submitManually(fields: { signature: string; chain: string }) {
    await page.locator('#f-signature').fill(fields.signature);
    await page.locator('#f-chain').fill(fields.chain);
    const [response] = await Promise.all([
      page.waitForResponse(isDocument(/\/certificate\/signed$/, 'POST')),
      page.locator('#certificate-manual button[type=submit]').click(),
    ]);
    return response;
  }

  // A tampered signature: refused with the message for bad_signature, and a fresh challenge to retry with.
  const first = await page.locator('#f-challenge').inputValue();
  t.match(first, CHALLENGE_SHAPE, 'a challenge is shown');
  const tampered = Buffer.from(signatureOver(first), 'base64');
  tampered[tampered.length - 3] ^= 0x01;
  const refused = await submitManually({ signature: tampered.toString('base64'), chain });
  t.equal(refused.status(), 401, 'the tampered signature is refused');
  await expectVisible(page, 'p.error[role=alert]:not([hidden])', 'the error message');
  t.equal((await page.locator('p.error[role=alert]:not([hidden])').textContent())?.trim(), messageOf('bad_signature'), 'the page says the signature did not verify');
  await page.screenshot({ path: join(shots, 'certificate-bad-signature.png'), fullPage: true });
  const second = await page.locator('#f-challenge').inputValue();
  t.match(second, CHALLENGE_SHAPE, 'the page shows a challenge again');
  t.not(second, first, 'a fresh one');
  t.equal(CHALLENGE_SHAPE.exec(second)?.[2], CHALLENGE_SHAPE.exec(first)?.[2], 'for the same interaction');
  t.ok(await page.locator('#certificate-no-signer').isVisible(), 'still without an assistant after the error');

  // The first challenge was used up: a correct signature over it is refused.
  await page.locator('#certificate-manual summary').click();
  await page.locator('#f-challenge').evaluate((element, old) => { (element as HTMLTextAreaElement).value = old; }, first);
  const replayed = await submitManually({ signature: signatureOver(first), chain });
  t.equal(replayed.status(), 400, 'the used-up challenge is refused');
  t.equal((await page.locator('p.error[role=alert]:not([hidden])').textContent())?.trim(), messageOf('challenge_unknown'), 'the page says the request expired or was used');

  // Signing the challenge now shown works.
  const third = await page.locator('#f-challenge').inputValue();
  t.not(third, second, 'yet another fresh challenge');
  await page.locator('#certificate-manual summary').click();
  await page.locator('#f-signature').fill(signatureOver(third));
  await page.locator('#f-chain').fill(chain);
  const callback = await backAtPortal(page, rpOrigin, () => page.locator('#certificate-manual button[type=submit]').click());
  const claims = await tax.claims(callback, started);
  t.equal(claims.acr, `${issuer}/acr/L4`, 'the retry reaches L4');
  t.same(claims.amr, ['hwk', 'pin']);

  t.same(cspViolations(problems), [], 'no Content-Security-Policy violations');
  t.same(problems.filter((text) => !/status of 40[01] .*\/certificate\/signed\)$/.test(text)), [], 'no console errors besides the refused posts');
});

t.test('step-up from password + SMS (L2) to L4 with the citizen\'s certificate, same subject, in a real browser', { skip: chromiumSkip }, async (t) => {
  const { runtime, issuer, issuing, leafFor, portal, rpOrigin, browser, shots } = await setUp(t);
  const social = await portal('social', '社保查询', 'L2');
  const land = await portal('land', '不动产登记', 'L4');
  const citizen = await buildCitizen(runtime);
  const ownLeaf = leafFor(citizen);
  const someoneElse = leafFor({ name: '王五', idNumber: buildUnregisteredIdNumber() });

  const context = await newContext(browser, { width: 1000, height: 900 });
  const page = await context.newPage();
  const problems = watchPageProblems(page, { locations: true });
  const usbKey = await installUsbKey(page, { holder: someoneElse, chain: [issuing] });

  // Password, then the SMS code the step-up page asks for: L2 at the social-security portal.
  const first = await social.start();
  await page.goto(first.url);
  await expectVisible(page, '#f-identifier', 'the login page');
  await page.locator('#f-identifier').fill(citizen.idNumber);
  await page.locator('#f-password').fill(citizen.password);
  await page.locator('form[action$="/login"] button[type=submit]').click();
  await expectVisible(page, '#step-up-reason', 'the step-up page after the password');
  await page.locator('form[action$="/step-up/sms/send"] button[type=submit]').click();
  await expectVisible(page, '#f-code', 'the SMS code field');
  await page.locator('#f-code').fill(latestCode(runtime, citizen.phone));
  const socialCallback = await backAtPortal(page, rpOrigin, () => page.locator('form[action$="/step-up/sms/verify"] button[type=submit]').click());
  const before = await social.claims(socialCallback, first);
  t.equal(before.acr, `${issuer}/acr/L2`, 'L2 after password + SMS');
  t.equal(before.sub, citizen.account.id);

  // The land registry needs L4, out of reach of this account's proofing: the page says so and offers the certificate.
  const second = await land.start();
  await page.goto(second.url);
  await expectVisible(page, '#unmet-advice', 'the page for a level the account cannot reach yet');
  const reason = ((await page.locator('main').textContent()) ?? '').trim();
  t.match(reason, /不动产登记/, `the page names the service (${reason})`);
  t.match(reason, /L4/, 'and the level');
  t.ok(await page.locator('#certificate-start').isVisible(), 'the certificate is offered');
  await page.screenshot({ path: join(shots, 'step-up-certificate.png'), fullPage: true });
  await page.locator('#certificate-start').click();
  await expectVisible(page, '#certificate-sign', 'the certificate page with the assistant');
  t.equal(await page.locator('#tab-certificate').count(), 0, 'a step-up shows no login tabs');

  // A USB key of another person is refused for this session.
  await page.locator('#certificate-sign').click();
  await expectVisible(page, 'p.error[role=alert]:not([hidden])', 'the error for another person\'s certificate');
  t.equal((await page.locator('p.error[role=alert]:not([hidden])').textContent())?.trim(), messageOf('certificate_other_person'), 'the page says the certificate is someone else\'s');
  t.match(new URL(page.url()).pathname, /^\/interaction\/[^/]+\/certificate\/signed$/, 'the refusal is shown on the certificate page');
  t.ok(await page.locator('#certificate-sign').isVisible(), 'and the person can sign again');

  // The citizen's own USB key.
  usbKey.holder = ownLeaf;
  const landCallback = await backAtPortal(page, rpOrigin, () => page.locator('#certificate-sign').click());
  const after = await land.claims(landCallback, second);
  t.equal(after.acr, `${issuer}/acr/L4`, 'L4 after the certificate');
  t.equal(after.sub, before.sub, 'the same subject as before the step-up');
  t.ok(Array.isArray(after.amr) && after.amr.includes('hwk') && after.amr.includes('pin'), `amr has hwk and pin (${JSON.stringify(after.amr)})`);
  t.equal(await runtime.proofing.best(citizen.account.id), 'in_person', 'the CA\'s identity check now counts for the account');

  t.same(cspViolations(problems), [], 'no Content-Security-Policy violations');
  t.same(problems.filter((text) => !/status of 401 .*\/certificate\/signed\)$/.test(text)), [], 'no console errors besides the refused post');
});
