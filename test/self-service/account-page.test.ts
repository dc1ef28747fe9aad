import * as client from 'openid-client';
import t from 'tap';
import { buildCitizen } from '../helpers/builders.ts';
import { RP_CALLBACK } from '../helpers/oidc.ts';
import { createUserAgent, formOf } from '../helpers/user-agent.ts';
import { accountLogin, formFields, oauthError, startRelyingParty, startSelfServiceServer } from './self-service-server.ts';

const rowsOf = (html: string, table: string) => {
  const body = new RegExp(`<table id="${table}">([\\s\\S]*?)</table>`).exec(html)?.[1] ?? '';
  return [...body.matchAll(/<tr data-[a-z]+="([^"]+)"[^>]*>([\s\S]*?)<\/tr>/g)].map((m) => ({ key: m[1], html: m[2], current: /class="current"/.test(m[0]) }));
};

t.test('account page: view, end a session, revoke a consent', async (t) => {
  const { runtime, issuer } = await startSelfServiceServer(t);
  const tax = await startRelyingParty(t, runtime, issuer, { clientId: 'tax', clientName: '电子税务局' });
  const citizen = await buildCitizen(runtime);
  const { account } = citizen;

  await t.test('not signed in: sent to the provider login as the account-portal relying party', async (t) => {
    const overview = await fetch(`${issuer}/account/`, { redirect: 'manual' });
    t.equal(overview.status, 302);
    t.equal(overview.headers.get('location'), '/account/login?next=overview');
    t.equal(overview.headers.get('cache-control'), 'no-store');
    const login = await fetch(`${issuer}/account/login`, { redirect: 'manual' });
    const location = new URL(login.headers.get('location')!);
    t.equal(location.origin + location.pathname, `${issuer}/auth`);
    t.equal(location.searchParams.get('client_id'), 'account-portal');
    t.equal(location.searchParams.get('acr_values'), `${issuer}/acr/L1`);
    t.equal(location.searchParams.get('code_challenge_method'), 'S256');
    t.equal(location.searchParams.get('max_age'), null, 'viewing needs no fresh authentication');
    t.same(JSON.parse(location.searchParams.get('claims')!), { id_token: { sid: null } });
    t.match(login.headers.get('set-cookie') ?? '', /account_login=[^;]+;.*Path=\/account.*HttpOnly.*SameSite=Lax/i);
    const post = await fetch(`${issuer}/account/sessions/end`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'uid=xxxxxxxxxxxx',
    });
    t.equal(post.status, 401, 'a POST without a session is refused');
    const stray = await fetch(`${issuer}/account/callback?code=x&state=y`, { redirect: 'manual' });
    t.equal(stray.status, 400, 'a callback without a login started here is refused');
  });

  // Device A signs in to the tax bureau (consent), device C too with offline access (a refresh token).
  const deviceA = createUserAgent(issuer);
  const tokensA = await tax.login(deviceA, citizen);
  const deviceC = createUserAgent(issuer);
  const tokensC = await tax.login(deviceC, citizen, { offline: true });
  t.ok(tokensC.refresh_token, 'device C holds a refresh token');
  const ua = createUserAgent(issuer);
  let csrf = '';

  await t.test('the overview shows masked data, phone, methods, sessions, consents and the audit trail', async (t) => {
    const page = await accountLogin(ua, citizen);
    t.equal(page.response.status, 200);
    t.equal(new URL(page.url).pathname, '/account/');
    t.equal(page.response.headers.get('cache-control'), 'no-store');
    t.match(page.response.headers.get('content-security-policy'), /default-src 'none'/);
    t.match(page.response.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    t.equal(page.response.headers.get('x-frame-options'), 'DENY');
    t.notMatch(page.html, /<script/i, 'no JavaScript');
    t.match(page.html, /<html lang="zh-CN">/);
    t.match(page.html, /<h1>我的账号<\/h1>/);
    t.match(page.html, new RegExp(`id="profile-id-number">${account.idNumberMasked.replace(/\*/g, '\\*')}<`), 'masked ID number');
    t.notMatch(page.html, new RegExp(citizen.idNumber), 'never the full ID number');
    t.match(page.html, new RegExp(`id="profile-name">${[...citizen.name][0]}\\*+<`), 'masked name');
    t.notMatch(page.html, new RegExp(`>${citizen.name}<`), 'never the full name');
    t.match(page.html, new RegExp(`id="bound-phone">${account.phoneMasked!.replace(/\*/g, '\\*')}（已验证）`), 'the bound phone, masked');
    t.notMatch(page.html, new RegExp(citizen.phone.slice(3)), 'never the full phone');
    t.match(page.html, /人口库核验/, 'the proofing');
    t.match(page.html, /id="auth-password"><th scope="row">密码<\/th><td>已设置，最近修改：/);
    t.match(page.html, /id="auth-cert">[\s\S]*?未登记数字证书/, 'certificates: none, and how to get one');

    const sessions = rowsOf(page.html, 'session-list');
    t.equal(sessions.length, 3, 'three sessions: devices A, C and this browser');
    t.equal(sessions.filter((s) => s.current).length, 1, 'one is marked as this browser');
    t.match(sessions.find((s) => s.current)!.html, /当前浏览器[\s\S]*个人账号中心/);
    t.equal(sessions.filter((s) => /电子税务局/.test(s.html)).length, 2, 'the sessions of devices A and C name the tax bureau');

    const consents = rowsOf(page.html, 'consent-list');
    t.same(consents.map((c) => c.key), ['tax'], 'the tax bureau is the one consent (the account page itself is not listed)');
    t.match(consents[0].html, /电子税务局[\s\S]*您的账号标识、姓名（含离线访问）/);

    const events = rowsOf(page.html, 'event-list').map((e) => e.key);
    for (const event of ['account.registered', 'login.password', 'consent.granted', 'token.issued']) t.ok(events.includes(event), `the audit trail shows ${event}`);
    t.ok(events.length <= 50);
    t.match(page.html, /最近 50 条/);
    csrf = formFields(page.html, '/account/sessions/end').csrf;

    const english = await ua.get('/account/?lang=en');
    t.match(english.html, /<html lang="en">/);
    t.match(english.html, /<h1>My account<\/h1>/);
    t.match(english.html, /Sessions/);
    t.match(english.html, /href="\/account\/\?lang=zh-CN"/);
    await ua.get('/account/?lang=zh-CN');
  });

  const sessionRow = async (tokens: { claims(): client.IDToken | undefined }) => {
    const sid = tokens.claims()!.sid;
    const { rows } = await runtime.db.query<{ uid: string; id: string }>(
      "SELECT uid, id FROM oidc_payloads WHERE model = 'Session' AND payload->'authorizations'->'tax'->>'sid' = $1", [sid]);
    return rows[0];
  };

  await t.test('ending device A\'s session tells the tax bureau and asks device A to sign in again', async (t) => {
    const target = await sessionRow(tokensA);
    t.ok(target, 'device A has a session');
    const grantA = (await runtime.db.query<{ grant_id: string }>(
      "SELECT payload->'authorizations'->'tax'->>'grantId' AS grant_id FROM oidc_payloads WHERE model = 'Session' AND id = $1", [target.id])).rows[0].grant_id;

    const missing = await ua.post('/account/sessions/end', { uid: target.uid });
    t.equal(missing.response.status, 403, 'no CSRF token: refused');
    const unknown = await ua.post('/account/sessions/end', { csrf, uid: 'no-such-session-uid' });
    t.match(unknown.url, /error=session_not_found/);
    t.match(unknown.html, /该会话已不存在/);
    t.ok(await sessionRow(tokensA), 'still there');

    const done = await ua.post('/account/sessions/end', { csrf, uid: target.uid });
    t.equal(done.response.status, 200);
    t.match(done.url, /done=session_ended/);
    t.match(done.html, /会话已结束/);
    t.notOk(await sessionRow(tokensA), 'the session row is gone');
    t.equal(rowsOf(done.html, 'session-list').length, 2);
    t.same(tax.received.map((r) => r.sid), [tokensA.claims()!.sid], 'the tax bureau got a back-channel logout for that session');
    t.equal(tax.received[0].sub, account.id);
    t.equal((await runtime.db.query("SELECT 1 FROM oidc_payloads WHERE model = 'Grant' AND id = $1", [grantA])).rowCount, 0, 'its session-bound grant went with it');
    const audit = await runtime.audit.list({ event: 'account.session_ended', accountId: account.id });
    t.equal(audit.length, 1);
    t.match(audit[0], { result: 'success', actor: account.idNumberMasked, detail: { sessionUid: target.uid, clients: ['tax'], notified: 1 } });
    t.ok(audit[0].ip);

    const again = await deviceA.get(client.buildAuthorizationUrl(tax.config, {
      redirect_uri: RP_CALLBACK, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256', state: 's',
    }).toString());
    t.match(again.html, /name="password"/, 'device A must sign in again');
  });

  await t.test('revoking the tax bureau\'s consent deletes its grants and tokens and tells it', async (t) => {
    t.ok(await client.refreshTokenGrant(tax.config, tokensC.refresh_token!).then((r) => r.refresh_token), 'the refresh token works before');
    const before = tax.received.length;
    const fields = formFields((await ua.get('/account/')).html, '/account/consents/revoke');
    t.equal(fields.client_id, 'tax');
    const own = await ua.post('/account/consents/revoke', { csrf, client_id: 'account-portal' });
    t.match(own.url, /error=consent_not_found/, 'the account page\'s own authorisation is not revocable here');
    const nobody = await ua.post('/account/consents/revoke', { csrf, client_id: 'nobody' });
    t.match(nobody.url, /error=consent_not_found/);
    t.match(nobody.html, /没有找到该授权/);

    const done = await ua.post('/account/consents/revoke', fields);
    t.match(done.url, /done=consent_revoked/);
    t.match(done.html, /授权已撤销/);
    t.same(rowsOf(done.html, 'consent-list'), [], 'no consent left');
    t.equal((await runtime.db.query("SELECT 1 FROM oidc_payloads WHERE model = 'Grant' AND account_id = $1 AND payload->>'clientId' = 'tax'", [account.id])).rowCount, 0);
    t.equal((await runtime.db.query("SELECT 1 FROM oidc_payloads WHERE model = 'RefreshToken' AND account_id = $1", [account.id])).rowCount, 0, 'refresh tokens are gone');
    t.equal(await oauthError(client.refreshTokenGrant(tax.config, tokensC.refresh_token!)), 'invalid_grant', 'the refresh token no longer works');
    t.same(tax.received.slice(before).map((r) => r.sid), [tokensC.claims()!.sid], 'the tax bureau was told to end device C\'s sign-in');
    const audit = await runtime.audit.list({ event: 'consent.revoked', accountId: account.id });
    t.equal(audit.length, 1);
    t.match(audit[0], { result: 'success', clientId: 'tax', actor: account.idNumberMasked, detail: { grants: 1, notified: 1 } });
    t.match(done.html, /data-event="consent.revoked"[\s\S]*?撤销授权/, 'the page shows it in the audit trail');
  });

  await t.test('ending this browser\'s own session signs the account page out', async (t) => {
    const page = await ua.get('/account/');
    const current = rowsOf(page.html, 'session-list').find((s) => s.current)!;
    const done = await ua.post('/account/sessions/end', { csrf, uid: current.key });
    t.equal(done.response.status, 200);
    t.match(done.html, /您结束了当前浏览器的会话/);
    t.notOk(ua.cookies.get('account_session'), 'the account-page cookie is cleared');
    const back = await ua.get('/account/');
    t.match(back.url, /\/interaction\/[^/]+$/, 'the provider asks for a login again');
  });

  await t.test('a provider session ended elsewhere ends the account page too', async (t) => {
    const page = await accountLogin(ua, citizen);
    t.equal(new URL(page.url).pathname, '/account/');
    await runtime.endAllSessions(account.id, 'test');
    const after = await fetch(`${issuer}/account/`, { redirect: 'manual', headers: { cookie: [...ua.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    t.equal(after.status, 302);
    t.equal(after.headers.get('location'), '/account/login?next=overview');
  });

  await t.test('sign-out ends the account page and the provider session', async (t) => {
    const page = await accountLogin(ua, citizen);
    const logout = await ua.get('/account/logout');
    t.match(logout.html, /是否退出个人账号中心和统一身份认证/);
    const ended = await ua.post('/account/logout', formFields(page.html, '/account/logout'));
    t.equal(new URL(ended.url).pathname, '/session/end');
    const providerForm = /<form[^>]*id="op.logoutForm"[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(ended.html)!;
    const out = await ua.post(providerForm[1], { xsrf: /name="xsrf" value="([^"]+)"/.exec(providerForm[2])![1], logout: 'yes' });
    t.equal(new URL(out.url).pathname, '/account/');
    t.match(out.html, /您已退出个人账号中心和统一身份认证/);
    const again = await ua.get('/account/');
    t.match(again.html, /name="password"/);
    t.ok(formOf(again.html, '/login'));
  });
});
