import t from 'tap';
import { buildCitizen, buildPhone } from '../helpers/builders.ts';
import { latestCode } from '../helpers/oidc.ts';
import { createUserAgent } from '../helpers/user-agent.ts';
import {
  accountLogin, completeStepUp, coolDown, csrfOf, faceCapture, startRelyingParty, startSelfServiceServer, type Ua,
} from './self-service-server.ts';

const national = (phone: string) => phone.slice(3);

t.test('change of the mobile number', async (t) => {
  let offset = 0;
  const { runtime, issuer, service } = await startSelfServiceServer(t, { clock: () => new Date(Date.now() + offset) });
  const tax = await startRelyingParty(t, runtime, issuer, { clientId: 'tax', clientName: '电子税务局', requireConsent: false });
  const holder = await buildCitizen(runtime, { name: '刘洋', idNumber: '610113200106080633' });
  const phoneOf = async (accountId: string) => (await runtime.accounts.findById(accountId))!.phone;

  /** Proves the new number and confirms; returns the page after the change. */
  async function newNumber(ua: Ua, csrf: string, phone: string) {
    const sent = await ua.post('/account/phone/new/send', { csrf, phone: national(phone) });
    if (sent.response.status !== 200) throw new Error(`new/send: ${sent.response.status}`);
    return ua.post('/account/phone/new/verify', { csrf, code: latestCode(runtime, phone) });
  }

  await t.test('with the old number: its code, then the new number\'s code', async (t) => {
    const citizen = await buildCitizen(runtime, { name: '陈志强', idNumber: '370202199512310175' });
    const { account } = citizen;
    const ua = createUserAgent(issuer);
    await accountLogin(ua, citizen);
    const page = await ua.get('/account/phone');
    t.equal(page.response.status, 200, 'a login just now is fresh enough');
    t.equal(page.response.headers.get('cache-control'), 'no-store');
    t.match(page.html, /<h1>更换手机号码<\/h1>/);
    t.match(page.html, new RegExp(`发送验证码至 ${account.phoneMasked!.replace(/\*/g, '\\*')}`));
    t.match(page.html, /政务服务大厅/, 'the in-person path is explained');
    const csrf = csrfOf(page.html);

    t.equal((await ua.post('/account/phone/old/send', { csrf: `${csrf.slice(0, -2)}xx` })).response.status, 403, 'a wrong CSRF token: refused');
    const early = await ua.post('/account/phone/new/send', { csrf, phone: national(buildPhone()) });
    t.equal(early.response.status, 400, 'no new number before the old one is proven');
    t.match(early.html, /本次更换已过期/);

    const sent = await ua.post('/account/phone/old/send', { csrf });
    t.match(sent.html, /验证码已发送至/);
    const wrong = await ua.post('/account/phone/old/verify', { csrf, code: latestCode(runtime, citizen.phone) === '000000' ? '111111' : '000000' });
    t.equal(wrong.response.status, 401);
    t.match(wrong.html, /验证码错误/);
    t.ok((await runtime.audit.list({ event: 'otp.verify', accountId: account.id })).some((e) => e.detail?.purpose === 'phone_change_old'), 'the wrong code is audited');
    const proven = await ua.post('/account/phone/old/verify', { csrf, code: latestCode(runtime, citizen.phone) });
    t.match(proven.html, /已验证原手机号码/);
    t.match(proven.html, /第二步：验证新手机号码/);

    const invalid = await ua.post('/account/phone/new/send', { csrf, phone: '12345' });
    t.equal(invalid.response.status, 400);
    t.match(invalid.html, /仅支持中国大陆手机号码/);
    const same = await ua.post('/account/phone/new/send', { csrf, phone: national(citizen.phone) });
    t.equal(same.response.status, 400);
    t.match(same.html, /这已经是您绑定的手机号码/);
    const taken = await ua.post('/account/phone/new/send', { csrf, phone: national(holder.phone) });
    t.equal(taken.response.status, 409);
    t.match(taken.html, /该手机号码已绑定其他账号/);
    t.match((await runtime.audit.list({ event: 'account.phone_changed', accountId: account.id }))[0], { result: 'failure', detail: { reason: 'phone_taken' } });

    const fresh = buildPhone();
    const newSent = await ua.post('/account/phone/new/send', { csrf, phone: national(fresh) });
    t.match(newSent.html, /验证码已发送至 139\*\*\*\*/);
    const wrongNew = await ua.post('/account/phone/new/verify', { csrf, code: latestCode(runtime, fresh) === '000000' ? '111111' : '000000' });
    t.equal(wrongNew.response.status, 401);
    const done = await ua.post('/account/phone/new/verify', { csrf, code: latestCode(runtime, fresh) });
    t.equal(new URL(done.url).pathname, '/account/');
    t.match(done.html, /手机号码已更换/);
    t.match(done.html, new RegExp(`id="bound-phone">${national(fresh).slice(0, 3)}\\*\\*\\*\\*${fresh.slice(-4)}`));
    t.equal(await phoneOf(account.id), fresh);
    t.equal((await runtime.accounts.findByPhone(fresh))?.id, account.id, 'the new number finds the account (HMAC look-up)');
    t.notOk(await runtime.accounts.findByPhone(citizen.phone), 'the old number is free');
    const audit = await runtime.audit.list({ event: 'account.phone_changed', accountId: account.id });
    t.match(audit[0], { result: 'success', actor: account.idNumberMasked, detail: { method: 'old_sms', before: account.phoneMasked, after: `${national(fresh).slice(0, 3)}****${fresh.slice(-4)}` } });
    t.match(runtime.sandboxSms!.latestTo(citizen.phone), { template: 'notice', text: /手机号码已于.*更换为/ }, 'a notice to the old number');
    t.match(runtime.sandboxSms!.latestTo(fresh), { template: 'notice', text: /本手机号码已于.*绑定到您的政务服务账号/ }, 'and to the new one');
    t.equal(new URL((await ua.get('/account/')).url).pathname, '/account/', 'this browser stays signed in');
  });

  await t.test('without the old number: bank card, and every other session ends', async (t) => {
    const li = await buildCitizen(runtime, { name: '李四', idNumber: '440305199002281231' });
    const elsewhere = createUserAgent(issuer);
    const rpTokens = await tax.login(elsewhere, li);
    const ua = createUserAgent(issuer);
    await accountLogin(ua, li);
    const page = await ua.get('/account/phone');
    t.match(page.html, /action="\/account\/phone\/lost\/face"/, 'face is offered');
    t.match(page.html, /action="\/account\/phone\/lost\/bank\/check"/, 'and the bank card');
    const csrf = csrfOf(page.html);
    const checked = await ua.post('/account/phone/lost/bank/check', { csrf, card_number: '6217 0003 1009 8765 438', phone: '13900139000' });
    t.match(checked.html, /验证码已发送至银行预留手机 139\*\*\*\*9000/);
    const proven = await ua.post('/account/phone/lost/bank/confirm', { csrf, code: latestCode(runtime, '+8613900139000') });
    t.match(proven.html, /银行卡核验已通过/);
    const fresh = buildPhone();
    const done = await newNumber(ua, csrf, fresh);
    t.match(done.html, /手机号码已更换/);
    t.equal(await phoneOf(li.account.id), fresh);
    t.match((await runtime.audit.list({ event: 'account.phone_changed', accountId: li.account.id }))[0], { result: 'success', detail: { method: 'bank' } });
    t.ok(tax.received.some((r) => r.sid === rpTokens.claims()!.sid), 'the other session was ended with a back-channel logout');
    const sessions = (await runtime.db.query<{ clients: string[] }>(
      "SELECT ARRAY(SELECT jsonb_object_keys(payload->'authorizations')) AS clients FROM oidc_payloads WHERE model = 'Session' AND account_id = $1", [li.account.id])).rows;
    t.same(sessions.map((s) => s.clients), [['account-portal']], 'only this browser\'s session is left');
    t.ok((await runtime.audit.list({ event: 'bank_card.verify', accountId: li.account.id })).some((e) => e.result === 'success'));
  });

  await t.test('without the old number: face verification', async (t) => {
    const zhang = await buildCitizen(runtime, { name: '张三', idNumber: '11010519491231002X' });
    const ua = createUserAgent(issuer);
    await accountLogin(ua, zhang);
    const page = await ua.get('/account/phone');
    const csrf = csrfOf(page.html);
    const started = await ua.post('/account/phone/lost/face', { csrf });
    t.ok(started.redirectedTo, 'sent to the vendor capture page');
    const back = await ua.get(await faceCapture(started.redirectedTo!));
    t.equal(new URL(back.url).pathname, '/account/face/return');
    t.match(back.html, /人脸识别已通过/);
    const fresh = buildPhone();
    const done = await newNumber(ua, csrf, fresh);
    t.match(done.html, /手机号码已更换/);
    t.match((await runtime.audit.list({ event: 'account.phone_changed', accountId: zhang.account.id }))[0], { detail: { method: 'face' } });
    const other = createUserAgent(issuer);
    const stolen = await other.get(back.url);
    t.equal(stolen.response.status, 400, 'the return cannot be used again, nor by another browser');
    t.notMatch(stolen.html, /人脸识别已通过/);
  });

  await t.test('in person: staff record the change through changePhoneByStaff', async (t) => {
    const huang = await buildCitizen(runtime, { name: '黄婷婷', idNumber: '440106199903190287' });
    const ua = createUserAgent(issuer);
    await accountLogin(ua, huang);
    const staff = { name: 'staff:hall-07', ip: '10.1.2.3' };
    await t.rejects(service.changePhoneByStaff(huang.account.id, national(buildPhone()), staff, ''), { code: 'invalid_input' }, 'a reason is required');
    await t.rejects(service.changePhoneByStaff(huang.account.id, '12345', staff, 'lost phone, ID card checked'), { code: 'invalid_phone' });
    await t.rejects(service.changePhoneByStaff(huang.account.id, national(holder.phone), staff, 'lost phone, ID card checked'), { code: 'phone_taken' });
    await t.rejects(service.changePhoneByStaff(huang.account.id, national(huang.phone), staff, 'lost phone, ID card checked'), { code: 'same_phone' });
    await t.rejects(service.changePhoneByStaff('00000000-0000-0000-0000-000000000000', national(buildPhone()), staff, 'lost phone'), { code: 'not_found' });
    t.equal(await phoneOf(huang.account.id), huang.phone, 'unchanged so far');
    const fresh = buildPhone();
    const result = await service.changePhoneByStaff(huang.account.id, national(fresh), staff, 'lost phone, ID card checked at hall 7');
    t.same(result, { before: huang.account.phoneMasked, after: `${national(fresh).slice(0, 3)}****${fresh.slice(-4)}` });
    t.equal(await phoneOf(huang.account.id), fresh);
    const audit = await runtime.audit.list({ event: 'admin.account.phone_changed', accountId: huang.account.id });
    t.equal(audit.length, 1);
    t.match(audit[0], { result: 'success', actor: 'staff:hall-07', ip: '10.1.2.3', detail: { reason: 'lost phone, ID card checked at hall 7', path: 'in_person', before: huang.account.phoneMasked } });
    t.equal((await runtime.db.query("SELECT 1 FROM oidc_payloads WHERE model = 'Session' AND account_id = $1", [huang.account.id])).rowCount, 0, 'every session ended');
    t.match((await ua.get('/account/')).url, /\/interaction\//, 'the account page asks for a login again');
    t.match(runtime.sandboxSms!.latestTo(fresh), { template: 'notice' });
  });

  await t.test('a login older than the fresh-authentication window is asked again (max_age)', async (t) => {
    const wu = await buildCitizen(runtime, { name: '郑丽华', idNumber: '12010119870214104X' });
    const ua = createUserAgent(issuer);
    await accountLogin(ua, wu);
    offset = 10 * 60 * 1000;
    const overview = await ua.get('/account/');
    t.equal(new URL(overview.url).pathname, '/account/', 'viewing needs no fresh login');
    const login = await fetch(`${issuer}/account/phone`, { redirect: 'manual', headers: { cookie: [...ua.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    t.equal(login.headers.get('location'), '/account/login?next=phone');
    const auth = await fetch(`${issuer}/account/login?next=phone`, { redirect: 'manual' });
    const location = new URL(auth.headers.get('location')!);
    t.equal(location.searchParams.get('max_age'), '300');
    t.equal(location.searchParams.get('acr_values'), `${issuer}/acr/L1`);
    const post = await ua.post('/account/phone/old/send', { csrf: csrfOf(overview.html) });
    t.match(post.url, /\/interaction\//, 'a stale POST is sent to the re-login too');
    t.equal(runtime.sandboxSms!.outbox().filter((m) => m.to === wu.phone).length, 0, 'and sends nothing');
    const stepUp = await ua.get('/account/phone');
    t.match(stepUp.html, /需要进一步验证/, 'the provider asks for one method again');
    await coolDown();
    const back = await completeStepUp(runtime, ua, stepUp, wu);
    t.equal(new URL(back.url).pathname, '/account/phone');
    t.match(back.html, /<h1>更换手机号码<\/h1>/);
  });
});
