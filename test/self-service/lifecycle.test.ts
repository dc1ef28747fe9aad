import t from 'tap';
import { ConfigError } from '../../src/config/load-config.ts';
import { createSelfService } from '../../src/self-service/service.ts';
import { DEFAULT_SELF_SERVICE_SETTINGS, loadSelfServiceSettings } from '../../src/self-service/settings.ts';
import { registerSelfServiceRoutes } from '../../src/self-service/routes.ts';
import { buildCitizen, TEST_PASSWORD } from '../helpers/builders.ts';
import { createUserAgent } from '../helpers/user-agent.ts';
import {
  accountLogin, completeStepUp, coolDown, csrfOf, startRelyingParty, startSelfServiceServer,
} from './self-service-server.ts';

const DAY = 86400_000;

t.test('settings: defaults, environment keys, refusals', async (t) => {
  t.same(loadSelfServiceSettings({}), DEFAULT_SELF_SERVICE_SETTINGS);
  t.same(DEFAULT_SELF_SERVICE_SETTINGS, {
    coolingOffDays: 15, freshAuthSeconds: 300, sensitiveLevel: 'L2', retention: { proofings: 'delete', sources: 'delete' }, closureIntervalSeconds: 3600,
  });
  t.same(loadSelfServiceSettings({
    ACCOUNT_COOLING_OFF_DAYS: '30', ACCOUNT_FRESH_AUTH_SECONDS: '120', ACCOUNT_SENSITIVE_LEVEL: 'L3',
    ACCOUNT_CLOSED_PROOFINGS: 'anonymise', ACCOUNT_CLOSED_SOURCES: 'keep', ACCOUNT_CLOSURE_INTERVAL_SECONDS: '600',
  }), { coolingOffDays: 30, freshAuthSeconds: 120, sensitiveLevel: 'L3', retention: { proofings: 'anonymise', sources: 'keep' }, closureIntervalSeconds: 600 });
  const error = (() => {
    try {
      loadSelfServiceSettings({ ACCOUNT_COOLING_OFF_DAYS: '0', ACCOUNT_CLOSED_PROOFINGS: 'shred' });
    } catch (caught) {
      return caught;
    }
  })();
  t.ok(error instanceof ConfigError);
  t.same((error as ConfigError).problems, [
    'ACCOUNT_COOLING_OFF_DAYS must be an integer from 1 to 365, got "0"',
    'ACCOUNT_CLOSED_PROOFINGS must be one of delete, anonymise, keep, got "shred"',
  ]);
});

