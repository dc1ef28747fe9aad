import { join } from 'node:path';
import Fastify from 'fastify';
import * as client from 'openid-client';
import t from 'tap';
import { grantRoles, startConsoleServer } from '../console/console-server.ts';
import {
  BRAND_RED, chromiumSkip, INTERACTION_PATH, launchChromium, newContext, screenshotDir, unlabelledInputs, visibleText, watchPageProblems,
} from '../helpers/browser.ts';
import { buildCitizen } from '../helpers/builders.ts';
import { latestCode } from '../helpers/oidc.ts';
import { freePort } from '../helpers/runtime.ts';

t.test('an admin raises a relying party to L2 in the console; the next citizen login there needs the SMS step-up',
  { skip: chromiumSkip },
  async (t) => {
    const { runtime, issuer } = await startConsoleServer(t, { ADMIN_CONSOLE_LEVEL: 'L2', SMS_COOLDOWN_SECONDS: '1' });

    // A tiny relying party page the citizen's browser returns to.
    const rp = Fastify({ logger: false });
    rp.get('/callback', async (_request, reply) => reply.type('text/html; charset=utf-8').send('<!doctype html><html lang="zh-CN"><title>RP</title><h1 id="rp">已返回电子税务局</h1></html>'));
    const rpPort = await freePort();
    await rp.listen({ port: rpPort, host: '127.0.0.1' });
    t.teardown(() => rp.close());
    const rpCallback = `http://127.0.0.1:${rpPort}/callback`;

    const tax = await runtime.clients.create({
      client_id: 'tax', client_name: '电子税务局', redirect_uris: [rpCallback], grant_types: ['authorization_code'], require_consent: false,
    });
    await runtime.policies.set({ clientId: 'tax', minLevel: 'L1' }, { name: 'test' });
    const admin = await buildCitizen(runtime);
    await grantRoles(runtime, admin.account.id, ['policy_admin']);
    const citizen = await buildCitizen(runtime);

    const browser = await launchChromium(t);
    const shots = screenshotDir(t, 'idp-e2e-console-');
    t.comment(`screenshots: ${shots}`);

    // The admin, in the console.
    const adminContext = await newContext(browser, { width: 1200, height: 900 });
    const page = await adminContext.newPage();
    const adminProblems = watchPageProblems(page);
    await page.goto(`${issuer}/console/`);
    await page.waitForURL((url) => INTERACTION_PATH.test(url.pathname));
    await page.getByLabel('身份证号码或手机号码').fill(admin.idNumber);
    await page.getByLabel('密码', { exact: true }).fill(admin.password);
    await Promise.all([page.waitForLoadState(), page.locator('form[action$="/login"] button[type=submit]').click()]);
    try {
      await page.getByText('还需完成：短信验证码').waitFor();
    } catch (error) {
      throw new Error(`expected the SMS step-up for the console, got ${page.url()}: ${await visibleText(page)}`, { cause: error });
    }
    t.pass('the console level asks the admin for the SMS code after the password');
    await page.locator('form[action$="/step-up/sms/send"] button[type=submit]').click();
    await page.locator('#f-code').waitFor();
    await page.getByLabel('短信验证码').fill(latestCode(runtime, admin.phone));
    await Promise.all([
      page.waitForURL(`${issuer}/console/`),
      page.locator('form[action$="/step-up/sms/verify"] button[type=submit]').click(),
    ]);

    t.equal(await page.locator('h1').textContent(), '认证级别与接入应用', 'the console overview');
    t.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
    t.equal(await page.locator('header.banner').evaluate((el) => getComputedStyle(el).backgroundColor), BRAND_RED, 'stylesheets load under the CSP');
    t.same(await unlabelledInputs(page), [], 'every control of the overview has a label');
    t.equal(await page.locator('#client-tax tr[data-scope="*"]').getAttribute('data-level'), 'L1', 'tax starts at L1');
    const sessionCookie = (await adminContext.cookies()).find((c) => c.name === 'console_session');
    t.match(sessionCookie, { path: '/console', httpOnly: true, sameSite: 'Lax', secure: false }, 'the console session cookie');
    await page.screenshot({ path: join(shots, 'console-overview.png'), fullPage: true });

    const taxForm = page.locator('#client-tax form[action="/console/policies/preview"]');
    await taxForm.getByLabel('最低认证级别').selectOption('L2');
    await Promise.all([page.waitForURL(`${issuer}/console/policies/preview`), taxForm.locator('button[type=submit]').click()]);
    t.equal(await page.locator('h1').textContent(), '确认修改认证级别策略');
    t.equal((await page.locator('#statement').textContent())?.trim(), '将「电子税务局」的最低认证级别从 一级（基本）（L1） 提高到 二级（实名）（L2）。',
      'the confirmation says old → new in plain language');
    t.equal((await runtime.db.query("SELECT min_level FROM level_policies WHERE client_id = 'tax' AND scope = '*'")).rows[0].min_level, 'L1',
      'nothing changed before confirming');
    await page.screenshot({ path: join(shots, 'console-confirm.png'), fullPage: true });
    await Promise.all([page.waitForURL((url) => url.pathname === '/console/'), page.getByRole('button', { name: '确认修改' }).click()]);
    t.match(await page.locator('p.notice').textContent(), /「电子税务局」的认证级别策略已更新/);
    t.equal(await page.locator('#client-tax tr[data-scope="*"]').getAttribute('data-level'), 'L2', 'the overview shows L2');
    t.equal((await runtime.db.query("SELECT min_level FROM level_policies WHERE client_id = 'tax' AND scope = '*'")).rows[0].min_level, 'L2');
    const audit = await runtime.audit.list({ event: 'admin.policy.updated', clientId: 'tax' });
    t.equal(audit[0].actor, `account:${admin.account.idNumberMasked}`);
    t.same(audit[0].detail, { scope: '*', before: { minLevel: 'L1', maxAuthAgeSeconds: null }, after: { minLevel: 'L2', maxAuthAgeSeconds: null } });
    t.same(adminProblems.filter((text) => /content security policy/i.test(text)), [], 'no CSP violations in the console');

    // A citizen, in a fresh browser, signs in to the tax bureau: now the SMS step-up is required.
    const config = await client.discovery(new URL(issuer), 'tax', tax.client_secret!, client.ClientSecretBasic(tax.client_secret!), { execute: [client.allowInsecureRequests] });
    const verifier = client.randomPKCECodeVerifier();
    const authorizeUrl = client.buildAuthorizationUrl(config, {
      redirect_uri: rpCallback, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 'e2e',
    });
    const citizenContext = await newContext(browser, { width: 1200, height: 900 });
    const citizenPage = await citizenContext.newPage();
    await citizenPage.goto(authorizeUrl.href);
    await citizenPage.waitForURL((url) => INTERACTION_PATH.test(url.pathname));
    await citizenPage.getByLabel('身份证号码或手机号码').fill(citizen.idNumber);
    await citizenPage.getByLabel('密码', { exact: true }).fill(citizen.password);
    await citizenPage.locator('form[action$="/login"] button[type=submit]').click();
    try {
      await citizenPage.getByText('还需完成：短信验证码').waitFor();
    } catch (error) {
      throw new Error(`expected the step-up page, got ${citizenPage.url()}: ${await visibleText(citizenPage)}`, { cause: error });
    }
    t.match(await citizenPage.locator('#step-up-reason').textContent(), /「电子税务局」要求二级（实名）（L2）/, 'the step-up names the service and the new level');
    await citizenPage.screenshot({ path: join(shots, 'citizen-step-up.png'), fullPage: true });

    await citizenPage.locator('form[action$="/step-up/sms/send"] button[type=submit]').click();
    await citizenPage.locator('#f-code').waitFor();
    await citizenPage.getByLabel('短信验证码').fill(latestCode(runtime, citizen.phone));
    await Promise.all([
      citizenPage.waitForURL((url) => url.href.startsWith(rpCallback)),
      citizenPage.locator('form[action$="/step-up/sms/verify"] button[type=submit]').click(),
    ]);
    const tokens = await client.authorizationCodeGrant(config, new URL(citizenPage.url()), { pkceCodeVerifier: verifier, expectedState: 'e2e' });
    t.equal(tokens.claims()?.acr, `${issuer}/acr/L2`, 'the citizen reached L2 at the tax bureau');
    t.equal(tokens.claims()?.sub, citizen.account.id);
  });
