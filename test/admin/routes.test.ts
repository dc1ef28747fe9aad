import t from 'tap';
import { createTestApp } from '../helpers/app.ts';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

t.test('admin API: client registration through admin tokens only, validated, audited', async (t) => {
  const { runtime, app } = await createTestApp(t);
  const admin = await runtime.clients.create({ client_id: 'ops-admin', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'admin' });
  const plain = await runtime.clients.create({ client_id: 'plain-service', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });

  async function tokenFor(id: string, secret: string, scope?: string) {
    const response = await app.inject({
      method: 'POST', url: '/token', headers: { authorization: basic(id, secret), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) }).toString(),
    });
    return response;
  }

  const adminTokenResponse = await tokenFor('ops-admin', admin.client_secret!, 'admin');
  t.equal(adminTokenResponse.statusCode, 200);
  const adminToken = adminTokenResponse.json().access_token as string;
  const auth = { authorization: `Bearer ${adminToken}` };

  // Authentication failures.
  const none = await app.inject({ method: 'GET', url: '/admin/clients' });
  t.equal(none.statusCode, 401);
  t.equal(none.headers['content-type'], 'application/problem+json; charset=utf-8');
  t.equal(none.json().code, 'unauthorized');
  const bogus = await app.inject({ method: 'GET', url: '/admin/clients', headers: { authorization: 'Bearer not-a-token' } });
  t.equal(bogus.statusCode, 401);
  t.equal(bogus.json().code, 'invalid_token');
  const asked = await tokenFor('plain-service', plain.client_secret!, 'admin');
  t.equal(asked.statusCode, 400, 'a client not allowed the admin scope cannot obtain it');
  t.equal(asked.json().error, 'invalid_scope');
  const plainToken = (await tokenFor('plain-service', plain.client_secret!)).json().access_token;
  const forbidden = await app.inject({ method: 'GET', url: '/admin/clients', headers: { authorization: `Bearer ${plainToken}` } });
  t.equal(forbidden.statusCode, 403);
  t.equal(forbidden.json().code, 'insufficient_scope');

  // Create.
  const created = await app.inject({
    method: 'POST', url: '/admin/clients', headers: auth,
    payload: { client_id: 'tax-portal', client_name: '税务门户', redirect_uris: ['https://tax.example.gov.cn/cb'], grant_types: ['authorization_code', 'refresh_token'] },
  });
  t.equal(created.statusCode, 201);
  const body = created.json();
  t.equal(body.client_id, 'tax-portal');
  t.match(body.client_secret, /^[A-Za-z0-9_-]{43}$/, 'a generated secret is shown once');
  t.equal(body.scope, 'openid profile phone offline_access', 'default scopes exclude id_number');
  const { rows } = await runtime.db.query("SELECT metadata::text AS m FROM oidc_clients WHERE client_id = 'tax-portal'");
  t.notOk(rows[0].m.includes(body.client_secret), 'the secret is stored encrypted');
  const read = await app.inject({ method: 'GET', url: '/admin/clients/tax-portal', headers: auth });
  t.notOk('client_secret' in read.json(), 'reads never return the secret');

  // Bad input: precise errors, nothing written.
  const count = async () => Number((await runtime.db.query('SELECT count(*) AS n FROM oidc_clients')).rows[0].n);
  const before = await count();
  const cases = [
    [{ client_id: 'x', redirect_uris: ['https://a.example/cb'] }, 400, 'invalid_input'],
    [{ client_id: 'bad-uri', redirect_uris: ['not a url'] }, 400, 'invalid_client_metadata'],
    [{ client_id: 'frag', redirect_uris: ['https://a.example/cb#x'] }, 400, 'invalid_client_metadata'],
    [{ client_id: 'implicit', redirect_uris: ['https://a.example/cb'], grant_types: ['implicit'] }, 400, 'invalid_input'],
    [{ client_id: 'extra', redirect_uris: ['https://a.example/cb'], registration_access_token: 'x' }, 400, 'invalid_input'],
    [{ client_id: 'tax-portal', redirect_uris: ['https://tax.example.gov.cn/cb'] }, 409, 'conflict'],
  ] as const;
  for (const [payload, status, code] of cases) {
    const response = await app.inject({ method: 'POST', url: '/admin/clients', headers: auth, payload });
    t.equal(response.statusCode, status, `${JSON.stringify(payload)} → ${status}`);
    t.equal(response.json().code, code);
  }
  t.equal(await count(), before, 'no refused client was written');

  // Update: allow the id_number scope, rotate the secret; audit keeps old and new values.
  const updated = await app.inject({
    method: 'PUT', url: '/admin/clients/tax-portal?rotate_secret=true', headers: auth,
    payload: { client_name: '税务门户', redirect_uris: ['https://tax.example.gov.cn/cb'], grant_types: ['authorization_code'], scope: 'openid profile id_number' },
  });
  t.equal(updated.statusCode, 200);
  t.not(updated.json().client_secret, body.client_secret, 'secret rotated');
  const missing = await app.inject({ method: 'PUT', url: '/admin/clients/nobody', headers: auth, payload: { redirect_uris: [] } });
  t.equal(missing.statusCode, 404);

  const audit = await app.inject({ method: 'GET', url: '/admin/audit?event=admin.client.updated', headers: auth });
  const event = audit.json().events[0];
  t.equal(event.actor, 'client:ops-admin');
  t.equal(event.detail.before.scope, 'openid profile phone offline_access');
  t.equal(event.detail.after.scope, 'openid profile id_number');
  t.notOk(JSON.stringify(event).includes(updated.json().client_secret), 'secrets never reach the audit trail');
  const badAudit = await app.inject({ method: 'GET', url: '/admin/audit?event=nope', headers: auth });
  t.equal(badAudit.statusCode, 400);

  const deleted = await app.inject({ method: 'DELETE', url: '/admin/clients/tax-portal', headers: auth });
  t.equal(deleted.statusCode, 204);
  t.equal((await app.inject({ method: 'GET', url: '/admin/clients/tax-portal', headers: auth })).statusCode, 404);

  // Sandbox SMS outbox is readable by admins only.
  t.equal((await app.inject({ method: 'GET', url: '/admin/sandbox/sms' })).statusCode, 401);
  const outbox = await app.inject({ method: 'GET', url: '/admin/sandbox/sms', headers: auth });
  t.equal(outbox.statusCode, 200);
  t.same(outbox.json().messages, []);
  t.ok((await runtime.audit.list({ event: 'admin.denied' })).length >= 1, 'refused admin access audited');
});

