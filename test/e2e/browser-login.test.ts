import { join } from 'node:path';
import type { Page, Response } from 'playwright-core';
import t from 'tap';
import { DEMO_CITIZENS, seedDemoData } from '../../src/bootstrap/demo-data.ts';
import { demoBackchannelLogouts } from '../../src/demo/routes.ts';
import { startTestServer } from '../helpers/app.ts';
import {
  BRAND_RED, chromiumSkip, INTERACTION_PATH, launchChromium, newContext, screenshotDir, unlabelledInputs, visibleText, watchPageProblems,
} from '../helpers/browser.ts';
import { buildPhone, nextRegisterCitizen } from '../helpers/builders.ts';
import { latestCode } from '../helpers/oidc.ts';

/** The ID-token claims table of the demo page, as text per claim name. */
async function claimsOf(page: Page): Promise<Record<string, string>> {
  return page.locator('#id-token-claims tr').evaluateAll((rows) => Object.fromEntries(rows.map((row) => [
    row.querySelector('th')?.textContent?.trim() ?? '',
    // Time claims carry an ISO date in a nested span; the first text node is the claim value itself.
    row.querySelector('td')?.firstChild?.textContent?.trim() ?? '',
  ])));
}

async function userinfoOf(page: Page): Promise<Record<string, unknown>> {
  return JSON.parse((await page.locator('#userinfo').textContent()) ?? '{}') as Record<string, unknown>;
}

const isDocument = (path: RegExp) => (response: Response) =>
  response.request().isNavigationRequest() && path.test(new URL(response.url()).pathname);

