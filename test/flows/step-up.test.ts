import t from 'tap';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';
import { startTestServer } from '../helpers/app.ts';
import { buildCitizen } from '../helpers/builders.ts';
import { latestCode, RP_CALLBACK } from '../helpers/oidc.ts';
import { createUserAgent, formOf } from '../helpers/user-agent.ts';

type Ua = ReturnType<typeof createUserAgent>;

// A level table where L2 times out after 10 idle minutes while L1 keeps 30, to show per-level idle limits.
const levelsFile = join(mkdtempSync(join(tmpdir(), 'levels-')), 'levels.json');
const table = JSON.parse(readFileSync(new URL('../../config/levels.json', import.meta.url), 'utf8'));
table.levels[1].idleSeconds = 600;
writeFileSync(levelsFile, JSON.stringify(table));

t.test('step-up: a relying party needing more than the session has asks only for the missing factor', async (t) => {
  const { runtime, issuer } = await startTestServer(t, { env: { LEVELS_FILE: levelsFile, SMS_COOLDOWN_SECONDS: '1' } });
  const register = async (clientId: string, extra: Record<string, unknown> = {}) => runtime.clients.create({
    client_id: clientId, client_name: clientId === 'tax' ? '电子税务局' : '公交查询', redirect_uris: [RP_CALLBACK],
    grant_types: ['authorization_code'], require_consent: false, ...extra,
  });
  const bus = await register('bus');
  const tax = await register('tax');
  await runtime.policies.set({ clientId: 'tax', minLevel: 'L2' }, { name: 'test' });
  const citizen = await buildCitizen(runtime);

  const configs = new Map<string, client.Configuration>();
  for (const [id, secret] of [['bus', bus.client_secret!], ['tax', tax.client_secret!]]) {
    configs.set(id, await client.discovery(new URL(issuer), id, secret, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] }));
  }
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const authorize = (ua: Ua, clientId: string, params: Record<string, string> = {}) =>
    ua.get(client.buildAuthorizationUrl(configs.get(clientId)!, {
      redirect_uri: RP_CALLBACK, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: 's', ...params,
    }).toString());
  const redeem = async (clientId: string, callback: string) => client.authorizationCodeGrant(configs.get(clientId)!, new URL(callback), { pkceCodeVerifier: verifier, expectedState: 's' });

  // Sign in at L1 for the bus timetable.
  const ua = createUserAgent(issuer);
  const loginPage = await authorize(ua, 'bus');
  const form = formOf(loginPage.html, '/login');
  const busBack = await ua.post(form.action, { csrf: form.csrf, identifier: citizen.idNumber, password: citizen.password });
  const busTokens = await redeem('bus', busBack.redirectedTo!);
  t.equal(busTokens.claims()!.acr, `${issuer}/acr/L1`);
  t.same(busTokens.claims()!.amr, ['pwd']);
  const sidBefore = ua.cookies.get('idp_session');

  // The tax bureau requires L2: only the SMS code is asked, and the page says why.
  const stepUp = await authorize(ua, 'tax');
  t.equal(stepUp.response.status, 200);
  t.match(stepUp.html, /「电子税务局」要求二级（实名）（L2）/, 'the page names the service and the level');
  t.match(stepUp.html, /您已完成：密码/);
  t.match(stepUp.html, /还需完成：短信验证码/);
  t.notMatch(stepUp.html, /name="password"/, 'the password is not asked again');
  t.match(stepUp.html, new RegExp(citizen.phone.slice(3, 6) + '\\*\\*\\*\\*' + citizen.phone.slice(-4)), 'the code goes to the bound phone, shown masked');
  const send = formOf(stepUp.html, '/step-up/sms/send');
  const sent = await ua.post(send.action, { csrf: send.csrf });
  const verify = formOf(sent.html, '/step-up/sms/verify');
  const wrong = await ua.post(verify.action, { csrf: verify.csrf, code: latestCode(runtime, citizen.phone) === '000000' ? '111111' : '000000' });
  t.equal(wrong.response.status, 401);
  t.match(wrong.html, /验证码错误/);
  const taxBack = await ua.post(verify.action, { csrf: verify.csrf, code: latestCode(runtime, citizen.phone) });
  t.ok(taxBack.redirectedTo?.startsWith(RP_CALLBACK));
  const taxTokens = await redeem('tax', taxBack.redirectedTo!);
  t.equal(taxTokens.claims()!.acr, `${issuer}/acr/L2`, 'acr is L2 after the step-up');
  t.same(taxTokens.claims()!.amr, ['pwd', 'sms', 'otp', 'mfa'], 'both factors in amr');
  t.equal(taxTokens.claims()!.sub, citizen.account.id);
  t.not(ua.cookies.get('idp_session'), sidBefore, 'the session was upgraded in place with a new session id');

  // Asking for less than the policy still yields the policy's level.
  const lower = await authorize(ua, 'tax', { acr_values: `${issuer}/acr/L1` });
  t.equal((await redeem('tax', lower.redirectedTo!)).claims()!.acr, `${issuer}/acr/L2`, 'acr_values=L1 for an L2 service still gives L2');
  // eIDAS-style values are answered in kind.
  const eidas = await authorize(ua, 'bus', { acr_values: 'http://eidas.europa.eu/LoA/substantial' });
  t.equal((await redeem('bus', eidas.redirectedTo!)).claims()!.acr, 'http://eidas.europa.eu/LoA/substantial');
  // Introspection carries acr and auth_time for resource servers (RFC 9470).
  const introspected = await client.tokenIntrospection(configs.get('tax')!, taxTokens.access_token);
  t.equal(introspected.acr, `${issuer}/acr/L2`);
  t.type(introspected.auth_time, 'number');

  // max_age: an authentication older than allowed is asked again (both factors of L2 here).
  await new Promise((resolve) => setTimeout(resolve, 2100));
  const aged = await authorize(ua, 'tax', { max_age: '1' });
  t.match(aged.html, /还需完成：密码、短信验证码/, 'max_age makes every older factor count as not done');
  const agedPw = formOf(aged.html, '/step-up/password');
  const afterPw = await ua.post(agedPw.action, { csrf: agedPw.csrf, password: citizen.password });
  t.match(afterPw.html, /还需完成：短信验证码/, 'after the password, only the SMS is left');
  const send2 = formOf(afterPw.html, '/step-up/sms/send');
  const sent2 = await ua.post(send2.action, { csrf: send2.csrf });
  const verify2 = formOf(sent2.html, '/step-up/sms/verify');
  const agedBack = await ua.post(verify2.action, { csrf: verify2.csrf, code: latestCode(runtime, citizen.phone) });
  const agedTokens = await redeem('tax', agedBack.redirectedTo!);
  t.ok(Math.floor(Date.now() / 1000) - (agedTokens.claims()!.auth_time as number) <= 2, 'auth_time is fresh');

  // prompt=login: the full login page, even with a valid session.
  const forced = await authorize(ua, 'bus', { prompt: 'login' });
  t.match(forced.html, /name="identifier"/, 'prompt=login shows the login page');

  // Per-level idle limits: after 15 idle minutes the session still serves L1 but not L2 (idle 10 min here).
  await runtime.db.query("UPDATE session_activity SET last_seen_at = now() - interval '15 minutes'");
  await runtime.db.query("UPDATE session_factors SET authenticated_at = now() - interval '16 minutes'");
  const idleBus = await authorize(ua, 'bus');
  t.ok(idleBus.redirectedTo?.startsWith(RP_CALLBACK), 'still signed in for an L1 service');
  await runtime.db.query("UPDATE session_activity SET last_seen_at = now() - interval '15 minutes'");
  const idleTax = await authorize(ua, 'tax');
  t.match(idleTax.html, /还需完成：密码、短信验证码/, 'timed out for the L2 service: both factors again');

  const stepUps = await runtime.audit.list({ event: 'login.step_up' });
  t.ok(stepUps.length >= 3, 'step-ups audited');
});

