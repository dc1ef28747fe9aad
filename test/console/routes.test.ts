import t, { type Test } from 'tap';
import type { Runtime } from '../../src/bootstrap/runtime.ts';
import { ensureConsoleClient } from '../../src/console/routes.ts';
import { buildCitizen } from '../helpers/builders.ts';
import { latestCode, RP_CALLBACK } from '../helpers/oidc.ts';
import { createUserAgent, formOf } from '../helpers/user-agent.ts';
import { grantRoles, startConsoleServer } from './console-server.ts';

type Ua = ReturnType<typeof createUserAgent>;
type Citizen = Awaited<ReturnType<typeof buildCitizen>>;

/** The names and values of every input of the first form whose action ends with `suffix`. */
function formFields(html: string, suffix: string): Record<string, string> {
  const form = [...html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)].find((m) => m[1].endsWith(suffix));
  if (!form) throw new Error(`no form ending with ${suffix}`);
  return Object.fromEntries([...form[2].matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)].map((m) => [m[1], m[2]]));
}

/** Password, then the SMS step-up the console's level asks for, then back through /console/callback. */
async function consoleLogin(t: Test, runtime: Runtime, ua: Ua, citizen: Citizen) {
  const login = await ua.get('/console/');
  t.match(login.url, /\/interaction\/[^/]+$/, 'the console sends the browser to the provider login page');
  const form = formOf(login.html, '/login');
  const afterPassword = await ua.post(form.action, { csrf: form.csrf, identifier: citizen.idNumber, password: citizen.password });
  t.match(afterPassword.html, /还需完成：短信验证码/, 'the console level needs the SMS step-up after the password');
  const send = formOf(afterPassword.html, '/step-up/sms/send');
  const sent = await ua.post(send.action, { csrf: send.csrf });
  const verify = formOf(sent.html, '/step-up/sms/verify');
  return ua.post(verify.action, { csrf: verify.csrf, code: latestCode(runtime, citizen.phone) });
}

const sessionIdOf = (ua: Ua) => decodeURIComponent(ua.cookies.get('console_session') ?? '').split('.')[0];

async function policyRows(runtime: Runtime, clientId: string) {
  return (await runtime.db.query<{ scope: string; min_level: string; max_auth_age_seconds: number | null }>(
    'SELECT scope, min_level, max_auth_age_seconds FROM level_policies WHERE client_id = $1 ORDER BY scope', [clientId])).rows;
}

