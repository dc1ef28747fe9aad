import t from 'tap';
import { startTestServer } from '../helpers/app.ts';
import { buildCitizen } from '../helpers/builders.ts';
import { authorizeUrl, registerPortal, RP_CALLBACK } from '../helpers/oidc.ts';
import { createUserAgent, formOf } from '../helpers/user-agent.ts';

t.test('password login by ID number or phone; uniform failures; lockout per identifier', async (t) => {
  const { runtime, issuer } = await startTestServer(t, { env: { LOGIN_MAX_FAILURES: '3' } });
  await registerPortal(runtime, { require_consent: false });
  const citizen = await buildCitizen(runtime);

  async function attempt(identifier: string, password: string, ua = createUserAgent(issuer)) {
    const page = await ua.get(authorizeUrl(issuer));
    const form = formOf(page.html, '/login');
    return ua.post(form.action, { csrf: form.csrf, identifier, password });
  }

  const byPhone = await attempt(citizen.phone.slice(3), citizen.password);
  t.ok(byPhone.redirectedTo?.startsWith(`${RP_CALLBACK}?code=`), 'login by mobile number succeeds (trusted client: no consent page)');
  const byFullWidthId = await attempt(` ${citizen.idNumber.replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d)))} `, citizen.password);
  t.ok(byFullWidthId.redirectedTo?.startsWith(`${RP_CALLBACK}?code=`), 'full-width digits and spaces are normalised');

  const wrong = await attempt(citizen.idNumber, 'not-the-password');
  const unknown = await attempt('110101199003070134', 'not-the-password');
  const garbage = await attempt('hello', 'not-the-password');
  for (const [label, response] of [['wrong password', wrong], ['unknown account', unknown], ['not an identifier', garbage]] as const) {
    t.equal(response.response.status, 401, `${label}: 401`);
    t.match(response.html, /账号或密码错误/, `${label}: the same message`);
    t.notOk(response.redirectedTo, `${label}: no redirect`);
  }
  t.match(wrong.html, new RegExp(`value="${citizen.idNumber}"`), 'the identifier is kept in the form, the password is not');
  t.notMatch(wrong.html, /not-the-password/);

  // Two more failures lock this identifier (limit 3), and the correct password is then refused too.
  await attempt(citizen.idNumber, 'still-wrong-1');
  const locking = await attempt(citizen.idNumber, 'still-wrong-2');
  t.equal(locking.response.status, 401);
  const locked = await attempt(citizen.idNumber, citizen.password);
  t.equal(locked.response.status, 429, 'locked out after 3 failures');
  t.match(locked.html, /失败次数过多/);
  // An identifier without an account locks in exactly the same way.
  await attempt('110101199003070134', 'x1');
  await attempt('110101199003070134', 'x2');
  const lockedUnknown = await attempt('110101199003070134', 'x3');
  t.equal(lockedUnknown.response.status, 429, 'unknown identifiers lock identically: lockout does not reveal registration');
  // The phone is a separate identifier and is not locked.
  const viaPhone = await attempt(citizen.phone, citizen.password);
  t.ok(viaPhone.redirectedTo?.startsWith(RP_CALLBACK));

  const audit = await runtime.audit.list({ event: 'login.password', limit: 50 });
  const failure = audit.find((e) => e.result === 'failure' && e.accountId === citizen.account.id);
  t.ok(failure, 'failed login audited');
  t.equal(failure!.actor, `${citizen.idNumber.slice(0, 4)}**********${citizen.idNumber.slice(-4)}`, 'audit actor is masked');
  t.ok((await runtime.audit.list({ event: 'login.locked' })).length >= 2, 'lockouts audited');
});

t.test('CSRF: a login form without the right token is refused and nothing is attempted', async (t) => {
  const { runtime, issuer } = await startTestServer(t);
  await registerPortal(runtime);
  const citizen = await buildCitizen(runtime);
  const ua = createUserAgent(issuer);
  const page = await ua.get(authorizeUrl(issuer));
  const form = formOf(page.html, '/login');
  const forged = await ua.post(form.action, { csrf: 'forged', identifier: citizen.idNumber, password: citizen.password });
  t.equal(forged.response.status, 403);
  t.match(forged.html, /页面已失效/);
  const other = createUserAgent(issuer);
  const stolen = await other.post(form.action, { csrf: form.csrf, identifier: citizen.idNumber, password: citizen.password });
  t.equal(stolen.response.status, 400, 'another browser cannot use this interaction at all');
  t.equal((await runtime.audit.list({ event: 'login.password' })).length, 0, 'no login was attempted');
});

t.test('authorization request errors: unregistered redirect URI shows an error page, PKCE is required', async (t) => {
  const { runtime, issuer } = await startTestServer(t);
  await registerPortal(runtime);

  const evil = await fetch(authorizeUrl(issuer, { redirect_uri: 'https://evil.example/cb' }), { redirect: 'manual' });
  t.equal(evil.status, 400, 'unregistered redirect URI: error page');
  t.equal(evil.headers.get('location'), null, 'never redirects');
  t.match(await evil.text(), /redirect_uri did not match any of the client&#39;s registered redirect_uris/);

  const prefix = await fetch(authorizeUrl(issuer, { redirect_uri: `${RP_CALLBACK}/extra` }), { redirect: 'manual' });
  t.equal(prefix.status, 400, 'redirect URIs match exactly, not by prefix');

  const unknownClient = await fetch(authorizeUrl(issuer, { client_id: 'nobody' }), { redirect: 'manual' });
  t.equal(unknownClient.status, 400);
  t.match(await unknownClient.text(), /invalid_client/);

  const noPkce = await fetch(authorizeUrl(issuer, { code_challenge: null, code_challenge_method: null }), { redirect: 'manual' });
  t.equal(noPkce.status, 303);
  const noPkceLocation = new URL(noPkce.headers.get('location')!);
  t.equal(noPkceLocation.searchParams.get('error'), 'invalid_request');
  t.match(noPkceLocation.searchParams.get('error_description'), /PKCE/);

  const plain = await fetch(authorizeUrl(issuer, { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }), { redirect: 'manual' });
  const plainLocation = new URL(plain.headers.get('location')!);
  t.equal(plainLocation.searchParams.get('error'), 'invalid_request', 'plain PKCE is refused');
  t.match(plainLocation.searchParams.get('error_description'), /code_challenge_method/);

  const implicit = await fetch(authorizeUrl(issuer, { response_type: 'token' }), { redirect: 'manual' });
  // The error goes in the fragment, as the requested response type would have used it.
  const implicitLocation = new URLSearchParams(new URL(implicit.headers.get('location')!).hash.slice(1));
  t.equal(implicitLocation.get('error'), 'unsupported_response_type', 'no implicit flow');
});