t.test('export, deregistration with a cooling-off period, closure, registering again', async (t) => {
  let offset = 0;
  const now = () => new Date(Date.now() + offset);
  const { runtime, issuer, app, service } = await startSelfServiceServer(t, { clock: now });
  const tax = await startRelyingParty(t, runtime, issuer, { clientId: 'tax', clientName: '电子税务局' });
  const zhao = await buildCitizen(runtime, { name: '赵六', idNumber: '310104198507160215' });
  const { account } = zhao;
  await runtime.proofing.record(runtime.db, account.id, 'bank_verified', { vendor: 'test', bin: '622588', last4: '6783' }, now());
  await runtime.db.query("INSERT INTO account_sources (source, legacy_user_id, account_id) VALUES ('old-portal', 'u-1001', $1)", [account.id]);
  const rpBrowser = createUserAgent(issuer);
  const rpTokens = await tax.login(rpBrowser, zhao);
  const ua = createUserAgent(issuer);

  await t.test('a wrong sensitive level is refused at registration', async (t) => {
    await t.rejects(registerSelfServiceRoutes(app, {
      runtime, issuer, cookieSecret: runtime.config.cookieSecrets[0], settings: { ...DEFAULT_SELF_SERVICE_SETTINGS, sensitiveLevel: 'L9' },
    }), /ACCOUNT_SENSITIVE_LEVEL "L9" is not a defined level/);
  });

  await t.test('export: a fresh L2 login, then the whole record as a JSON download', async (t) => {
    const overview = await accountLogin(ua, zhao);
    const csrf = csrfOf(overview.html);
    const early = await ua.post('/account/export', { csrf });
    t.match(early.url, /\/interaction\//, 'an L1 session is sent to the re-login');
    const login = await fetch(`${issuer}/account/login?next=export`, { redirect: 'manual' });
    const location = new URL(login.headers.get('location')!);
    t.equal(location.searchParams.get('acr_values'), `${issuer}/acr/L2`);
    t.equal(location.searchParams.get('max_age'), '300');

    const stepUp = await ua.get('/account/export');
    t.match(stepUp.html, /还需完成：短信验证码/, 'L2 needs the SMS code besides the password');
    const page = await completeStepUp(runtime, ua, stepUp, zhao);
    t.equal(new URL(page.url).pathname, '/account/export');
    t.match(page.html, /<h1>导出我的数据<\/h1>/);

    const noCsrf = await ua.post('/account/export', { csrf: 'x'.repeat(43) });
    t.equal(noCsrf.response.status, 403);
    const download = await fetch(`${issuer}/account/export`, {
      method: 'POST', redirect: 'manual',
      headers: { cookie: [...ua.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: csrfOf(page.html) }).toString(),
    });
    t.equal(download.status, 200);
    t.match(download.headers.get('content-type'), /^application\/json; charset=utf-8/);
    t.match(download.headers.get('content-disposition'), /^attachment; filename="account-export-\d{8}\.json"$/);
    t.equal(download.headers.get('cache-control'), 'no-store');
    const data = await download.json() as Record<string, any>;
    t.equal(data.format, 'gov-idp-account-export/1');
    t.match(data.account, { id: account.id, name: '赵六', idNumber: zhao.idNumber, phone: zhao.phone, status: 'active', password: { set: true } },
      'decrypted: it is the person\'s own data');
    t.notOk(JSON.stringify(data).includes('$argon2'), 'no password hash');
    t.match(data.proofings, [{ proofing: 'bank_verified', evidence: { bin: '622588', last4: '6783' } }]);
    t.match(data.sources, [{ source: 'old-portal', legacy_user_id: 'u-1001' }]);
    t.equal(data.sessions.length, 2, 'the tax bureau session and this one');
    t.match(data.consents, [{ clientId: 'tax', clientName: '电子税务局' }]);
    const events = data.auditTrail.map((e: { event: string }) => e.event);
    for (const event of ['account.registered', 'login.password', 'login.step_up', 'account.exported']) t.ok(events.includes(event), `the audit trail holds ${event}`);
    const audit = await runtime.audit.list({ event: 'account.exported', accountId: account.id });
    t.match(audit, [{ result: 'success', actor: account.idNumberMasked, detail: { sessions: 2, consents: 1, proofings: 1, sources: 1 } }]);
  });

  let closesAt: Date;

  await t.test('deregistration: explained, confirmed, then signed out everywhere', async (t) => {
    const page = await ua.get('/account/deregister');
    t.equal(page.response.status, 200, 'the fresh L2 login of the export still counts');
    const expected = new Date(now().getTime() + 15 * DAY);
    t.match(page.html, /提交申请后有 15 天冷静期/);
    t.match(page.html, /冷静期结束后删除：姓名、身份证号码、手机号码、密码、登录记录、身份核验凭证、与原有系统账号的关联。/);
    t.match(page.html, /按法定期限保留：安全审计记录（其中身份证号码、手机号码均已脱敏）。/);
    t.match(page.html, /<label for="f-confirm">/);
    const csrf = csrfOf(page.html);
    const unconfirmed = await ua.post('/account/deregister', { csrf });
    t.equal(unconfirmed.response.status, 400);
    t.match(unconfirmed.html, /请先勾选确认/);
    t.equal((await runtime.accounts.findById(account.id))!.status, 'active');

    const done = await ua.post('/account/deregister', { csrf, confirm: 'yes' });
    t.equal(done.response.status, 200);
    t.match(done.html, /id="deregistered">您的账号将于 .* 注销/);
    const after = (await runtime.accounts.findById(account.id))!;
    t.equal(after.status, 'closing');
    t.equal(after.statusReason, 'self_service');
    t.ok(Math.abs(after.closesAt!.getTime() - expected.getTime()) < 5000, 'closes 15 days from now (the runtime clock)');
    closesAt = after.closesAt!;
    t.match((await runtime.audit.list({ event: 'account.deregistration_requested', accountId: account.id }))[0], {
      result: 'success', actor: account.idNumberMasked, detail: { coolingOffDays: 15, closesAt: closesAt.toISOString() },
    });
    t.equal((await runtime.db.query("SELECT 1 FROM oidc_payloads WHERE model = 'Session' AND account_id = $1", [account.id])).rowCount, 0, 'every session ended');
    t.ok(tax.received.some((r) => r.sid === rpTokens.claims()!.sid), 'the tax bureau was told');
    t.match((await ua.get('/account/')).url, /\/interaction\//, 'signed out of the account page');
    t.match(runtime.sandboxSms!.latestTo(zhao.phone), { template: 'notice', text: /申请注销政务服务账号.*在此之前重新登录即可撤销申请/ });

    // Someone who forgot the password can still reset it during the period, to sign in and cancel.
    await coolDown();
    const reset = createUserAgent(issuer);
    const first = await reset.get('/account/reset');
    await reset.post('/account/reset/start', { csrf: csrfOf(first.html), id_number: zhao.idNumber });
    t.match(runtime.sandboxSms!.latestTo(zhao.phone), { template: 'otp_login' }, 'a closing account still gets its reset code');
    t.equal((await runtime.accounts.findById(account.id))!.status, 'closing', 'asking for a reset does not cancel the closure');
  });

  await t.test('a login during the cooling-off period cancels it (the login hook)', async (t) => {
    offset = 5 * DAY;
    t.equal(await service.cancelDeregistrationOnLogin(zhao.account.id), true);
    const active = (await runtime.accounts.findById(account.id))!;
    t.equal(active.status, 'active');
    t.equal(active.closesAt, null);
    t.match((await runtime.audit.list({ event: 'account.deregistration_cancelled', accountId: account.id }))[0], {
      result: 'success', detail: { by: 'login', closesAt: closesAt.toISOString() },
    });
    t.equal(await service.cancelDeregistrationOnLogin(account.id), false, 'an active account: nothing to cancel');
    t.equal(await service.cancelDeregistrationOnLogin('not-a-uuid'), false);
    t.equal((await runtime.audit.list({ event: 'account.deregistration_cancelled', accountId: account.id })).length, 1);
    const overview = await accountLogin(ua, zhao);
    t.equal(new URL(overview.url).pathname, '/account/', 'the account works again');
  });

  await t.test('after the cooling-off period the account is closed, personal data removed, audit trail kept', async (t) => {
    await coolDown();
    ({ closesAt } = await service.requestDeregistration(account.id, { ip: '10.0.0.9' }));
    t.equal((await service.runClosures(new Date(closesAt.getTime() - DAY))).closed.length, 0, 'not before the period ends');
    t.equal(await service.cancelDeregistrationOnLogin(account.id, new Date(closesAt.getTime() + 1000)), false, 'too late to cancel once it is over');
    const auditBefore = (await runtime.audit.list({ accountId: account.id, limit: 1000 })).length;

    // Two nodes running the job at once close it once.
    const second = createSelfService(runtime);
    const [a, b] = await Promise.all([service.runClosures(new Date(closesAt.getTime() + 60_000)), second.runClosures(new Date(closesAt.getTime() + 60_000))]);
    t.same([...a.closed, ...b.closed], [account.id], 'closed once');
    t.same([...a.failed, ...b.failed], []);
    t.same((await service.runClosures(new Date(closesAt.getTime() + 2 * DAY))).closed, [], 'idempotent');

    const { rows } = await runtime.db.query('SELECT * FROM accounts WHERE id = $1', [account.id]);
    const row = rows[0];
    t.equal(row.status, 'closed');
    t.equal(row.id_number_masked, account.idNumberMasked, 'the masked ID number stays');
    for (const column of ['id_number_hash', 'id_number_enc', 'name_enc', 'name_hash', 'phone_hash', 'phone_enc', 'phone_masked', 'phone_verified_at',
      'password_hash', 'password_changed_at', 'legacy_password_hash', 'legacy_password_algorithm', 'closes_at']) {
      t.equal(row[column], null, `${column} is removed`);
    }
    t.same(row.roles, []);
    for (const table of ['account_proofings', 'account_sources', 'session_factors']) {
      t.equal((await runtime.db.query(`SELECT 1 FROM ${table} WHERE account_id = $1`, [account.id])).rowCount, 0, `${table}: deleted (the default policy)`);
    }
    const trail = await runtime.audit.list({ accountId: account.id, limit: 1000 });
    t.ok(trail.length > auditBefore, 'the audit trail is kept and grows');
    const closed = trail.find((e) => e.event === 'account.closed')!;
    t.match(closed, { result: 'success', actor: 'system:closure', detail: { idNumberMasked: account.idNumberMasked, retention: { proofings: 'delete', sources: 'delete' }, removed: { proofings: 1, sources: 1 } } });
    const text = JSON.stringify(trail.map((e) => ({ actor: e.actor, detail: e.detail })));
    t.notOk(text.includes(zhao.idNumber), 'no full ID number in the audit trail');
    t.notOk(text.includes(zhao.phone.slice(3)), 'no full phone number in the audit trail');
    t.match(runtime.sandboxSms!.latestTo(zhao.phone), { template: 'notice', text: /账号已于.*注销/ });
    t.notOk(await runtime.accounts.findByPhone(zhao.phone), 'the phone no longer finds the account');
    t.notOk((await runtime.accounts.findByIdentifier(zhao.idNumber)).account, 'nor the ID number');
    const login = await accountLogin(createUserAgent(issuer), zhao);
    t.match(login.html, /账号或密码错误/, 'no login any more');
  });

  await t.test('the ID number and phone can register again', async (t) => {
    const again = await runtime.accounts.register({ name: '赵六', idNumber: zhao.idNumber, phone: zhao.phone, password: TEST_PASSWORD, ip: '127.0.0.1' });
    t.not(again.id, account.id, 'a new account');
    t.equal(again.status, 'active');
    t.equal((await runtime.accounts.findByIdentifier(zhao.idNumber)).account?.id, again.id);
    const overview = await accountLogin(createUserAgent(issuer), zhao);
    t.equal(new URL(overview.url).pathname, '/account/');
    t.notMatch(overview.html, /account.closed/, 'the new account starts with its own audit trail');
  });

  await t.test('the retention policy can keep proofing facts or evidence, and legacy links', async (t) => {
    for (const [proofings, sources] of [['anonymise', 'keep'], ['keep', 'delete']] as const) {
      const settings = { ...DEFAULT_SELF_SERVICE_SETTINGS, retention: { proofings, sources } };
      const policyService = createSelfService(runtime, settings);
      const citizen = await buildCitizen(runtime, { name: proofings === 'keep' ? '孙七' : '周晓梅', idNumber: proofings === 'keep' ? '320102199211030343' : '330106197805220126' });
      await runtime.proofing.record(runtime.db, citizen.account.id, 'biometric_verified', { vendor: 'test', transactionId: 'tx-1', score: 93 }, now());
      await runtime.db.query("INSERT INTO account_sources (source, legacy_user_id, account_id) VALUES ('old-portal', $2, $1)", [citizen.account.id, `u-${proofings}`]);
      const { closesAt: due } = await policyService.requestDeregistration(citizen.account.id, {});
      t.same((await policyService.runClosures(new Date(due.getTime() + 1000))).closed, [citizen.account.id]);
      const kept = (await runtime.db.query('SELECT proofing, evidence FROM account_proofings WHERE account_id = $1', [citizen.account.id])).rows;
      t.same(kept, [{ proofing: 'biometric_verified', evidence: proofings === 'keep' ? { vendor: 'test', transactionId: 'tx-1', score: 93 } : {} }], `proofings: ${proofings}`);
      t.equal((await runtime.db.query('SELECT 1 FROM account_sources WHERE account_id = $1', [citizen.account.id])).rowCount, sources === 'keep' ? 1 : 0, `sources: ${sources}`);
      t.equal((await runtime.accounts.findById(citizen.account.id))!.status, 'closed');
    }
  });
});