t.test('admin API: level policies, with separated permissions', async (t) => {
  const { runtime, app } = await createTestApp(t);
  const make = (id: string, scope: string) => runtime.clients.create({ client_id: id, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope });
  const policyAdmin = await make('policy-ops', 'admin:policy');
  const auditor = await make('audit-ops', 'admin:audit');
  await runtime.clients.create({ client_id: 'tax', redirect_uris: ['https://tax.example.gov.cn/cb'] });
  const token = async (id: string, secret: string, scope: string) => (await app.inject({
    method: 'POST', url: '/token', headers: { authorization: basic(id, secret), 'content-type': 'application/x-www-form-urlencoded' },
    payload: `grant_type=client_credentials&scope=${encodeURIComponent(scope)}`,
  })).json().access_token as string;
  const asPolicy = { authorization: `Bearer ${await token('policy-ops', policyAdmin.client_secret!, 'admin:policy')}` };
  const asAuditor = { authorization: `Bearer ${await token('audit-ops', auditor.client_secret!, 'admin:audit')}` };

  const levels = await app.inject({ method: 'GET', url: '/admin/levels', headers: asAuditor });
  t.same(levels.json().levels.map((l: { id: string }) => l.id), ['L1', 'L2', 'L3', 'L4']);

  const set = await app.inject({ method: 'PUT', url: '/admin/policies/tax', headers: asPolicy, payload: { min_level: 'L2', max_auth_age_seconds: 3600 } });
  t.equal(set.statusCode, 200);
  t.same(set.json().before, null);
  t.match(set.json().after, { clientId: 'tax', scope: '*', minLevel: 'L2', maxAuthAgeSeconds: 3600, updatedBy: 'client:policy-ops' });

  for (const [payload, status, code] of [
    [{ min_level: 'L9' }, 400, 'invalid_input'],
    [{ min_level: 'L2', scope: 'no such scope' }, 400, 'invalid_input'],
    [{ min_level: 'L2', max_auth_age_seconds: 0 }, 400, 'invalid_input'],
    [{ level: 'L2' }, 400, 'invalid_input'],
  ] as const) {
    const response = await app.inject({ method: 'PUT', url: '/admin/policies/tax', headers: asPolicy, payload });
    t.equal(response.statusCode, status, JSON.stringify(payload));
    t.equal(response.json().code, code);
  }
  t.equal((await app.inject({ method: 'PUT', url: '/admin/policies/nobody', headers: asPolicy, payload: { min_level: 'L2' } })).statusCode, 404);
  t.match((await runtime.policies.all()).map((p) => p.minLevel), ['L2'], 'refused changes changed nothing');

  // Separation of duties: the policy admin cannot read the audit trail; the auditor can, but changes nothing.
  const policyReadsAudit = await app.inject({ method: 'GET', url: '/admin/audit', headers: asPolicy });
  t.equal(policyReadsAudit.statusCode, 403);
  t.equal(policyReadsAudit.json().code, 'insufficient_scope');
  const auditorWrites = await app.inject({ method: 'PUT', url: '/admin/policies/tax', headers: asAuditor, payload: { min_level: 'L1' } });
  t.equal(auditorWrites.statusCode, 403);
  t.equal((await app.inject({ method: 'POST', url: '/admin/clients', headers: asPolicy, payload: { client_id: 'x-y-z', redirect_uris: ['https://a.example/cb'] } })).statusCode, 403);
  const trail = await app.inject({ method: 'GET', url: '/admin/audit?event=admin.policy.updated', headers: asAuditor });
  t.equal(trail.statusCode, 200);
  t.match(trail.json().events[0], { actor: 'client:policy-ops', clientId: 'tax', detail: { before: null, after: { minLevel: 'L2', maxAuthAgeSeconds: 3600 } } });
  t.equal((await app.inject({ method: 'DELETE', url: '/admin/policies/tax', headers: asPolicy })).statusCode, 204);
  t.same(await runtime.policies.all(), []);
  t.ok((await runtime.audit.list({ event: 'admin.denied' })).length >= 3, 'every refusal audited');
});
