import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { Redis } from 'ioredis';
import type { HotStore } from '../../src/cache/hot-store.ts';
import { parseDistinguishedName, subjectMatches } from '../../src/oidc/mtls.ts';
import { startTestServer } from '../helpers/app.ts';
import { registerCa } from '../helpers/certificates.ts';
import { createTestPki, type TestCertificate } from '../helpers/test-pki.ts';

const PROXY_ENV = { CERT_PROXY_HEADER: 'x-ssl-client-cert', CERT_PROXY_ADDRESSES: '127.0.0.1' };
const POLICY = '1.2.156.99999.5.1';
const ADMIN = { name: 'test-admin' };

type Server = Awaited<ReturnType<typeof startTestServer>>;

/** What nginx puts in `$ssl_client_escaped_cert` (here optionally followed by the chain). */
const escapedPem = (...certificates: TestCertificate[]) => encodeURIComponent(certificates.map((c) => c.certPem).join(''));

/**
 * The token request as the proxy forwards it: plain HTTP from 127.0.0.1, the certificate in the header (an array
 * sends the header once per value, which fetch cannot do).
 */
async function tokenRequest(server: Server, clientId: string, header?: string | string[]) {
  const body = new URLSearchParams({ grant_type: 'client_credentials', scope: 'trust:partner', client_id: clientId }).toString();
  const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const request = httpRequest({
      host: '127.0.0.1', port: server.port, path: '/token', method: 'POST',
      headers: {
        host: `localhost:${server.port}`, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body),
        ...(header === undefined ? {} : { 'x-ssl-client-cert': header }),
      },
    }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { text += chunk; });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
    });
    request.on('error', reject);
    request.end(body);
  });
  return { status: answer.status, body: JSON.parse(answer.text) as { access_token?: string; error?: string } };
}

/** A partner client whose registered key is its self-signed certificate (RFC 8705 §2.2). */
async function selfSignedClient(server: Server, clientId: string, certificate: TestCertificate) {
  const jwk = new X509Certificate(certificate.certPem).publicKey.export({ format: 'jwk' });
  await server.runtime.clients.create({
    client_id: clientId, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'trust:partner',
    token_endpoint_auth_method: 'self_signed_tls_client_auth',
    jwks: { keys: [{ ...jwk, kid: 'partner-tls', use: 'sig', x5c: [Buffer.from(certificate.certDer).toString('base64')] }] },
  });
}

/** A partner client identified by the subject or a subjectAltName of a CA-issued certificate (RFC 8705 §2.1). */
async function pkiClient(server: Server, clientId: string, metadata: Record<string, string>) {
  await server.runtime.clients.create({
    client_id: clientId, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'trust:partner',
    token_endpoint_auth_method: 'tls_client_auth', ...metadata,
  });
}

/** Client-credentials tokens held in the hot store (Redis, or the PostgreSQL tables of the embedded default). */
async function issuedTokens(server: Server): Promise<number> {
  if (server.runtime.hot.kind === 'postgres') {
    const { rows } = await server.runtime.db.query<{ n: string }>("SELECT count(*) AS n FROM hot_entries WHERE key LIKE 'oidc:ClientCredentials:%'");
    return Number(rows[0].n);
  }
  const redis = (server.runtime.hot as HotStore & { client: Redis }).client;
  return (await redis.keys(`${redis.options.keyPrefix}oidc:ClientCredentials:*`)).length;
}