t.test('a citizen registers, signs in to the demo portal, logs out everywhere and signs in again, in a real browser',
  { skip: chromiumSkip },
  async (t) => {
    const { runtime, issuer } = await startTestServer(t, { env: { DEMO_DATA: 'true' } });
    t.ok(runtime.config.demoData, 'DEMO_DATA=true turns the demo relying party on (buildApp registers /demo from config.demoData)');
    await seedDemoData(runtime);

    const browser = await launchChromium(t);
    const shots = screenshotDir(t);
    t.comment(`screenshots: ${shots}`);

    const context = await newContext(browser, { width: 1000, height: 800 });
    const page = await context.newPage();
    const consoleProblems = watchPageProblems(page, { responses: true });

    const demoHome = `${issuer}/demo/`;
    // The demo citizens are the first sandbox-register entries and seedDemoData already registered them.
    let citizen = nextRegisterCitizen();
    while (DEMO_CITIZENS.some((demo) => demo.idNumber === citizen.idNumber)) citizen = nextRegisterCitizen();
    const phone = buildPhone();
    const password = 'Quiet-Lantern-58';
    let consentPages = 0;

    /**
     * After a login step the provider either returns to the portal or first asks for consent (the seeded
     * demo-portal client is not registered with require_consent: false); consent is granted here.
     * Waits for page content rather than a URL: the login page itself is already at /interaction/<uid>.
     */
    async function landOnDemo() {
      const portal = page.locator('#status');
      const allow = page.locator('form[action$="/consent"] button[type=submit]');
      try {
        await portal.or(allow).first().waitFor();
      } catch (error) {
        throw new Error(`expected the demo portal or a consent page, but the browser is at ${page.url()} showing: ${await visibleText(page)}`, { cause: error });
      }
      if (await allow.isVisible()) {
        if (consentPages++ === 0) await page.screenshot({ path: join(shots, 'consent.png'), fullPage: true });
        await Promise.all([page.waitForURL(demoHome), allow.click()]);
        await portal.waitFor();
      }
    }

    // The portal, signed out; its login link goes to the provider's login page.
    await page.goto(demoHome);
    t.equal(await page.locator('#status').getAttribute('data-status'), 'logged-out', 'the demo portal starts signed out');
    const [loginResponse] = await Promise.all([page.waitForResponse(isDocument(INTERACTION_PATH)), page.locator('#login').click()]);
    await page.waitForURL((url) => INTERACTION_PATH.test(url.pathname));
    await page.locator('#f-identifier').waitFor();

    // The login page: Chinese by default, styled, labelled, unframeable.
    t.equal(await page.locator('html').getAttribute('lang'), 'zh-CN', 'the login page is in Chinese by default');
    t.equal(await page.locator('h1').textContent(), '登录', 'Chinese heading');
    t.same(await unlabelledInputs(page), [], 'every input on the login page has a label');
    t.ok(await page.getByLabel('身份证号码或手机号码').isVisible(), 'the identifier field is reachable by its label');
    t.ok(await page.getByLabel('密码', { exact: true }).isVisible(), 'the password field is reachable by its label');
    const csp = loginResponse.headers()['content-security-policy'] ?? '';
    t.match(csp, /frame-ancestors 'none'/, 'the login page may not be framed (CSP frame-ancestors)');
    t.equal(await page.locator('header.banner').evaluate((el) => getComputedStyle(el).backgroundColor), BRAND_RED,
      'the stylesheet loaded under the page CSP');
    await page.screenshot({ path: join(shots, 'login-zh.png'), fullPage: true });

    // The language switch link shows the same page in English, and back.
    await Promise.all([page.waitForURL((url) => url.searchParams.get('lang') === 'en'), page.locator('a.lang').click()]);
    t.equal(await page.locator('html').getAttribute('lang'), 'en', '?lang=en: the page says it is English');
    t.equal(await page.locator('h1').textContent(), 'Sign in', '?lang=en: English heading');
    t.ok(await page.getByLabel('ID number or mobile number').isVisible(), '?lang=en: English labels');
    t.same(await unlabelledInputs(page), [], 'every input on the English login page has a label');
    await page.screenshot({ path: join(shots, 'login-en.png'), fullPage: true });
    await Promise.all([page.waitForURL((url) => url.searchParams.get('lang') === 'zh-CN'), page.locator('a.lang').click()]);
    t.equal(await page.locator('html').getAttribute('lang'), 'zh-CN', 'the switch leads back to Chinese');

    // Registration, step 1: name, ID number and phone; the sandbox gateway delivers the code.
    await Promise.all([page.waitForURL((url) => url.pathname.endsWith('/register')), page.locator('a[href$="/register"]').click()]);
    await page.locator('#f-name').waitFor();
    t.same(await unlabelledInputs(page), [], 'every input on the registration page has a label');
    await page.getByLabel('姓名').fill(citizen.name);
    await page.getByLabel('身份证号码').fill(citizen.idNumber);
    await page.getByLabel('手机号码').fill(phone);
    await page.screenshot({ path: join(shots, 'register.png'), fullPage: true });
    await Promise.all([
      page.waitForURL((url) => url.pathname.endsWith('/register/send-code')),
      page.locator('form[action$="/register/send-code"] button[type=submit]').click(),
    ]);
    await page.locator('#f-code').waitFor();
    t.ok(await page.locator('p.notice').isVisible(), 'step 2 says the code was sent');

    // Step 2: code and password twice; the provider signs the new citizen in and returns to the portal.
    await page.getByLabel('短信验证码').fill(latestCode(runtime, phone));
    await page.getByLabel('设置密码').fill(password);
    await page.getByLabel('再次输入密码').fill(password);
    t.same(await unlabelledInputs(page), [], 'every input on registration step 2 has a label');
    await page.locator('form[action$="/register/complete"] button[type=submit]').click();
    await landOnDemo();

    t.equal(page.url(), demoHome, 'back on the demo portal');
    t.equal(await page.locator('#status').getAttribute('data-status'), 'logged-in', 'the demo portal shows the citizen signed in');
    const claims = await claimsOf(page);
    t.equal(claims.acr, `${issuer}/acr/L1`, 'ID token acr is level L1 of this issuer');
    t.equal(claims.iss, issuer, 'ID token from this issuer');
    t.ok(claims.sid, 'the ID token carries a session id for back-channel logout');
    const userinfo = await userinfoOf(page);
    t.equal(userinfo.name, citizen.name, 'userinfo has the registered name');
    t.equal(userinfo.sub, claims.sub, 'userinfo is about the same subject');
    await page.screenshot({ path: join(shots, 'demo-logged-in.png'), fullPage: true });

    // Log out: the provider asks, the citizen confirms, the portal's back channel hears about it.
    await Promise.all([page.waitForURL((url) => url.pathname.startsWith('/session/end')), page.locator('#logout').click()]);
    const confirm = page.locator('button[name=logout][value=yes]');
    await confirm.waitFor();
    await page.screenshot({ path: join(shots, 'logout-confirm.png'), fullPage: true });
    await Promise.all([page.waitForURL(demoHome), confirm.click()]);
    const status = await page.locator('#status').getAttribute('data-status');
    t.ok(status === 'logged-out' || status === 'ended-by-backchannel', `the demo portal shows signed out (${status})`);

    let received = demoBackchannelLogouts().find((entry) => entry.sid === claims.sid);
    for (let i = 0; !received && i < 50; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      received = demoBackchannelLogouts().find((entry) => entry.sid === claims.sid);
    }
    t.ok(received, 'the demo back-channel receiver accepted a logout token for that session id');

    // The single sign-on session is gone: logging in again asks for credentials. Done with the keyboard only.
    await page.goto(`${issuer}/demo/login`);
    await page.waitForURL((url) => INTERACTION_PATH.test(url.pathname));
    const identifier = page.locator('#f-identifier');
    t.ok(await identifier.isVisible(), 'the provider shows the login page again after logout');
    await identifier.focus();
    await page.keyboard.type(citizen.idNumber);
    await page.keyboard.press('Tab');
    t.equal(await page.evaluate(() => document.activeElement?.id), 'f-password', 'Tab moves from the identifier to the password');
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');
    await landOnDemo();

    t.equal(page.url(), demoHome, 'back on the demo portal after the second login');
    t.equal(await page.locator('#status').getAttribute('data-status'), 'logged-in', 'signed in again with ID number and the new password');
    const again = await claimsOf(page);
    t.equal(again.sub, claims.sub, 'the same citizen');
    t.equal(again.acr, `${issuer}/acr/L1`, 'acr L1 again');
    t.not(again.sid, claims.sid, 'a new provider session');
    t.equal((await userinfoOf(page)).name, citizen.name, 'userinfo has the name again');

    t.comment(`consent pages shown: ${consentPages}`);
    const cspViolations = consoleProblems.filter((text) => /content security policy/i.test(text));
    t.same(cspViolations, [], 'the browser reported no Content-Security-Policy violations');
    if (consoleProblems.length > 0) t.comment(`browser console: ${consoleProblems.join(' | ')}`);
  });