t.test('admin console: login at the console level, roles enforced, policy change through a confirmation', async (t) => {
  const { runtime, issuer } = await startConsoleServer(t, { ADMIN_CONSOLE_LEVEL: 'L2', SMS_COOLDOWN_SECONDS: '1' });
  const tax = await runtime.clients.create({ client_id: 'tax', client_name: '电子税务局', redirect_uris: [RP_CALLBACK], grant_types: ['authorization_code'], require_consent: false });
  await runtime.clients.create({ client_id: 'bus', client_name: '公交查询', redirect_uris: [RP_CALLBACK], grant_types: ['authorization_code'], require_consent: false });
  t.ok(tax.client_secret);

  // The console client and its level policy.
  const consoleClient = await runtime.clients.find('admin-console');
  t.same(consoleClient?.redirect_uris, [`${issuer}/console/callback`]);
  t.same(consoleClient?.post_logout_redirect_uris, [`${issuer}/console/`]);
  t.equal(consoleClient?.require_consent, false);
  t.same(await policyRows(runtime, 'admin-console'), [{ scope: '*', min_level: 'L2', max_auth_age_seconds: null }]);
  await ensureConsoleClient(runtime, issuer);
  // A new public host name: the redirect URIs follow it, the secret stays.
  await ensureConsoleClient(runtime, 'https://idp.example.gov.cn');
  const moved = await runtime.clients.find('admin-console');
  t.same(moved?.redirect_uris, ['https://idp.example.gov.cn/console/callback']);
  t.equal(moved?.client_secret, consoleClient?.client_secret, 'the secret is kept');
  await ensureConsoleClient(runtime, issuer);
  t.same((await runtime.clients.find('admin-console'))?.post_logout_redirect_uris, [`${issuer}/console/`]);
  t.equal((await runtime.audit.list({ event: 'admin.policy.updated', clientId: 'admin-console' })).length, 1, 'ensureConsoleClient is idempotent');

  // A login recorded with its level shows on the overview; one without shows a dash.
  await runtime.audit.record({ event: 'token.issued', result: 'success', clientId: 'tax', detail: { grantType: 'authorization_code', acr: `${issuer}/acr/L1` } });
  await runtime.audit.record({ event: 'token.issued', result: 'success', clientId: 'tax', detail: { grantType: 'authorization_code', acr: `${issuer}/acr/L2` } });
  await runtime.audit.record({ event: 'token.issued', result: 'success', clientId: 'bus', detail: { grantType: 'authorization_code' } });

  await t.test('not signed in: redirected to the login, which asks the provider for the console level with PKCE', async (t) => {
    const overview = await fetch(`${issuer}/console/`, { redirect: 'manual' });
    t.equal(overview.status, 302);
    t.equal(overview.headers.get('location'), '/console/login');
    t.equal(overview.headers.get('cache-control'), 'no-store');
    const english = await fetch(`${issuer}/console/?lang=en`, { redirect: 'manual' });
    t.match(english.headers.get('set-cookie') ?? '', /console_lang=en/, 'the language choice survives the redirect to the login');
    const audit = await fetch(`${issuer}/console/audit`, { redirect: 'manual' });
    t.equal(audit.headers.get('location'), '/console/login');
    const post = await fetch(`${issuer}/console/policies/confirm`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'tax', min_level: 'L1', scope: '*', max_auth_age_seconds: '', expected: 'none' }).toString(),
    });
    t.equal(post.status, 401, 'a POST without a session is refused');
    const login = await fetch(`${issuer}/console/login`, { redirect: 'manual' });
    t.equal(login.status, 302);
    const location = new URL(login.headers.get('location')!);
    t.equal(location.origin + location.pathname, `${issuer}/auth`);
    t.equal(location.searchParams.get('client_id'), 'admin-console');
    t.equal(location.searchParams.get('acr_values'), `${issuer}/acr/L2`);
    t.equal(location.searchParams.get('code_challenge_method'), 'S256');
    t.equal(location.searchParams.get('redirect_uri'), `${issuer}/console/callback`);
    t.match(login.headers.get('set-cookie') ?? '', /console_login=[^;]+;.*Path=\/console.*HttpOnly.*SameSite=Lax/i);
    const stray = await fetch(`${issuer}/console/callback?code=x&state=y`, { redirect: 'manual' });
    t.equal(stray.status, 400, 'a callback without a login started by the console is refused');
  });

  await t.test('a citizen without an admin role gets a 403 page', async (t) => {
    const citizen = await buildCitizen(runtime);
    const ua = createUserAgent(issuer);
    const page = await consoleLogin(t, runtime, ua, citizen);
    t.equal(page.response.status, 403);
    t.match(page.html, /您的账号不是管理员/);
    t.notOk(ua.cookies.get('console_session'), 'no console session');
    const denied = await runtime.audit.list({ event: 'admin.denied', accountId: citizen.account.id });
    t.equal(denied.length, 1);
    t.equal(denied[0].actor, `account:${citizen.account.idNumberMasked}`);
  });

  const policyAdmin = await buildCitizen(runtime);
  await grantRoles(runtime, policyAdmin.account.id, ['policy_admin']);
  const adminUa = createUserAgent(issuer);
  let csrf = '';

  await t.test('a policy admin signs in and sees levels, relying parties, policies and recent levels', async (t) => {
    const page = await consoleLogin(t, runtime, adminUa, policyAdmin);
    t.equal(page.response.status, 200);
    t.equal(new URL(page.url).pathname, '/console/');
    t.equal(page.response.headers.get('cache-control'), 'no-store');
    t.match(page.response.headers.get('content-security-policy'), /default-src 'none'/);
    t.match(page.response.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    t.notMatch(page.html, /<script/i, 'no JavaScript');
    t.match(page.html, /<html lang="zh-CN">/);
    t.match(page.html, /认证级别与接入应用/);
    for (const level of ['L1', 'L2', 'L3', 'L4']) t.match(page.html, new RegExp(`${issuer}/acr/${level}`), `level ${level} with its acr URI`);
    t.match(page.html, /二级（实名）/);
    t.match(page.html, /人口库核验/, 'required proofing');
    t.match(page.html, /密码 \+ 短信验证码/, 'method combinations');
    t.match(page.html, /30 分钟 \/ 12 小时/, 'idle and absolute limits');
    t.match(page.html, /电子税务局/);
    t.match(page.html, /公交查询/);
    t.match(page.html, /最近一次：二级（实名）（L2）/, 'the latest level a login of tax reached');
    t.match(page.html, /id="client-bus"[\s\S]*?最近登录达到的级别<\/strong> —/, 'no acr recorded: a dash');
    t.match(page.html, /id="client-admin-console"[\s\S]*?data-scope="\*" data-level="L2"/, 'the console policy row');
    t.notMatch(page.html, /href="\/console\/audit"/, 'no audit link for a policy admin');
    t.match(page.html, /认证策略管理员/);
    const session = sessionIdOf(adminUa);
    t.ok(await runtime.hot.get(`console:${session}`), 'the console session is in the shared hot store');
    csrf = formOf(page.html, '/policies/preview').csrf;
    t.match(page.html, /name="client_id" value="tax"/, 'a policy form for tax');
    t.notMatch(page.html, /name="client_id" value="admin-console"/, 'the console policy is not editable');

    const english = await adminUa.get('/console/?lang=en');
    t.match(english.html, /<html lang="en">/);
    t.match(english.html, /Assurance levels and relying parties/);
    t.match(english.html, /Level 2 \(verified identity\)/);
    await adminUa.get('/console/?lang=zh-CN');
  });

  await t.test('raising tax from L1 to L2 goes through a plain-language confirmation', async (t) => {
    const preview = await adminUa.post('/console/policies/preview', { csrf, client_id: 'tax', min_level: 'L2', scope: '*', max_auth_age_seconds: '' });
    t.equal(preview.response.status, 200);
    t.match(preview.html, /将「电子税务局」的最低认证级别从 一级（基本）（L1）（默认，未设置策略） 提高到 二级（实名）（L2）。/);
    t.same(await policyRows(runtime, 'tax'), [], 'nothing changed before the confirmation');

    // Cancel: back to the overview, nothing changed.
    t.match(preview.html, /<form method="get" action="\/console\/">/, 'cancel is a plain link back');
    const cancelled = await adminUa.get('/console/');
    t.equal(cancelled.response.status, 200);
    t.same(await policyRows(runtime, 'tax'), [], 'cancel changes nothing');

    await adminUa.get('/console/?lang=en');
    const english = await adminUa.post('/console/policies/preview', { csrf, client_id: 'tax', min_level: 'L2', scope: '*', max_auth_age_seconds: '' });
    t.match(english.html, /Raise the minimum level of “电子税务局” for every request from Level 1 \(basic\) \(L1\) \(the default; no policy set\) to Level 2 \(verified identity\) \(L2\)\./);
    t.match(english.html, /href="\/console\/\?lang=zh-CN"/, 'the language switch of a POST answer leads to the overview');
    await adminUa.get('/console/?lang=zh-CN');

    const fields = formFields(preview.html, '/policies/confirm');
    t.equal(fields.expected, 'none');
    const done = await adminUa.post('/console/policies/confirm', fields);
    t.equal(done.response.status, 200);
    t.equal(new URL(done.url).pathname + new URL(done.url).search, '/console/?done=tax');
    t.match(done.html, /「电子税务局」的认证级别策略已更新/);
    t.same(await policyRows(runtime, 'tax'), [{ scope: '*', min_level: 'L2', max_auth_age_seconds: null }]);
    const audit = await runtime.audit.list({ event: 'admin.policy.updated', clientId: 'tax' });
    t.equal(audit.length, 1);
    t.equal(audit[0].actor, `account:${policyAdmin.account.idNumberMasked}`, 'the masked actor');
    t.same(audit[0].detail, { scope: '*', before: null, after: { minLevel: 'L2', maxAuthAgeSeconds: null } });
    t.ok(audit[0].ip);

    // A second change, now from an explicit policy; and with a maximum authentication age.
    const again = await adminUa.post('/console/policies/preview', { csrf, client_id: 'tax', min_level: 'L3', scope: 'id_number', max_auth_age_seconds: '900' });
    t.match(again.html, /将「电子税务局」在申请身份证号码（id_number）时的最低认证级别从 一级（基本）（L1）（默认，未设置策略） 提高到 三级（实人）（L3）。/);
    t.match(again.html, /认证有效时间从 不限 改为 15 分钟/);
    await adminUa.post('/console/policies/confirm', formFields(again.html, '/policies/confirm'));
    const lower = await adminUa.post('/console/policies/preview', { csrf, client_id: 'tax', min_level: 'L1', scope: '*', max_auth_age_seconds: '' });
    t.match(lower.html, /将「电子税务局」的最低认证级别从 二级（实名）（L2） 降低到 一级（基本）（L1）。/);
    t.match(lower.html, /降低级别后/, 'lowering carries a warning');
    // Someone else changes the policy between preview and confirmation: shown again, not overwritten.
    await runtime.policies.set({ clientId: 'tax', minLevel: 'L3' }, { name: 'someone-else' });
    const stale = await adminUa.post('/console/policies/confirm', formFields(lower.html, '/policies/confirm'));
    t.equal(stale.response.status, 409);
    t.match(stale.html, /该策略已被修改/);
    t.match(stale.html, /从 三级（实人）（L3） 降低到 一级（基本）（L1）/);
    t.equal((await policyRows(runtime, 'tax')).find((r) => r.scope === '*')?.min_level, 'L3');
    await runtime.policies.set({ clientId: 'tax', minLevel: 'L2' }, { name: 'someone-else' });
  });

  await t.test('invalid input shows the form again with an error; nothing changes', async (t) => {
    const before = await policyRows(runtime, 'tax');
    const auditBefore = (await runtime.audit.list({ event: 'admin.policy.updated' })).length;
    const cases: [Record<string, string>, RegExp][] = [
      [{ client_id: 'tax', min_level: 'L9', scope: '*', max_auth_age_seconds: '' }, /请选择已定义的认证级别（L1, L2, L3, L4）/],
      [{ client_id: 'tax', min_level: 'L2', scope: 'admin', max_auth_age_seconds: '' }, /适用范围无效/],
      [{ client_id: 'tax', min_level: 'L2', scope: '*', max_auth_age_seconds: 'soon' }, /认证有效时间须为/],
      [{ client_id: 'tax', min_level: 'L2', scope: '*', max_auth_age_seconds: '0' }, /认证有效时间须为/],
      [{ client_id: 'nobody', min_level: 'L2', scope: '*', max_auth_age_seconds: '' }, /找不到该接入应用/],
      [{ client_id: 'admin-console', min_level: 'L1', scope: '*', max_auth_age_seconds: '' }, /不能在此修改/],
    ];
    for (const [form, message] of cases) {
      for (const step of ['preview', 'confirm']) {
        const page = await adminUa.post(`/console/policies/${step}`, { csrf, expected: 'none', ...form });
        t.equal(page.response.status, 400, `${step} ${JSON.stringify(form)} → 400`);
        t.match(page.html, message);
        t.match(page.html, /role="alert"/);
      }
    }
    const bad = await adminUa.post('/console/policies/preview', { csrf, client_id: 'tax', min_level: 'L9', scope: '*', max_auth_age_seconds: '' });
    t.match(bad.html, /id="client-tax"[\s\S]*?aria-invalid="true"/, 'the field in error is marked');
    t.same(await policyRows(runtime, 'tax'), before, 'no policy changed');
    t.same(await policyRows(runtime, 'admin-console'), [{ scope: '*', min_level: 'L2', max_auth_age_seconds: null }]);
    t.equal((await runtime.audit.list({ event: 'admin.policy.updated' })).length, auditBefore, 'nothing audited');
  });

  await t.test('a POST without the CSRF token, or with a wrong one, is refused', async (t) => {
    const before = await policyRows(runtime, 'tax');
    const expected = `${before.find((r) => r.scope === '*')!.min_level}|`;
    const missing = await adminUa.post('/console/policies/confirm', { client_id: 'tax', min_level: 'L1', scope: '*', max_auth_age_seconds: '', expected });
    t.equal(missing.response.status, 403);
    t.match(missing.html, /页面已失效/);
    const wrong = await adminUa.post('/console/policies/confirm', { csrf: `${csrf.slice(0, -1)}${csrf.endsWith('A') ? 'B' : 'A'}`, client_id: 'tax', min_level: 'L1', scope: '*', max_auth_age_seconds: '', expected });
    t.equal(wrong.response.status, 403);
    const logout = await adminUa.post('/console/logout', {});
    t.equal(logout.response.status, 403, 'logout needs the token too');
    t.same(await policyRows(runtime, 'tax'), before, 'unchanged');
  });

  await t.test('a policy admin cannot read the audit log', async (t) => {
    const page = await adminUa.get('/console/audit');
    t.equal(page.response.status, 403);
    t.match(page.html, /您的角色无权执行此操作/);
    const denied = await runtime.audit.list({ event: 'admin.denied', accountId: policyAdmin.account.id });
    t.equal(denied[0].detail?.needed, 'audit:read');
  });

  await t.test('an auditor reads the audit log, filters it, and cannot change policies', async (t) => {
    const auditor = await buildCitizen(runtime);
    await grantRoles(runtime, auditor.account.id, ['auditor']);
    const ua = createUserAgent(issuer);
    const overview = await consoleLogin(t, runtime, ua, auditor);
    t.equal(overview.response.status, 200);
    t.match(overview.html, /href="\/console\/audit"/);
    t.notMatch(overview.html, /action="\/console\/policies\/preview"/, 'no policy forms for an auditor');
    const auditorCsrf = formFields(overview.html, '/console/logout').csrf;

    const all = await ua.get('/console/audit');
    t.equal(all.response.status, 200);
    t.match(all.html, /审计日志/);
    t.match(all.html, /最近 100 条审计记录/);
    t.match(all.html, /data-event="admin\.policy\.updated"/);
    t.match(all.html, new RegExp(`account:${policyAdmin.account.idNumberMasked.replace(/\*/g, '\\*')}`), 'the actor column');
    t.ok([...all.html.matchAll(/<tr data-event=/g)].length <= 100);
    const filtered = await ua.get('/console/audit?event=admin.policy.updated');
    const rows = [...filtered.html.matchAll(/<tr data-event="([^"]+)"/g)].map((m) => m[1]);
    t.ok(rows.length >= 2);
    t.ok(rows.every((e) => e === 'admin.policy.updated'), 'only the chosen event');
    t.match(filtered.html, /<option value="admin.policy.updated" selected>/);
    const unknown = await ua.get('/console/audit?event=nonsense');
    t.equal(unknown.response.status, 400);
    t.match(unknown.html, /未知的事件类型/);

    const before = await policyRows(runtime, 'tax');
    for (const step of ['preview', 'confirm']) {
      const post = await ua.post(`/console/policies/${step}`, { csrf: auditorCsrf, client_id: 'tax', min_level: 'L1', scope: '*', max_auth_age_seconds: '', expected: 'L2|' });
      t.equal(post.response.status, 403, `an auditor gets 403 on ${step}`);
    }
    t.same(await policyRows(runtime, 'tax'), before, 'unchanged');
    const denied = await runtime.audit.list({ event: 'admin.denied', accountId: auditor.account.id });
    t.equal(denied.length, 2);
    t.equal(denied[0].detail?.needed, 'policies:write');

    // A role taken away applies at the next request.
    await grantRoles(runtime, auditor.account.id, []);
    const revoked = await ua.get('/console/audit');
    t.equal(revoked.response.status, 403);
    t.match(revoked.html, /您的账号不是管理员/);
  });

  await t.test('logout ends the console session and the provider session', async (t) => {
    const session = sessionIdOf(adminUa);
    const cookie = `console_session=${adminUa.cookies.get('console_session')}`;
    const page = await adminUa.get('/console/logout');
    const fields = formFields(page.html, '/console/logout');
    const ended = await adminUa.post('/console/logout', fields);
    t.equal(new URL(ended.url).pathname, '/session/end', 'on to the provider end_session');
    t.equal(await runtime.hot.get(`console:${session}`), null, 'the console session is gone from the hot store');
    const replay = await fetch(`${issuer}/console/`, { headers: { cookie }, redirect: 'manual' });
    t.equal(replay.status, 302, 'the old cookie no longer opens the console');
    t.equal(replay.headers.get('location'), '/console/login');

    const providerForm = /<form[^>]*id="op.logoutForm"[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(ended.html);
    t.ok(providerForm, 'the provider asks to confirm the logout');
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(providerForm![2])![1];
    const out = await adminUa.post(providerForm![1], { xsrf, logout: 'yes' });
    t.equal(new URL(out.url).pathname, '/console/');
    t.equal(new URL(out.url).searchParams.get('state'), 'signed_out');
    t.match(out.html, /您已退出管理控制台和统一身份认证/);
    t.match(out.html, /href="\/console\/login"/);
    const again = await adminUa.get('/console/');
    t.match(again.url, /\/interaction\/[^/]+$/, 'signing in again needs the provider login');
    t.match(again.html, /name="password"/);
  });
});