t.test('bad level requests are refused clearly; unreachable levels end with unmet_authentication_requirements', async (t) => {
  const { runtime, issuer } = await startTestServer(t);
  const portal = await runtime.clients.create({ client_id: 'portal', redirect_uris: [RP_CALLBACK], grant_types: ['authorization_code'], require_consent: false });
  const citizen = await buildCitizen(runtime);
  const config = await client.discovery(new URL(issuer), 'portal', portal.client_secret!, client.ClientSecretBasic(portal.client_secret!), { execute: [client.allowInsecureRequests] });
  const challenge = await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier());
  const url = (params: Record<string, string>) => client.buildAuthorizationUrl(config, {
    redirect_uri: RP_CALLBACK, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: 's', ...params,
  }).toString();
  const errorOf = async (params: Record<string, string>) => {
    const response = await fetch(url(params), { redirect: 'manual' });
    const location = new URL(response.headers.get('location')!);
    return { error: location.searchParams.get('error'), description: location.searchParams.get('error_description') };
  };

  t.same(await errorOf({ acr_values: 'urn:example:gold' }), { error: 'invalid_request', description: 'acr value "urn:example:gold" is not supported; see acr_values_supported' });
  t.same(await errorOf({ claims: JSON.stringify({ id_token: { acr: { essential: true, value: `${issuer}/acr/L2`, values: [`${issuer}/acr/L3`] } } }) }),
    { error: 'invalid_request', description: 'claims: acr must have either "value" or "values", not both' });
  t.same(await errorOf({ claims: JSON.stringify({ id_token: { acr: { essential: true, values: [7] } } }) }),
    { error: 'invalid_request', description: 'claims: acr values must be strings' });

  // L4 needs a certificate or an in-person check the account does not have: the unmet page, then the error.
  const ua = createUserAgent(issuer);
  const login = await ua.get(url({ claims: JSON.stringify({ id_token: { acr: { essential: true, values: [`${issuer}/acr/L4`] } } }) }));
  const form = formOf(login.html, '/login');
  const unmet = await ua.post(form.action, { csrf: form.csrf, identifier: citizen.idNumber, password: citizen.password });
  t.equal(unmet.response.status, 200);
  t.match(unmet.html, /无法达到所需的认证级别/);
  t.match(unmet.html, /政务服务大厅/, 'the page says what the person can do');
  const back = formOf(unmet.html, '/unmet');
  const done = await ua.post(back.action, { csrf: back.csrf });
  const location = new URL(done.redirectedTo!);
  t.equal(location.searchParams.get('error'), 'unmet_authentication_requirements');
  t.equal((await runtime.audit.list({ event: 'login.unmet' })).length, 1);

  // Admin policy input errors change nothing.
  await t.rejects(runtime.policies.set({ clientId: 'portal', minLevel: 'L9' }, { name: 'test' }), { code: 'invalid_input', message: /Unknown level "L9"/ });
  await t.rejects(runtime.policies.set({ clientId: 'nobody', minLevel: 'L2' }, { name: 'test' }), { code: 'not_found' });
  await t.rejects(runtime.policies.set({ clientId: 'portal', minLevel: 'L2', scope: 'nonsense' }, { name: 'test' }), { code: 'invalid_input' });
  t.same(await runtime.policies.all(), []);
  t.equal((await runtime.audit.list({ event: 'admin.policy.updated' })).length, 0);
});
