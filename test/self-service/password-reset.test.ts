import t, { type Test } from 'tap';
import * as client from 'openid-client';
import { verifyPassword } from '../../src/authn/password/hashing.ts';
import type { Runtime } from '../../src/bootstrap/runtime.ts';
import { buildCitizen, buildUnregisteredIdNumber } from '../helpers/builders.ts';
import { latestCode } from '../helpers/oidc.ts';
import { createUserAgent, formOf } from '../helpers/user-agent.ts';
import {
  accountLogin, coolDown, csrfOf, faceCapture, oauthError, startRelyingParty, startSelfServiceServer, withoutTokens, type Ua,
} from './self-service-server.ts';

const NEW_PASSWORD = 'Lantern-Orchard-73';

/** Opens the reset pages and asks for a code for `idNumber`. */
async function startReset(ua: Ua, idNumber: string) {
  const first = await ua.get('/account/reset');
  return ua.post('/account/reset/start', { csrf: csrfOf(first.html), id_number: idNumber });
}

async function proofed(runtime: Runtime, accountId: string, proofing: string) {
  await runtime.proofing.record(runtime.db, accountId, proofing, { test: true }, runtime.clock());
}

t.test('password reset by ID number and SMS code', async (t) => {
  const { runtime, issuer } = await startSelfServiceServer(t);
  const tax = await startRelyingParty(t, runtime, issuer, { clientId: 'tax', clientName: '电子税务局' });
  const citizen = await buildCitizen(runtime, { name: '陈志强', idNumber: '370202199512310175' });
  const { account } = citizen;
  const unknownId = buildUnregisteredIdNumber();
  const outbox = () => runtime.sandboxSms!.outbox().filter((m) => m.to === citizen.phone);

  await t.test('the first page: ID number only, same standards as the login pages', async (t) => {
    const ua = createUserAgent(issuer);
    const page = await ua.get('/account/reset');
    t.equal(page.response.status, 200);
    t.equal(page.response.headers.get('cache-control'), 'no-store');
    t.match(page.response.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    t.notMatch(page.html, /<script/i);
    t.match(page.html, /<h1>找回密码<\/h1>/);
    t.match(page.html, /<label for="f-id_number">身份证号码<\/label>/);
    t.notMatch(page.response.headers.get('set-cookie') ?? '', /account_reset=/, 'opening the page starts no flow');
    t.match((await ua.get('/account/reset?lang=en')).html, /<h1>Reset your password<\/h1>/);
    await ua.get('/account/reset?lang=zh-CN');

    const bad = await ua.post('/account/reset/start', { csrf: csrfOf(page.html), id_number: '11010519491231002Y' });
    t.equal(bad.response.status, 400, 'a malformed ID number is refused');
    t.match(bad.html, /role="alert"/);
    t.match(bad.html, /value="11010519491231002Y"/, 'what was typed stays in the field');
    const noCsrf = await ua.post('/account/reset/start', { id_number: citizen.idNumber });
    t.equal(noCsrf.response.status, 403, 'no CSRF token: refused');
    const other = createUserAgent(issuer);
    const otherCsrf = csrfOf((await other.get('/account/reset')).html);
    t.equal((await ua.post('/account/reset/start', { csrf: otherCsrf, id_number: citizen.idNumber })).response.status, 403, 'another browser\'s token: refused');
    t.equal(outbox().length, 0, 'nothing was sent');
  });

  await t.test('an unknown ID number gets the same answers as a registered one', async (t) => {
    const known = createUserAgent(issuer);
    const unknown = createUserAgent(issuer);
    const sentKnown = await startReset(known, citizen.idNumber);
    const sentUnknown = await startReset(unknown, unknownId);
    t.equal(sentKnown.response.status, 200);
    t.equal(sentUnknown.response.status, 200);
    t.match(sentKnown.html, /如果该身份证号码已注册并绑定了手机，验证码已发送至绑定的手机/);
    t.notMatch(sentKnown.html, new RegExp(account.phoneMasked!.replace(/\*/g, '\\*')), 'not even the masked phone is shown');
    t.equal(withoutTokens(sentKnown.html), withoutTokens(sentUnknown.html), 'identical pages');
    t.match(sentKnown.response.headers.get('set-cookie') ?? '', /account_reset=[^;]+;.*Path=\/account.*HttpOnly.*SameSite=Lax/i, 'the flow lives under a signed cookie');
    t.equal(outbox().length, 1, 'a code went to the bound phone only');

    // Asking again at once: the SMS limits of the OTP service answer both the same.
    const againKnown = await known.post('/account/reset/start', { csrf: csrfOf(sentKnown.html), id_number: citizen.idNumber });
    const againUnknown = await unknown.post('/account/reset/start', { csrf: csrfOf(sentUnknown.html), id_number: unknownId });
    t.equal(againKnown.response.status, 429);
    t.equal(againUnknown.response.status, 429);
    t.match(againKnown.html, /操作过于频繁/);
    t.equal(withoutTokens(againKnown.html).replace(citizen.idNumber, 'ID'), withoutTokens(againUnknown.html).replace(unknownId, 'ID'), 'identical rate-limit pages (but for the number typed)');

    // Wrong codes: the same messages, then the code is void for both.
    for (let i = 1; i <= 6; i++) {
      const a = await known.post('/account/reset/verify', { csrf: csrfOf(sentKnown.html), code: '000000' === latestCode(runtime, citizen.phone) ? '111111' : '000000' });
      const b = await unknown.post('/account/reset/verify', { csrf: csrfOf(sentUnknown.html), code: '000000' });
      t.equal(a.response.status, 401, `wrong code ${i}: 401`);
      t.equal(b.response.status, 401);
      t.equal(withoutTokens(a.html), withoutTokens(b.html), `wrong code ${i}: identical pages`);
      t.match(a.html, i < 5 ? /验证码错误。/ : i === 5 ? /验证码错误次数过多，已失效/ : /验证码已过期或已使用/);
    }

    const audit = await runtime.audit.list({ limit: 100 });
    const refused = audit.find((e) => e.event === 'sms.refused' && e.detail?.reason === 'no_account');
    t.match(refused, { actor: `${unknownId.slice(0, 4)}**********${unknownId.slice(14)}`, detail: { purpose: 'password_reset' } }, 'the unknown ID number is audited, masked');
    t.ok(audit.some((e) => e.event === 'sms.sent' && e.accountId === account.id && e.detail?.purpose === 'password_reset'));
    t.ok(audit.some((e) => e.event === 'sms.refused' && e.accountId === account.id && e.detail?.reason === 'rate_limited'), 'the rate-limited request is audited');
    const failures = audit.filter((e) => e.event === 'otp.verify' && e.detail?.purpose === 'password_reset');
    t.equal(failures.filter((e) => e.accountId === account.id).length, 6, 'every wrong code of the real flow is audited');
    t.equal(failures.filter((e) => e.detail?.noAccount === true).length, 6, 'and of the decoy');
  });

  await t.test('a correct code leads to the new password; weak or mismatched passwords are refused', async (t) => {
    // Sessions and tokens that the reset must end, and a legacy hash it must clear.
    const rpBrowser = createUserAgent(issuer);
    const rpTokens = await tax.login(rpBrowser, citizen, { offline: true });
    const accountBrowser = createUserAgent(issuer);
    t.equal(new URL((await accountLogin(accountBrowser, citizen)).url).pathname, '/account/');
    await runtime.db.query("UPDATE accounts SET must_reset_password = true, legacy_password_hash = 'md5$legacy', legacy_password_algorithm = 'md5' WHERE id = $1", [account.id]);
    const sessionsBefore = (await runtime.db.query("SELECT 1 FROM oidc_payloads WHERE model = 'Session' AND account_id = $1", [account.id])).rowCount;
    t.equal(sessionsBefore, 2);

    await coolDown();
    const ua = createUserAgent(issuer);
    const sent = await startReset(ua, citizen.idNumber);
    const wrong = await ua.post('/account/reset/verify', { csrf: csrfOf(sent.html), code: latestCode(runtime, citizen.phone) === '123456' ? '654321' : '123456' });
    t.equal(wrong.response.status, 401);
    const passwordPage = await ua.post('/account/reset/verify', { csrf: csrfOf(sent.html), code: latestCode(runtime, citizen.phone) });
    t.equal(passwordPage.response.status, 200);
    t.match(passwordPage.html, /<label for="f-password">新密码<\/label>/, 'register_verified only: the SMS code suffices');
    const csrf = csrfOf(passwordPage.html);

    const weak = await ua.post('/account/reset/password', { csrf, password: `Ab${citizen.idNumber.slice(6, 14)}`, password_confirm: `Ab${citizen.idNumber.slice(6, 14)}` });
    t.equal(weak.response.status, 400);
    t.match(weak.html, /密码不能包含身份证号码/);
    const short = await ua.post('/account/reset/password', { csrf, password: 'short', password_confirm: 'short' });
    t.match(short.html, /密码至少需要 8 个字符/);
    const mismatch = await ua.post('/account/reset/password', { csrf, password: NEW_PASSWORD, password_confirm: `${NEW_PASSWORD}x` });
    t.equal(mismatch.response.status, 400);
    t.match(mismatch.html, /两次输入的密码不一致/);
    const refused = await runtime.audit.list({ event: 'account.password_reset', accountId: account.id });
    t.equal(refused.length, 2, 'the two weak passwords are audited');
    t.match(refused[0], { result: 'failure', detail: { reason: 'weak_password', violations: ['too_short'] } });

    const done = await ua.post('/account/reset/password', { csrf, password: NEW_PASSWORD, password_confirm: NEW_PASSWORD });
    t.equal(done.response.status, 200);
    t.match(done.html, /id="reset-done">新密码已生效。您在所有设备和应用上的登录均已退出/);
    t.notOk(ua.cookies.get('account_reset'), 'the reset cookie is cleared');

    const { rows } = await runtime.db.query<{ password_hash: string; must_reset_password: boolean; legacy_password_hash: string | null; legacy_password_algorithm: string | null }>(
      'SELECT password_hash, must_reset_password, legacy_password_hash, legacy_password_algorithm FROM accounts WHERE id = $1', [account.id]);
    t.match(rows[0].password_hash, /^\$argon2id\$/, 'an argon2id hash');
    t.ok(await verifyPassword(rows[0].password_hash, NEW_PASSWORD));
    t.same({ ...rows[0], password_hash: undefined }, { password_hash: undefined, must_reset_password: false, legacy_password_hash: null, legacy_password_algorithm: null });
    t.equal((await runtime.db.query("SELECT 1 FROM oidc_payloads WHERE account_id = $1 AND model IN ('Session', 'RefreshToken', 'Grant')", [account.id])).rowCount, 0,
      'every session, grant and refresh token of the account is gone');
    t.equal(await oauthError(client.refreshTokenGrant(tax.config, rpTokens.refresh_token!)), 'invalid_grant');
    t.ok(tax.received.some((r) => r.sid === rpTokens.claims()!.sid), 'the tax bureau got a back-channel logout');
    const back = await accountBrowser.get('/account/');
    t.match(back.url, /\/interaction\//, 'the account page asks for a login again');

    const notice = runtime.sandboxSms!.latestTo(citizen.phone)!;
    t.equal(notice.template, 'notice');
    t.match(notice.text, /您的登录密码已于.*重置，所有设备已退出登录/);
    const audit = await runtime.audit.list({ event: 'account.password_reset', accountId: account.id });
    t.match(audit[0], { result: 'success', actor: account.idNumberMasked, detail: { secondFactor: null, legacyHashCleared: true } });
    t.ok(audit[0].ip);
    t.ok((await runtime.audit.list({ event: 'logout', accountId: account.id })).some((e) => e.detail?.reason === 'password_reset'));
    t.ok((await runtime.audit.list({ event: 'sms.sent', accountId: account.id })).some((e) => e.detail?.purpose === 'notice_password_reset'));

    // The new password works, the old one does not.
    const oldLogin = createUserAgent(issuer);
    const page = await oldLogin.get('/account/');
    const form = formOf(page.html, '/login');
    const refusedOld = await oldLogin.post(form.action, { csrf: form.csrf, identifier: citizen.idNumber, password: citizen.password });
    t.match(refusedOld.html, /账号或密码错误/);
    const fresh = await accountLogin(createUserAgent(issuer), { idNumber: citizen.idNumber, password: NEW_PASSWORD });
    t.equal(new URL(fresh.url).pathname, '/account/', 'signed in with the new password');
  });
});

t.test('a reset of an account proofed above the register needs face or bank card as well', async (t) => {
  const { runtime, issuer } = await startSelfServiceServer(t);

  /** ID number, then the SMS code; returns the browser and the page after the code. */
  async function upToSecond(citizen: { idNumber: string; phone: string }) {
    const ua = createUserAgent(issuer);
    const sent = await startReset(ua, citizen.idNumber);
    const page = await ua.post('/account/reset/verify', { csrf: csrfOf(sent.html), code: latestCode(runtime, citizen.phone) });
    return { ua, page };
  }

  await t.test('face: the sandbox vendor matches 张三', async (t) => {
    const zhang = await buildCitizen(runtime, { name: '张三', idNumber: '11010519491231002X' });
    await proofed(runtime, zhang.account.id, 'biometric_verified');
    const { ua, page } = await upToSecond(zhang);
    t.match(page.html, /<h1>还需一项验证<\/h1>/);
    t.match(page.html, /action="\/account\/reset\/face"/, 'face is offered');
    t.match(page.html, /action="\/account\/reset\/bank\/check"/, 'and the bank card');
    const skip = await ua.post('/account/reset/password', { csrf: csrfOf(page.html), password: NEW_PASSWORD, password_confirm: NEW_PASSWORD });
    t.equal(skip.response.status, 403, 'the password step cannot be reached without the second factor');
    const started = await ua.post('/account/reset/face', { csrf: csrfOf(page.html) });
    t.ok(started.redirectedTo, 'sent to the vendor capture page');
    const returnUrl = await faceCapture(started.redirectedTo!);
    t.match(new URL(returnUrl).pathname, /^\/interaction\/acct\.[A-Za-z0-9_-]+\/face\/return$/, 'the vendor returns through the interaction path');
    const back = await ua.get(returnUrl);
    t.equal(new URL(back.url).pathname, '/account/reset');
    t.match(back.html, /<label for="f-password">新密码<\/label>/, 'face passed: on to the password');
    const replay = await ua.get(returnUrl);
    t.equal(replay.response.status, 400, 'a replayed return counts nothing');
    const done = await ua.post('/account/reset/password', { csrf: csrfOf(back.html), password: NEW_PASSWORD, password_confirm: NEW_PASSWORD });
    t.match(done.html, /id="reset-done"/);
    const audit = await runtime.audit.list({ event: 'account.password_reset', accountId: zhang.account.id });
    t.match(audit[0], { result: 'success', detail: { secondFactor: 'face' } });
    t.ok((await runtime.audit.list({ event: 'face.verify', accountId: zhang.account.id })).some((e) => e.result === 'success'), 'the face service audited its check');
  });

  await t.test('face: a failed match keeps the reset at the second factor', async (t) => {
    const wang = await buildCitizen(runtime, { name: '王五', idNumber: '510107200002292462' });
    await proofed(runtime, wang.account.id, 'biometric_verified');
    const { ua, page } = await upToSecond(wang);
    const started = await ua.post('/account/reset/face', { csrf: csrfOf(page.html) });
    const back = await ua.get(await faceCapture(started.redirectedTo!));
    t.equal(new URL(back.url).pathname, '/account/reset');
    t.match(back.html, /人脸识别未通过/);
    t.match(back.html, /<h1>还需一项验证<\/h1>/);
    const audit = await runtime.audit.list({ event: 'face.verify', accountId: wang.account.id });
    t.equal(audit[0].result, 'failure');
    t.equal((await runtime.audit.list({ event: 'account.password_reset', accountId: wang.account.id })).length, 0);
  });

  await t.test('bank card: four elements, then the code to the bank\'s reserved phone', async (t) => {
    const li = await buildCitizen(runtime, { name: '李四', idNumber: '440305199002281231' });
    await proofed(runtime, li.account.id, 'bank_verified');
    const { ua, page } = await upToSecond(li);
    const csrf = csrfOf(page.html);
    const invalid = await ua.post('/account/reset/bank/check', { csrf, card_number: '6217000310098765439', phone: '13900139000' });
    t.equal(invalid.response.status, 400);
    t.match(invalid.html, /银行卡号无效/);
    const mismatch = await ua.post('/account/reset/bank/check', { csrf, card_number: '6222020200123456788', phone: '13900139000' });
    t.equal(mismatch.response.status, 401);
    t.match(mismatch.html, /银行卡核验未通过/);
    const sent = await ua.post('/account/reset/bank/check', { csrf, card_number: '6217000310098765438', phone: '13900139000' });
    t.equal(sent.response.status, 200);
    t.match(sent.html, /验证码已发送至银行预留手机 139\*\*\*\*9000/);
    const wrong = await ua.post('/account/reset/bank/confirm', { csrf, code: latestCode(runtime, '+8613900139000') === '000000' ? '111111' : '000000' });
    t.equal(wrong.response.status, 401);
    const confirmed = await ua.post('/account/reset/bank/confirm', { csrf, code: latestCode(runtime, '+8613900139000') });
    t.match(confirmed.html, /<label for="f-password">新密码<\/label>/);
    const done = await ua.post('/account/reset/password', { csrf, password: NEW_PASSWORD, password_confirm: NEW_PASSWORD });
    t.match(done.html, /id="reset-done"/);
    t.match((await runtime.audit.list({ event: 'account.password_reset', accountId: li.account.id }))[0], { detail: { secondFactor: 'bank' } });
  });
});

t.test('without face and bank-card services the SMS code suffices even for a strongly proofed account', async (t: Test) => {
  const { runtime, issuer } = await startSelfServiceServer(t, { env: { FACE_SERVICE_ENABLED: 'false', BANK_CARD_ENABLED: 'false' } });
  const zhao = await buildCitizen(runtime, { name: '赵六', idNumber: '310104198507160215' });
  await proofed(runtime, zhao.account.id, 'biometric_verified');
  const ua = createUserAgent(issuer);
  const sent = await startReset(ua, zhao.idNumber);
  const page = await ua.post('/account/reset/verify', { csrf: csrfOf(sent.html), code: latestCode(runtime, zhao.phone) });
  t.match(page.html, /<label for="f-password">新密码<\/label>/);
  const done = await ua.post('/account/reset/password', { csrf: csrfOf(page.html), password: NEW_PASSWORD, password_confirm: NEW_PASSWORD });
  t.match(done.html, /id="reset-done"/);
});
