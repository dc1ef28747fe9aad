import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { Page, Response } from 'playwright-core';
import t from 'tap';
import { startTestServer } from '../helpers/app.ts';
import { chromiumSkip, launchChromium, newContext, screenshotDir, visibleText, watchPageProblems } from '../helpers/browser.ts';
import { buildCitizen } from '../helpers/builders.ts';
import { latestCode } from '../helpers/oidc.ts';

/** Text of one element, whitespace collapsed. */
async function textOf(page: Page, selector: string): Promise<string> {
  return ((await page.locator(selector).textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => ESCAPES[c]);

/** The payload of a compact JWS, unverified (the token came straight from the token endpoint over this test's own fetch). */
function jwtPayload(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
}

t.test('a citizen steps up to L3 with SMS and face (consent, sandbox vendor capture) in a real browser',
  { skip: chromiumSkip },
  async (t) => {
    const { runtime, issuer } = await startTestServer(t, { env: { SMS_COOLDOWN_SECONDS: '1' } });
    t.ok(runtime.face, 'a face service is configured (the sandbox vendor in tests)');

    // The relying party: a tiny page on a loopback port that shows the query string it was called with.
    const rp = Fastify({ logger: false });
    rp.get('/cb', async (request, reply) => {
      const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
      return reply.header('content-type', 'text/html; charset=utf-8')
        .send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>RP callback</title><link rel="icon" href="data:,"></head><body><pre id="query">${escapeHtml(query)}</pre></body></html>`);
    });
    await rp.listen({ port: 0, host: '127.0.0.1' });
    t.teardown(() => rp.close());
    const rpOrigin = `http://127.0.0.1:${(rp.server.address() as AddressInfo).port}`;
    const redirectUri = `${rpOrigin}/cb`;

    const land = await runtime.clients.create({
      client_id: 'land', client_name: '不动产登记', redirect_uris: [redirectUri], grant_types: ['authorization_code'], require_consent: false,
    });
    await runtime.policies.set({ clientId: 'land', minLevel: 'L3' }, { name: 'test' });
    const clientSecret = land.client_secret;
    if (!clientSecret) throw new Error('clients.create returned no client_secret for a confidential client');

    // 张三: the sandbox vendor reports a match for this ID number.
    const citizen = await buildCitizen(runtime, { name: '张三', idNumber: '11010519491231002X' });

    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(8).toString('hex');
    const authorizationUrl = new URL('/auth', issuer);
    for (const [key, value] of Object.entries({
      client_id: 'land', redirect_uri: redirectUri, response_type: 'code', scope: 'openid', state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    })) authorizationUrl.searchParams.set(key, value);

    const browser = await launchChromium(t);
    const shots = screenshotDir(t, 'idp-e2e-face-');
    t.comment(`screenshots: ${shots}`);

    const context = await newContext(browser, { width: 1000, height: 800 });
    const page = await context.newPage();
    const consoleProblems = watchPageProblems(page, { responses: true, locations: true });

    /** Waits for an element, and on failure says where the browser is and what it shows. */
    async function expectVisible(selector: string, what: string) {
      try {
        await page.locator(selector).first().waitFor();
      } catch (error) {
        throw new Error(`expected ${what} (${selector}), but the browser is at ${page.url()} showing: ${await visibleText(page)}`, { cause: error });
      }
    }

    // The login page: ID number and password.
    await page.goto(authorizationUrl.toString());
    await expectVisible('#f-identifier', 'the login page');
    await page.locator('#f-identifier').fill(citizen.idNumber);
    await page.locator('#f-password').fill(citizen.password);
    await page.locator('form[action$="/login"] button[type=submit]').click();

    // The step-up page: names the service and the level, asks for SMS and face.
    await expectVisible('#step-up-reason', 'the step-up page after the password');
    const reason = await textOf(page, '#step-up-reason');
    t.match(reason, /不动产登记/, `the step-up page names the service (${reason})`);
    t.match(reason, /L3/, 'and the level L3');
    const missing = await textOf(page, '#step-up-missing');
    t.match(missing, /短信验证码/, `it asks for the SMS code (${missing})`);
    t.match(missing, /人脸识别/, 'and for face verification');
    t.equal(await page.locator('#face-start').count(), 0, 'face is not offered before the SMS step');
    await page.screenshot({ path: join(shots, 'step-up.png'), fullPage: true });

    // SMS: send, then enter the code the sandbox gateway delivered.
    await page.locator('form[action$="/step-up/sms/send"] button[type=submit]').click();
    await expectVisible('#f-code', 'the SMS code field after sending');
    await page.getByLabel('短信验证码').fill(latestCode(runtime, citizen.phone));
    await page.locator('form[action$="/step-up/sms/verify"] button[type=submit]').click();

    // Now only face is left.
    await expectVisible('#face-start', 'the step-up page offering face after the SMS code');
    const stillMissing = await textOf(page, '#step-up-missing');
    t.match(stillMissing, /人脸识别/, `after the SMS code the page asks for face (${stillMissing})`);
    t.notMatch(stillMissing, /短信验证码/, 'and no longer for the SMS code');
    t.equal(await page.locator('#f-code').count(), 0, 'no SMS code field any more');
    await page.screenshot({ path: join(shots, 'step-up-face.png'), fullPage: true });

    // The separate consent for face data.
    await page.locator('#face-start').click();
    await expectVisible('#face-agree', 'the face consent page');
    t.match(new URL(page.url()).pathname, /^\/interaction\/[^/]+\/face$/, 'the consent page is on the provider');
    const data = await textOf(page, '#face-data');
    t.match(data, /不保存您的人脸图像/, `the consent page states face images are not kept (${data})`);
    const alternative = await textOf(page, '#face-alternative');
    t.match(alternative, /政务服务大厅/, `and names the alternative, the service hall (${alternative})`);
    await page.screenshot({ path: join(shots, 'face-consent.png'), fullPage: true });

    // Agreeing sends the browser to the sandbox vendor's capture page on another loopback port.
    const isCaptureDocument = (response: Response) => response.request().isNavigationRequest()
      && response.request().method() === 'GET' && /^\/capture\/[^/]+$/.test(new URL(response.url()).pathname);
    const [captureResponse] = await Promise.all([page.waitForResponse(isCaptureDocument), page.locator('#face-agree').click()]);
    await expectVisible('#capture-submit', 'the sandbox capture page');
    const captureUrl = new URL(page.url());
    t.equal(captureUrl.hostname, '127.0.0.1', 'the capture page is on a loopback address');
    t.not(captureUrl.origin, new URL(issuer).origin, 'on another origin than the provider');
    t.equal(captureResponse.status(), 200, 'the capture page loads');
    const captureCsp = captureResponse.headers()['content-security-policy'] ?? '';
    t.match(captureCsp, /(^|;\s*)default-src 'none'/, `the capture page CSP is strict (${captureCsp})`);
    t.match(captureCsp, /frame-ancestors 'none'/, 'and forbids framing');
    t.notMatch(captureCsp, /script-src|'unsafe-inline'/, 'and allows no script and no unhashed inline style');
    t.ok(await page.locator('#capture-submit').isVisible(), 'the capture page shows its start button');
    await page.screenshot({ path: join(shots, 'face-capture.png'), fullPage: true });

    // Start: the vendor redirects back to the provider, which judges the result and finishes at the client.
    await Promise.all([
      page.waitForURL((url) => url.origin === rpOrigin && url.pathname === '/cb'),
      page.locator('#capture-submit').click(),
    ]).catch(async (error: unknown) => {
      throw new Error(`expected the client's redirect URI, but the browser is at ${page.url()} showing: ${await visibleText(page)}`, { cause: error });
    });
    const landed = new URL(page.url());
    t.equal(landed.searchParams.get('error'), null, `no error at the client (${landed.search})`);
    const code = landed.searchParams.get('code');
    t.ok(code, 'the client receives an authorization code');
    t.equal(landed.searchParams.get('state'), state, 'with the same state');
    t.equal(await textOf(page, '#query'), landed.search.slice(1), 'the client page shows the query string');

    // The client redeems the code.
    const discovery = await (await fetch(new URL('/.well-known/openid-configuration', issuer))).json() as { token_endpoint: string };
    const tokenResponse = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent('land')}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: code ?? '', redirect_uri: redirectUri, code_verifier: verifier }),
    });
    const tokens = await tokenResponse.json() as { id_token?: string; error?: string; error_description?: string };
    t.equal(tokenResponse.status, 200, `the token endpoint accepts the code (${tokens.error ?? 'ok'} ${tokens.error_description ?? ''})`);
    t.ok(tokens.id_token, 'an ID token is issued');
    const claims = tokens.id_token ? jwtPayload(tokens.id_token) : {};
    t.equal(claims.acr, `${issuer}/acr/L3`, 'ID token acr is level L3 of this issuer');
    t.ok(Array.isArray(claims.amr) && (claims.amr as unknown[]).includes('face'), `ID token amr includes face (${JSON.stringify(claims.amr)})`);
    t.equal(claims.aud, 'land', 'for the land-registry client');
    t.equal(claims.iss, issuer, 'from this issuer');

    const cspViolations = consoleProblems.filter((text) => /content security policy/i.test(text));
    t.same(cspViolations, [], 'the browser reported no Content-Security-Policy violations');
    if (consoleProblems.length > 0) t.comment(`browser console: ${consoleProblems.join(' | ')}`);
  });
