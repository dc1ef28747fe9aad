import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLevelCatalog } from '../../src/assurance/levels.ts';
import { grantFor, loadUpstreams, parseUpstreams, UpstreamConfigError, valueAt, type Upstream } from '../../src/federation/upstream-config.ts';

const catalog = loadLevelCatalog(new URL('../../config/levels.json', import.meta.url).pathname, 'https://id.example.gov.cn');
const EXAMPLE = new URL('../../config/upstreams.example.json', import.meta.url).pathname;

const oidc = (overrides: Record<string, unknown> = {}) => ({
  id: 'province', displayName: { 'zh-CN': '省平台', en: 'the province' }, type: 'oidc', issuer: 'https://tyrz.example.gov.cn',
  clientId: 'city', clientSecret: 's3cret', scopes: ['openid', 'id_number'], claims: { idNumber: 'id_number', name: 'name' },
  acr: { L2: { proofing: 'register_verified', methods: ['pwd', 'sms'] } }, createAccounts: true, allowedProofing: 'register_verified',
  ...overrides,
});

function problems(upstreams: unknown[], allowHttp = false): readonly string[] {
  try {
    parseUpstreams({ upstreams }, { catalog, allowHttp });
    return [];
  } catch (error) {
    if (error instanceof UpstreamConfigError) return error.problems;
    throw error;
  }
}

t.test('the documented example loads, secrets read from files next to it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'upstreams-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'upstreams.json'), readFileSync(EXAMPLE));
  mkdirSync(join(dir, 'secrets'));
  writeFileSync(join(dir, 'secrets', 'province-client-secret'), 'from-a-file\n');
  writeFileSync(join(dir, 'secrets', 'payapp-client-secret'), 'pay-secret');
  const upstreams = loadUpstreams(join(dir, 'upstreams.json'), { catalog, allowHttp: false });
  t.same(upstreams.map((u) => `${u.id}:${u.type}`), ['province', 'national', 'payapp'].map((id, i) => `${id}:${i < 2 ? 'oidc' : 'oauth2'}`));
  t.equal(upstreams[0].clientSecret, 'from-a-file');
  const payapp = upstreams[2] as Extract<Upstream, { type: 'oauth2' }>;
  t.equal(payapp.issuer, 'https://open.payapp.example.com', 'a plain OAuth server is named by its origin');
  t.equal(payapp.tokenEndpointAuthMethod, 'client_secret_post');
  t.same(grantFor(payapp, undefined, catalog), { proofing: 'bank_verified', methods: ['pwd'] });
});

t.test('every problem is reported at once, saying where', async (t) => {
  t.same(problems([oidc()]), []);
  t.match(problems([{ ...oidc(), type: 'saml' }]), [/upstreams\[0\] \("province"\): "type" must be "oidc" or "oauth2"/]);
  t.match(problems([oidc({ issuer: 'http://tyrz.example.gov.cn', clientId: '', scopes: ['id_number'] })]), [
    /"clientId" must be a non-empty string/, /"scopes" of an oidc upstream must include "openid"/, /"issuer" must be an https:\/\/ URL/,
  ]);
  t.same(problems([oidc({ issuer: 'http://127.0.0.1:4000' })], true), [], 'http:// only where allowed (development, tests)');
  t.match(problems([oidc({ acr: { L1: { proofing: 'self_asserted', methods: ['pwd'] } } })]), [/must be stronger than "self_asserted"/]);
  t.match(problems([oidc({ acr: { L3: { proofing: 'biometric_verified', methods: ['pwd', 'sms', 'face'] } } })]), [/stronger than "allowedProofing"/]);
  t.match(problems([oidc({ acr: { L2: { proofing: 'notarised', methods: ['upstream'] } } })]), [/unknown proofing "notarised"/, /unknown method "upstream"/]);
  t.match(problems([oidc({ acr: {} })]), [/"acr" must map at least one upstream acr value/]);
  t.match(problems([oidc({ acrValues: ['L3'] })]), [/"acrValues" must be a list of acr values that "acr" maps/]);
  t.match(problems([oidc({ clientSecretFile: 'x' })]), [/exactly one of "clientSecret" and "clientSecretFile"/]);
  t.match(problems([oidc({ redirectUri: 'https://elsewhere' })]), [/unknown key "redirectUri"/]);
  t.match(problems([oidc({ id: 'Province_1' })]), [/"id" must be lower-case letters/]);
  t.match(problems([oidc(), oidc()]), [/id "province" is used twice/]);
  t.match(problems([{
    id: 'pay', displayName: { 'zh-CN': '支付', en: 'Pay' }, type: 'oauth2', clientId: 'c', clientSecret: 's', scopes: ['user'],
    authorizationEndpoint: 'https://pay.example.com/authorize', tokenEndpoint: 'https://pay.example.com/token',
    userinfo: { subject: 'data.id', idNumber: 'data cert', name: 'name' }, grant: { proofing: 'bank_verified', methods: [] },
    createAccounts: 'yes', allowedProofing: 'bank_verified',
  }]), [
    /"createAccounts" must be true or false/, /"userinfoEndpoint" must be a non-empty string/,
    /"userinfo.idNumber" must be a claim name or a dotted path/, /"grant.methods" must be a non-empty list/,
  ]);
  t.throws(() => parseUpstreams({}, { catalog, allowHttp: false }), /"upstreams" must be a list/);
  t.throws(() => loadUpstreams('/nonexistent/upstreams.json', { catalog, allowHttp: false }), /cannot read/);
});

t.test('the mapping decides what a login counts for; an unmapped acr counts for nothing', async (t) => {
  const [upstream] = parseUpstreams({ upstreams: [oidc()] }, { catalog, allowHttp: false });
  t.same(grantFor(upstream, 'L2', catalog), { proofing: 'register_verified', methods: ['pwd', 'sms'] });
  t.equal(grantFor(upstream, 'L3', catalog), undefined);
  t.equal(grantFor(upstream, undefined, catalog), undefined);
  t.equal(grantFor(upstream, 'constructor', catalog), undefined, 'only the mapping\'s own keys');
});

t.test('userinfo paths', async (t) => {
  t.equal(valueAt({ data: { cert_no: '1' } }, 'data.cert_no'), '1');
  t.equal(valueAt({ 'https://claims.example/id': '2' }, 'https://claims.example/id'), '2', 'a claim name with dots');
  t.equal(valueAt({ data: null }, 'data.cert_no'), undefined);
  t.equal(valueAt({ data: {} }, 'data.__proto__'), undefined);
});
