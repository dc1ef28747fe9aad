import { join } from 'node:path';
import * as client from 'openid-client';
import t from 'tap';
import {
  BRAND_RED, chromiumSkip, INTERACTION_PATH, launchChromium, newContext, screenshotDir, unlabelledInputs, visibleText, watchPageProblems,
} from '../helpers/browser.ts';
import { buildCitizen } from '../helpers/builders.ts';
import { createUserAgent } from '../helpers/user-agent.ts';
import { oauthError, startRelyingParty, startSelfServiceServer } from '../self-service/self-service-server.ts';

t.test('a citizen views the account page, ends a session and revokes a consent, in a real browser', { skip: chromiumSkip }, async (t) => {
  const { runtime, issuer } = await startSelfServiceServer(t);
  const tax = await startRelyingParty(t, runtime, issuer, { clientId: 'tax', clientName: '电子税务局' });
  const citizen = await buildCitizen(runtime);
  // Another device, signed in to the tax bureau with offline access.
  const tokens = await tax.login(createUserAgent(issuer), citizen, { offline: true });
  const otherSid = tokens.claims()!.sid as string;

  const browser = await launchChromium(t);
  const shots = screenshotDir(t, 'idp-e2e-account-');
  t.comment(`screenshots: ${shots}`);
  const context = await newContext(browser, { width: 1200, height: 900 });
  const page = await context.newPage();
  const problems = watchPageProblems(page, { locations: true });

  await page.goto(`${issuer}/account/`);
  await page.waitForURL((url) => INTERACTION_PATH.test(url.pathname));
  await page.getByLabel('身份证号码或手机号码').fill(citizen.idNumber);
  await page.getByLabel('密码', { exact: true }).fill(citizen.password);
  await Promise.all([page.waitForURL(`${issuer}/account/`), page.locator('form[action$="/login"] button[type=submit]').click()]);

  try {
    t.equal(await page.locator('h1').textContent(), '我的账号', 'the account page');
  } catch (error) {
    throw new Error(`expected the account page, got ${page.url()}: ${await visibleText(page)}`, { cause: error });
  }
  t.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
  t.equal(await page.locator('header.banner').evaluate((el) => getComputedStyle(el).backgroundColor), BRAND_RED, 'stylesheets load under the CSP');
  t.same(await unlabelledInputs(page), [], 'every visible control has a label');
  t.equal(await page.locator('#profile-id-number').textContent(), citizen.account.idNumberMasked, 'the ID number, masked');
  t.match(await page.locator('#bound-phone').textContent(), new RegExp(`^${citizen.account.phoneMasked!.replace(/\*/g, '\\*')}`));
  t.equal(await page.locator('#session-list tbody tr').count(), 2, 'two sessions: the other device and this browser');
  t.equal(await page.locator('#session-list tr.current').count(), 1);
  t.match(await page.locator('#consent-list tr[data-client="tax"]').textContent(), /电子税务局/);
  t.ok(await page.locator('#event-list tr[data-event="login.password"]').count() >= 1, 'the audit trail lists the logins');
  const sessionCookie = (await context.cookies()).find((c) => c.name === 'account_session');
  t.match(sessionCookie, { path: '/account', httpOnly: true, sameSite: 'Lax' }, 'the account-page session cookie');
  await page.screenshot({ path: join(shots, 'account-overview.png'), fullPage: true });

  // Keyboard: the first Tab stop is the skip link, which leads to the main content.
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate(() => document.activeElement?.className), 'skip', 'the first Tab stop is the skip link');
  t.ok(await page.locator('a.skip').isVisible(), 'the skip link shows when focused');

  // End the other device's session with the keyboard only.
  const otherRow = page.locator('#session-list tbody tr:not(.current)');
  await otherRow.locator('button').focus();
  await Promise.all([page.waitForURL((url) => url.searchParams.get('done') === 'session_ended'), page.keyboard.press('Enter')]);
  t.match(await page.locator('p.notice').textContent(), /会话已结束/);
  t.equal(await page.locator('#session-list tbody tr').count(), 1, 'only this browser is left');
  t.ok(tax.received.some((r) => r.sid === otherSid), 'the tax bureau received a back-channel logout for that session');
  await page.screenshot({ path: join(shots, 'account-session-ended.png'), fullPage: true });

  // Revoke the tax bureau's consent: its refresh token stops working.
  const rotated = await client.refreshTokenGrant(tax.config, tokens.refresh_token!);
  t.ok(rotated.refresh_token, 'offline access still works before');
  await Promise.all([page.waitForURL((url) => url.searchParams.get('done') === 'consent_revoked'), page.locator('#consent-list tr[data-client="tax"] button').click()]);
  t.match(await page.locator('p.notice').textContent(), /授权已撤销/);
  t.equal(await page.locator('#consent-list').count(), 0, 'no consent left');
  t.equal((await runtime.db.query("SELECT 1 FROM oidc_payloads WHERE model IN ('RefreshToken', 'Grant') AND account_id = $1 AND payload->>'clientId' = 'tax'", [citizen.account.id])).rowCount, 0,
    'the grant and its refresh tokens are gone');
  const audit = await runtime.audit.list({ event: 'consent.revoked', accountId: citizen.account.id });
  t.equal(audit.length, 1);
  t.equal(await page.locator('#event-list tr[data-event="consent.revoked"]').count(), 1, 'the revocation shows in the audit trail');
  await page.screenshot({ path: join(shots, 'account-consent-revoked.png'), fullPage: true });
  t.equal(await oauthError(client.refreshTokenGrant(tax.config, rotated.refresh_token!)), 'invalid_grant', 'the refresh token no longer works');

  // The same page in English.
  await Promise.all([page.waitForURL((url) => url.searchParams.get('lang') === 'en'), page.locator('a.lang').click()]);
  t.equal(await page.locator('html').getAttribute('lang'), 'en');
  t.equal(await page.locator('h1').textContent(), 'My account');
  t.same(await unlabelledInputs(page), [], 'every visible control of the English page has a label');
  await page.screenshot({ path: join(shots, 'account-en.png'), fullPage: true });

  t.same(problems.filter((text) => /content security policy/i.test(text)), [], 'no CSP violations');
});
