import t from 'tap';
import Fastify from 'fastify';
import formbody from '@fastify/formbody';
import { startTestServer } from '../helpers/app.ts';
import { buildCitizen, nextRegisterCitizen } from '../helpers/builders.ts';
import { authorizeUrl, registerPortal, RP_CALLBACK } from '../helpers/oidc.ts';
import { createUserAgent, formOf } from '../helpers/user-agent.ts';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

t.test('staff account operations: hashed search, freeze, force logout, proofing reset, merge, deceased; all audited with a reason', async (t) => {
  const logouts: string[] = [];
  const rp = Fastify();
  await rp.register(formbody);
  rp.post('/bc', async (request) => { logouts.push((request.body as { logout_token: string }).logout_token); return {}; });
  await rp.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => rp.close());

  const { runtime, issuer } = await startTestServer(t);
  await registerPortal(runtime, { require_consent: false, backchannel_logout_uri: `http://127.0.0.1:${(rp.server.address() as { port: number }).port}/bc` });
  const make = (id: string, scope: string) => runtime.clients.create({ client_id: id, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope });
  const operator = await make('account-ops', 'admin:accounts');
  const auditor = await make('audit-ops', 'admin:audit');
  const token = async (id: string, secret: string, scope: string) => (await (await fetch(`${issuer}/token`, {
    method: 'POST', headers: { authorization: basic(id, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: `grant_type=client_credentials&scope=${encodeURIComponent(scope)}`,
  })).json()).access_token as string;
  const asOperator = `Bearer ${await token('account-ops', operator.client_secret!, 'admin:accounts')}`;
  const asAuditor = `Bearer ${await token('audit-ops', auditor.client_secret!, 'admin:audit')}`;
  const call = async (auth: string, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${issuer}/admin${path}`, { method, headers: { authorization: auth, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: response.status, json: response.status === 204 ? undefined : await response.json() };
  };
  const login = async (citizen: { idNumber: string; password: string }) => {
    const ua = createUserAgent(issuer);
    const page = await ua.get(authorizeUrl(issuer));
    const form = formOf(page.html, '/login');
    return { ua, result: await ua.post(form.action, { csrf: form.csrf, identifier: citizen.idNumber, password: citizen.password }) };
  };

  const alice = await buildCitizen(runtime);
  // Search: exact look-ups only, masked answers.
  const byId = await call(asOperator, 'GET', `/accounts?id_number=${alice.idNumber.toLowerCase()}`);
  t.equal(byId.status, 200);
  t.match(byId.json.accounts, [{ id: alice.account.id, idNumberMasked: alice.account.idNumberMasked, phoneMasked: /\*\*\*\*/, status: 'active' }]);
  t.notOk(JSON.stringify(byId.json).includes(alice.idNumber) || JSON.stringify(byId.json).includes(alice.name), 'no clear personal data in answers');
  t.equal((await call(asOperator, 'GET', `/accounts?phone=${alice.phone.slice(3)}`)).json.accounts[0].id, alice.account.id);
  t.equal((await call(asOperator, 'GET', `/accounts?name=${encodeURIComponent(alice.name)}`)).json.accounts[0].id, alice.account.id);
  t.same((await call(asOperator, 'GET', '/accounts?name=%E6%97%A0%E5%90%8D')).json.accounts, [], 'an unknown name finds nobody');
  t.equal((await call(asOperator, 'GET', '/accounts?id_number=110105194912310020')).status, 400, 'an invalid ID number is refused');
  t.equal((await call(asOperator, 'GET', '/accounts')).status, 400, 'one criterion is required');

  // Freeze: needs a reason; ends sessions everywhere (back-channel logout); login then fails.
  const { ua, result } = await login(alice);
  t.ok(result.redirectedTo?.startsWith(RP_CALLBACK));
  t.equal((await call(asOperator, 'POST', `/accounts/${alice.account.id}/freeze`, {})).status, 400, 'no reason, no action');
  const frozen = await call(asOperator, 'POST', `/accounts/${alice.account.id}/freeze`, { reason: '疑似被盗用，本人来电' });
  t.same(frozen.json, { before: 'active', after: 'frozen' });
  t.equal(logouts.length, 1, 'the relying party was told by back-channel logout');
  t.match((await ua.get(authorizeUrl(issuer))).html, /name="password"/, 'the SSO session is gone');
  const refused = await login(alice);
  t.equal(refused.result.response.status, 403);
  t.match(refused.result.html, /该账号当前无法登录/);
  t.equal((await call(asOperator, 'POST', `/accounts/${alice.account.id}/freeze`, { reason: 'again' })).status, 409, 'already frozen');
  t.same((await call(asOperator, 'POST', `/accounts/${alice.account.id}/unfreeze`, { reason: '本人到大厅核实' })).json, { before: 'frozen', after: 'active' });
  t.ok((await login(alice)).result.redirectedTo, 'signs in again after unfreezing');

  // Force logout.
  const second = await login(alice);
  t.ok(second.result.redirectedTo);
  const out = await call(asOperator, 'POST', `/accounts/${alice.account.id}/logout`, { reason: '用户报告手机丢失' });
  t.equal(out.status, 200);
  t.match((await second.ua.get(authorizeUrl(issuer))).html, /name="password"/, 'force logout ended the session');

  // Proofing reset: register-verified → self-asserted.
  t.equal(await runtime.proofing.best(alice.account.id), 'register_verified');
  await call(asOperator, 'POST', `/accounts/${alice.account.id}/proofing/reset`, { reason: '人口库信息更正', to: 'self_asserted' });
  t.equal(await runtime.proofing.best(alice.account.id), 'self_asserted');

  // Merge two accounts of the same person.
  const bob = await buildCitizen(runtime);
  const bobOld = await buildCitizen(runtime);
  await runtime.db.query("INSERT INTO account_sources (source, legacy_user_id, account_id) VALUES ('city-portal', 'u-42', $1)", [bobOld.account.id]);
  t.equal((await call(asOperator, 'POST', `/accounts/${bob.account.id}/merge`, { from: bob.account.id, reason: 'x-y' })).status, 400, 'not into itself');
  const merged = await call(asOperator, 'POST', `/accounts/${bob.account.id}/merge`, { from: bobOld.account.id, reason: '身份证号更正前后的两个账号' });
  t.equal(merged.status, 200);
  const bobView = await call(asOperator, 'GET', `/accounts/${bob.account.id}`);
  t.equal((await call(asOperator, 'GET', '/accounts?source=city-portal&legacy_user_id=u-42')).json.accounts[0].id, bob.account.id,
    'an old user id of a legacy system maps to the unified account');
  t.equal((await call(asOperator, 'GET', '/accounts?source=city-portal')).status, 400, 'source needs the user id');
  t.match(bobView.json.sources, [{ source: 'city-portal', legacyUserId: 'u-42' }], 'legacy sources move to the surviving account');
  t.match((await call(asOperator, 'GET', `/accounts/${bobOld.account.id}`)).json, { status: 'merged', mergedInto: bob.account.id });
  t.equal((await login(bobOld)).result.response.status, 401, 'the merged account no longer signs in');

  // Deceased.
  t.same((await call(asOperator, 'POST', `/accounts/${bob.account.id}/deceased`, { reason: '家属持死亡证明到大厅办理' })).json, { before: 'active', after: 'deceased' });
  t.equal((await login(bob)).result.response.status, 403);

  // Role separation: the auditor reads accounts and the audit trail, changes nothing.
  t.equal((await call(asAuditor, 'GET', `/accounts/${alice.account.id}`)).status, 200);
  t.equal((await call(asAuditor, 'POST', `/accounts/${alice.account.id}/freeze`, { reason: 'no' })).status, 403);
  t.equal((await call(asOperator, 'GET', '/audit')).status, 403, 'the operator cannot read the audit trail');
  const trail = (await call(asAuditor, 'GET', `/audit?account_id=${alice.account.id}&limit=50`)).json.events as { event: string; actor: string; detail: { reason?: string } }[];
  for (const [event, reason] of [['admin.account.frozen', '疑似被盗用，本人来电'], ['admin.account.unfrozen', '本人到大厅核实'], ['admin.account.force_logout', '用户报告手机丢失'], ['admin.account.proofing_reset', '人口库信息更正']]) {
    t.ok(trail.some((e) => e.event === event && e.actor === 'client:account-ops' && e.detail.reason === reason), `${event} audited with the admin and the reason`);
  }
  t.ok(trail.some((e) => e.event === 'admin.account.viewed'));
  t.equal(trail.filter((e) => e.event === 'admin.account.frozen').length, 1, 'the refused second freeze left no record');
});

t.test('population-register events: death, name change, ID-number correction; applied once', async (t) => {
  const { runtime } = await startTestServer(t);
  const register = runtime.sandboxRegister!;
  const dying = await buildCitizen(runtime);
  const renamed = await buildCitizen(runtime);
  const corrected = await buildCitizen(runtime);
  const holder = await buildCitizen(runtime);
  const newId = nextRegisterCitizen().idNumber;
  const at = new Date().toISOString();
  register.publishEvent({ id: 'ev-1', type: 'death', idNumber: dying.idNumber, occurredAt: at });
  register.publishEvent({ id: 'ev-2', type: 'name_change', idNumber: renamed.idNumber, newName: '王小二', occurredAt: at });
  register.publishEvent({ id: 'ev-3', type: 'id_number_change', idNumber: corrected.idNumber, newIdNumber: newId, occurredAt: at });
  register.publishEvent({ id: 'ev-4', type: 'id_number_change', idNumber: renamed.idNumber, newIdNumber: holder.idNumber, occurredAt: at });
  register.publishEvent({ id: 'ev-5', type: 'death', idNumber: '11010119900307001X'.slice(0, 17) + 'X', occurredAt: at });

  t.same(await runtime.registrySync.pollOnce(), { applied: 5, seen: 5 });
  t.equal((await runtime.accounts.findById(dying.account.id))!.status, 'deceased');
  t.equal((await runtime.accounts.findById(renamed.account.id))!.name, '王小二');
  const moved = await runtime.accounts.findByIdentifier(newId);
  t.equal(moved.account?.id, corrected.account.id, 'the account follows its corrected ID number');
  t.equal((await runtime.accounts.findByIdentifier(corrected.idNumber)).account, undefined, 'the old number no longer finds it');
  t.equal((await runtime.accounts.findByIdentifier(holder.idNumber)).account?.id, holder.account.id, 'a conflicting correction changes nothing');
  const outcomes = (await runtime.db.query('SELECT event_id, outcome FROM registry_events_applied ORDER BY event_id')).rows;
  t.same(outcomes, [
    { event_id: 'ev-1', outcome: 'applied' }, { event_id: 'ev-2', outcome: 'applied' }, { event_id: 'ev-3', outcome: 'applied' },
    { event_id: 'ev-4', outcome: 'conflict' }, { event_id: 'ev-5', outcome: 'no_account' },
  ]);
  t.same(await runtime.registrySync.pollOnce(), { applied: 0, seen: 0 }, 'polling again finds nothing new');
  register.publishEvent({ id: 'ev-1', type: 'death', idNumber: renamed.idNumber, occurredAt: at });
  t.same(await runtime.registrySync.pollOnce(), { applied: 0, seen: 1 }, 'a replayed event id is not applied twice');
  t.equal((await runtime.accounts.findById(renamed.account.id))!.status, 'active');
  t.equal((await runtime.audit.list({ event: 'registry.event_applied' })).length, 5);
});