t.test('mTLS through the proxy: self-signed and CA-issued partner certificates', async (t) => {
  const server = await startTestServer(t, { env: PROXY_ENV });
  const { runtime, issuer } = server;
  const pki = createTestPki(t);

  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json() as { token_endpoint_auth_methods_supported: string[] };
  t.ok(discovery.token_endpoint_auth_methods_supported.includes('tls_client_auth'), 'discovery: tls_client_auth');
  t.ok(discovery.token_endpoint_auth_methods_supported.includes('self_signed_tls_client_auth'), 'discovery: self_signed_tls_client_auth');

  const partnerRoot = pki.root({ name: 'Partner SM2 Root', keyType: 'sm2' });
  const service = await registerCa(runtime, { name: 'Partner CA', anchors: [partnerRoot], policyLevels: { [POLICY]: 'L3' } });

  await t.test('self_signed_tls_client_auth: token, then a suspension submission that waits for an admin', async (t) => {
    const certificate = pki.root({ name: 'Partner Exchange Client', keyType: 'ec' });
    await selfSignedClient(server, 'ca-partner-self-signed', certificate);
    const operator = await runtime.trust.registry.getOperator(service.operatorId);
    await runtime.trust.registry.updateOperator(operator.id, { name: operator.name, uscc: operator.uscc, partnerClientId: 'ca-partner-self-signed' }, ADMIN);

    const issued = await tokenRequest(server, 'ca-partner-self-signed', escapedPem(certificate));
    t.equal(issued.status, 200, JSON.stringify(issued.body));
    const submitted = await fetch(`${issuer}/trust/partner/submissions/suspension`, {
      method: 'POST', headers: { authorization: `Bearer ${issued.body.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ serviceId: service.id, reason: 'issuing key compromise suspected' }),
    });
    t.equal(submitted.status, 201);
    t.equal((await submitted.json() as { status: string }).status, 'pending');
    t.equal((await runtime.trust.registry.getOperator(service.operatorId)).services[0].status, 'granted', 'nothing changes before approval');

    const before = await issuedTokens(server);
    const refusals: [string, string | string[] | undefined][] = [
      ['no header', undefined],
      ['an empty header', ''],
      ['garbage', 'not-a-certificate'],
      ['broken URL encoding', '%E0%A4%A'],
      ['a PEM block that is no certificate', encodeURIComponent('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')],
      ['another self-signed certificate', escapedPem(pki.root({ name: 'Impostor', keyType: 'ec' }))],
      ['the header sent twice', [escapedPem(certificate), escapedPem(certificate)]],
    ];
    for (const [what, header] of refusals) {
      const refused = await tokenRequest(server, 'ca-partner-self-signed', header);
      t.equal(refused.status, 401, what);
      t.equal(refused.body.error, 'invalid_client', what);
    }
    t.equal(await issuedTokens(server), before, 'no token stored for any refused request');
  });

  await t.test('tls_client_auth: the certificate must chain to a usable registered CA and carry the registered subject', async (t) => {
    const issuing = partnerRoot.intermediate({ name: 'Partner SM2 Issuing CA', pathLen: 0 });
    const subject = { C: 'CN', O: 'Partner CA Co', CN: 'partner-exchange' };
    const leaf = issuing.leaf({ subject, extendedKeyUsage: ['clientAuth'] });
    const header = escapedPem(leaf, issuing);
    await pkiClient(server, 'ca-partner-dn', { tls_client_auth_subject_dn: 'CN=partner-exchange,O=Partner CA Co,C=CN' });
    await pkiClient(server, 'ca-partner-dn-spelling', { tls_client_auth_subject_dn: 'cn = Partner-Exchange, o=partner  ca co, c=cn' });
    await pkiClient(server, 'ca-partner-dn-reversed', { tls_client_auth_subject_dn: 'C=CN,O=Partner CA Co,CN=partner-exchange' });
    await pkiClient(server, 'ca-partner-dn-other', { tls_client_auth_subject_dn: 'CN=someone-else,O=Partner CA Co,C=CN' });

    const granted = await tokenRequest(server, 'ca-partner-dn', header);
    t.equal(granted.status, 200, JSON.stringify(granted.body));
    t.ok(granted.body.access_token);
    t.equal((await tokenRequest(server, 'ca-partner-dn-spelling', header)).status, 200, 'case and insignificant spaces are ignored (RFC 4518)');

    const before = await issuedTokens(server);
    const unregistered = pki.root({ name: 'Unregistered Root', keyType: 'sm2' }).intermediate({ name: 'Unregistered Issuing CA' });
    const refusals: [string, string, string | undefined][] = [
      ['the subject in the reverse (non-RFC 4514) order', 'ca-partner-dn-reversed', header],
      ['another subject registered', 'ca-partner-dn-other', header],
      ['the same subject from an unregistered CA', 'ca-partner-dn', escapedPem(unregistered.leaf({ subject, extendedKeyUsage: ['clientAuth'] }), unregistered)],
      ['the issuing CA not forwarded and not registered', 'ca-partner-dn', escapedPem(leaf)],
      ['an expired certificate', 'ca-partner-dn', escapedPem(issuing.leaf({ subject, expired: true }), issuing)],
      ['a certificate for TLS servers only', 'ca-partner-dn', escapedPem(issuing.leaf({ subject, extendedKeyUsage: ['serverAuth'] }), issuing)],
      ['the issuing CA certificate itself', 'ca-partner-dn', escapedPem(issuing)],
      ['no certificate', 'ca-partner-dn', undefined],
    ];
    for (const [what, clientId, presented] of refusals) {
      const refused = await tokenRequest(server, clientId, presented);
      t.equal(refused.status, 401, what);
      t.equal(refused.body.error, 'invalid_client', what);
    }
    t.equal(await issuedTokens(server), before, 'no token stored for any refused request');

    await runtime.trust.registry.changeStatus(service.id, { status: 'suspended', reason: 'test: CA suspended' }, ADMIN);
    const suspended = await tokenRequest(server, 'ca-partner-dn', header);
    t.equal(suspended.body.error, 'invalid_client', 'a suspended CA no longer vouches for its certificates');
    await runtime.trust.registry.changeStatus(service.id, { status: 'granted', reason: 'test: CA granted again' }, ADMIN);
    t.equal((await tokenRequest(server, 'ca-partner-dn', header)).status, 200, 'granted again');
  });

  await t.test('tls_client_auth by subjectAltName (DNS, IP, e-mail, URI)', async (t) => {
    const root = pki.root({ name: 'Partner EC Root', keyType: 'ec' });
    await registerCa(runtime, { name: 'Partner EC CA', anchors: [root], policyLevels: { [POLICY]: 'L3' } });
    const leaf = root.leaf({
      name: 'exchange', extendedKeyUsage: ['clientAuth'],
      extraExtensions: ['subjectAltName = DNS:Exchange.Partner.example, IP:2001:db8::7, email:ops@Partner.example, URI:https://partner.example/exchange'],
    });
    const header = escapedPem(leaf);
    const cases: [string, Record<string, string>, number][] = [
      ['DNS, any case', { tls_client_auth_san_dns: 'exchange.partner.example' }, 200],
      ['IPv6 in another spelling', { tls_client_auth_san_ip: '2001:0db8:0:0:0:0:0:7' }, 200],
      ['e-mail, domain in another case', { tls_client_auth_san_email: 'ops@partner.example' }, 200],
      ['URI', { tls_client_auth_san_uri: 'https://partner.example/exchange' }, 200],
      ['another DNS name', { tls_client_auth_san_dns: 'evil.partner.example' }, 401],
      ['another IP address', { tls_client_auth_san_ip: '2001:db8::8' }, 401],
      ['e-mail, local part in another case', { tls_client_auth_san_email: 'OPS@partner.example' }, 401],
      ['another URI', { tls_client_auth_san_uri: 'https://partner.example/other' }, 401],
    ];
    let n = 0;
    for (const [what, metadata, status] of cases) {
      const clientId = `ca-partner-san-${n++}`;
      await pkiClient(server, clientId, metadata);
      t.equal((await tokenRequest(server, clientId, header)).status, status, what);
    }
  });
});

t.test('the header counts only from CERT_PROXY_ADDRESSES', async (t) => {
  const server = await startTestServer(t, { env: { ...PROXY_ENV, CERT_PROXY_ADDRESSES: '10.9.9.9' } });
  const pki = createTestPki(t);
  const certificate = pki.root({ name: 'Partner Exchange Client', keyType: 'ec' });
  await selfSignedClient(server, 'ca-partner-self-signed', certificate);
  const root = pki.root({ name: 'Partner Root', keyType: 'ec' });
  await registerCa(server.runtime, { name: 'Partner CA', anchors: [root], policyLevels: { [POLICY]: 'L3' } });
  await pkiClient(server, 'ca-partner-dn', { tls_client_auth_subject_dn: 'CN=partner-exchange,O=Test PKI,C=CN' });

  for (const [clientId, header] of [
    ['ca-partner-self-signed', escapedPem(certificate)],
    ['ca-partner-dn', escapedPem(root.leaf({ name: 'partner-exchange' }))],
  ] as const) {
    const refused = await tokenRequest(server, clientId, header);
    t.equal(refused.status, 401, `${clientId} from 127.0.0.1`);
    t.equal(refused.body.error, 'invalid_client');
  }
  t.equal(await issuedTokens(server), 0, 'nothing stored');
});

t.test('without CERT_PROXY_HEADER there is no mTLS client authentication', async (t) => {
  const server = await startTestServer(t);
  const discovery = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json() as { token_endpoint_auth_methods_supported: string[] };
  t.notOk(discovery.token_endpoint_auth_methods_supported.some((m) => m.includes('tls_client_auth')), 'not announced');
  await t.rejects(pkiClient(server, 'ca-partner-dn', { tls_client_auth_subject_dn: 'CN=x' }), { code: 'invalid_client_metadata' }, 'not registrable');
});

t.test('RFC 4514 subject matching', async (t) => {
  const pki = createTestPki(t);
  const root = pki.root({ name: 'DN Root', keyType: 'ec' });
  const tricky = root.leaf({ subject: { C: 'CN', O: 'Acme, Inc.', OU: '#ops', CN: '张三 ' } });
  t.same(parseDistinguishedName('CN=a+OU=b,O=c'), [[{ type: '2.5.4.3', value: 'a' }, { type: '2.5.4.11', value: 'b' }], [{ type: '2.5.4.10', value: 'c' }]]);
  t.ok(subjectMatches(tricky.cert, 'CN=张三,OU=\\#ops,O=Acme\\, Inc.,C=CN'), 'escaped comma and leading #');
  t.ok(subjectMatches(tricky.cert, 'CN=\\E5\\BC\\A0\\E4\\B8\\89,2.5.4.11=\\#ops,O=Acme\\2C Inc.,OID.2.5.4.6=CN'), 'hex escapes (UTF-8) and OID types');
  t.notOk(subjectMatches(tricky.cert, 'CN=张三,OU=\\#ops,O=Acme,C=CN'), 'an unescaped comma splits the value');
  t.notOk(subjectMatches(tricky.cert, 'OU=\\#ops,O=Acme\\, Inc.,C=CN'), 'an RDN missing');
  t.notOk(subjectMatches(tricky.cert, 'CN=张三,OU=\\#ops,O=Acme\\, Inc.,C=CN,DC=example'), 'an RDN too many');
  for (const bad of ['', 'CN', 'XX=a', 'CN=a,', 'CN=a\\', 'CN=a\\zz', 'CN=#zz', 'CN="a"']) {
    t.equal(parseDistinguishedName(bad), undefined, `refused: ${JSON.stringify(bad)}`);
  }
});

t.test('admins register mutual-TLS partner clients through the admin API only where a proxy forwards certificates', async (t) => {
  const tokens = new Map<Server, string>();
  const adminToken = async (server: Server) => {
    const known = tokens.get(server);
    if (known) return known;
    const admin = await server.runtime.clients.create({ client_id: 'ops', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'admin' });
    const response = await fetch(`${server.issuer}/token`, {
      method: 'POST', headers: { authorization: `Basic ${Buffer.from(`ops:${admin.client_secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=admin',
    });
    const token = ((await response.json()) as { access_token: string }).access_token;
    tokens.set(server, token);
    return token;
  };
  const register = async (server: Server, body: Record<string, unknown>) => fetch(`${server.issuer}/admin/clients`, {
    method: 'POST', headers: { authorization: `Bearer ${await adminToken(server)}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const partner = {
    client_id: 'ca-exchange', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'trust:partner',
    token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=exchange,O=Partner CA,C=CN',
  };
  const withProxy = await startTestServer(t, { env: PROXY_ENV });
  const created = await register(withProxy, partner);
  t.equal(created.status, 201, 'registered');
  t.equal((await withProxy.runtime.clients.find('ca-exchange'))?.tls_client_auth_subject_dn, 'CN=exchange,O=Partner CA,C=CN');
  const withoutProxy = await startTestServer(t);
  const refused = await register(withoutProxy, partner);
  t.equal(refused.status, 400, 'refused where no proxy forwards certificates');
  t.equal(await withoutProxy.runtime.clients.find('ca-exchange'), undefined, 'nothing stored');
  const unknownField = await register(withProxy, { ...partner, client_id: 'ca-exchange-2', tls_client_auth_subject: 'CN=x' });
  t.equal(unknownField.status, 400, 'a misspelt field is refused');
});

t.test('tls_client_auth: a suspended CA sent along in the chain does not vouch through a granted root', async (t) => {
  const server = await startTestServer(t, { env: PROXY_ENV });
  const pki = createTestPki(t);
  const root = pki.root({ name: 'Granted Root', keyType: 'ec' });
  const issuing = root.intermediate({ name: 'Suspended Issuing CA' });
  await registerCa(server.runtime, { name: 'Root service', anchors: [root], policyLevels: { [POLICY]: 'L2' }, revocationMode: 'crl', softFailMaxLevel: 'L2' });
  const suspended = await registerCa(server.runtime, { name: 'Issuing service', anchors: [], intermediates: [issuing], policyLevels: { [POLICY]: 'L2' }, revocationMode: 'crl', softFailMaxLevel: 'L2' })
    .catch(() => undefined);
  const partnerCert = issuing.leaf({ subject: { C: 'CN', O: 'Partner CA', CN: 'exchange' }, keyType: 'ec', extendedKeyUsage: ['clientAuth'] });
  await pkiClient(server, 'ca-partner-chain', { tls_client_auth_subject_dn: 'CN=exchange,O=Partner CA,C=CN' });
  t.equal((await tokenRequest(server, 'ca-partner-chain', escapedPem(partnerCert, issuing))).status, 200, 'granted: the chain vouches');
  if (!suspended) {
    t.fail('the issuing CA could not be registered as its own service');
    return;
  }
  await server.runtime.trust.registry.changeStatus(suspended.id, { status: 'suspended', reason: 'test' }, ADMIN);
  const refused = await tokenRequest(server, 'ca-partner-chain', escapedPem(partnerCert, issuing));
  t.equal(refused.body.error, 'invalid_client', 'suspended: refused although the root is granted');
});
