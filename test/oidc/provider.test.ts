import t from 'tap';
import { createTestApp } from '../helpers/app.ts';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

t.test('discovery, JWKS and client credentials through fastify inject', async (t) => {
  const { runtime, app } = await createTestApp(t);
  const discovery = (await app.inject('/.well-known/openid-configuration')).json();
  t.equal(discovery.issuer, 'http://localhost:3000');
  t.same(discovery.code_challenge_methods_supported, ['S256'], 'only S256 PKCE');
  t.same(discovery.response_types_supported, ['code']);
  t.ok(discovery.id_token_signing_alg_values_supported.includes('RS256'));
  t.ok(discovery.id_token_signing_alg_values_supported.includes('ES256'));
  t.same(discovery.subject_types_supported.sort(), ['pairwise', 'public']);
  t.same(discovery.acr_values_supported, [
    'http://localhost:3000/acr/L1', 'http://eidas.europa.eu/LoA/low', 'http://localhost:3000/acr/L2', 'http://eidas.europa.eu/LoA/substantial',
    'http://localhost:3000/acr/L3', 'http://eidas.europa.eu/LoA/high', 'http://localhost:3000/acr/L4',
  ], 'our level URIs and the eIDAS values they map to');
  t.equal(discovery.claims_parameter_supported, true);
  t.ok(discovery.backchannel_logout_supported);
  t.ok(discovery.end_session_endpoint);
  t.notOk(discovery.registration_endpoint, 'no open dynamic registration');
  t.ok(discovery.introspection_endpoint && discovery.revocation_endpoint && discovery.userinfo_endpoint);

  const jwks = (await app.inject('/jwks')).json();
  t.same(jwks.keys.map((k: { alg: string }) => k.alg).sort(), ['ES256', 'RS256']);
  t.notOk(jwks.keys.some((k: { d?: string }) => k.d), 'no private key material published');
  const { rows } = await runtime.db.query('SELECT private_jwk_enc FROM signing_keys');
  t.notOk(rows.some((r) => r.private_jwk_enc.includes('"d"')), 'private keys stored encrypted');

  const service = await runtime.clients.create({ client_id: 'batch-service', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
  const token = (payload: Record<string, string>, authorization?: string) => app.inject({
    method: 'POST', url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
    payload: new URLSearchParams(payload).toString(),
  });
  const ok = await token({ grant_type: 'client_credentials' }, basic('batch-service', service.client_secret!));
  t.equal(ok.statusCode, 200);
  t.equal(ok.json().token_type, 'Bearer');
  t.equal(ok.json().expires_in, 600);
  const wrongSecret = await token({ grant_type: 'client_credentials' }, basic('batch-service', 'wrong'));
  t.equal(wrongSecret.statusCode, 401);
  t.equal(wrongSecret.json().error, 'invalid_client');
  const unsupported = await token({ grant_type: 'password', username: 'a', password: 'b' }, basic('batch-service', service.client_secret!));
  t.equal(unsupported.statusCode, 400);
  t.equal(unsupported.json().error, 'unsupported_grant_type', 'no password grant (ROPC)');
  const missing = await token({}, basic('batch-service', service.client_secret!));
  t.equal(missing.json().error, 'invalid_request');

  const healthz = await app.inject('/healthz');
  t.equal(healthz.statusCode, 200);
  t.equal(healthz.json().status, 'ok');
  const unknown = await app.inject('/nope/nothing');
  t.equal(unknown.statusCode, 404);
});

t.test('pairwise subject identifiers differ per sector and are stable', async (t) => {
  const { runtime } = await createTestApp(t);
  const provider = runtime.provider;
  const config = (provider as unknown as { Client: { find(id: string): Promise<unknown> } });
  await runtime.clients.create({ client_id: 'sector-a', redirect_uris: ['https://a.example.gov.cn/cb'], subject_type: 'pairwise' });
  await runtime.clients.create({ client_id: 'sector-b', redirect_uris: ['https://b.example.gov.cn/cb'], subject_type: 'pairwise' });
  const a = await config.Client.find('sector-a') as { sectorIdentifier: string; subjectType: string };
  const b = await config.Client.find('sector-b') as { sectorIdentifier: string };
  t.equal(a.subjectType, 'pairwise');
  t.not(a.sectorIdentifier, b.sectorIdentifier);
});
