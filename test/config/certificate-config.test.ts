import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config/load-config.ts';

type Env = Record<string, string | undefined>;
const TLS_FILES = { CERT_TLS_KEY_FILE: '/etc/idp/cert-tls.key', CERT_TLS_CERT_FILE: '/etc/idp/cert-tls.pem' };

/** The problems of a refused configuration; fails the test when it loads. */
function refused(t: { type(value: unknown, klass: Function): unknown; fail(message: string): unknown }, env: Env): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    t.type(error, ConfigError);
    return (error as ConfigError).problems;
  }
  t.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
  return [];
}

t.test('defaults: certificate login on, no TLS listener, no proxy header', async (t) => {
  const { certificates } = loadConfig({});
  t.same(certificates, {
    enabled: true,
    challengeSeconds: 120,
    revocationTimeoutMs: 3000,
    maxChainLength: 6,
    perIpPerMinute: 30,
    createAccounts: true,
    tls: undefined,
    proxy: undefined,
    trustListValiditySeconds: 86400,
  });
  t.equal(loadConfig({ CERT_TLS_PORT: '' }).certificates.tls, undefined, 'an empty CERT_TLS_PORT is unset');
  t.equal(loadConfig({ CERT_PROXY_HEADER: '' }).certificates.proxy, undefined, 'an empty CERT_PROXY_HEADER is unset');
  t.equal(loadConfig({ CERT_PROXY_ADDRESSES: '127.0.0.1' }).certificates.proxy, undefined, 'addresses alone do not make any header count');
});

t.test('every setting is read', async (t) => {
  const { certificates } = loadConfig({
    CERT_LOGIN_ENABLED: 'false', CERT_CHALLENGE_SECONDS: '10', CERT_REVOCATION_TIMEOUT_MS: '30000', CERT_MAX_CHAIN_LENGTH: '1',
    CERT_LOGIN_PER_IP_PER_MINUTE: '100000', CERT_CREATE_ACCOUNTS: 'no', TRUST_LIST_VALIDITY_SECONDS: String(30 * 86400),
  });
  t.equal(certificates.enabled, false);
  t.equal(certificates.challengeSeconds, 10);
  t.equal(certificates.revocationTimeoutMs, 30000);
  t.equal(certificates.maxChainLength, 1);
  t.equal(certificates.perIpPerMinute, 100000);
  t.equal(certificates.createAccounts, false);
  t.equal(certificates.trustListValiditySeconds, 30 * 86400);
  const upper = loadConfig({ CERT_CHALLENGE_SECONDS: '900', CERT_REVOCATION_TIMEOUT_MS: '100', CERT_MAX_CHAIN_LENGTH: '10', CERT_LOGIN_PER_IP_PER_MINUTE: '1', TRUST_LIST_VALIDITY_SECONDS: '60', CERT_LOGIN_ENABLED: 'on', CERT_CREATE_ACCOUNTS: '1' }).certificates;
  t.same([upper.challengeSeconds, upper.revocationTimeoutMs, upper.maxChainLength, upper.perIpPerMinute, upper.trustListValiditySeconds], [900, 100, 10, 1, 60], 'the other ends of each range');
  t.same([upper.enabled, upper.createAccounts], [true, true]);
});

t.test('the TLS listener: port, files, bind address and public URL', async (t) => {
  t.same(loadConfig({ CERT_TLS_PORT: '8443', ...TLS_FILES }).certificates.tls, {
    host: '0.0.0.0', port: 8443, keyFile: TLS_FILES.CERT_TLS_KEY_FILE, certFile: TLS_FILES.CERT_TLS_CERT_FILE, publicUrl: 'https://localhost:8443',
  }, 'listens everywhere and is reached at https://localhost:<port> unless told otherwise');
  const told = loadConfig({ CERT_TLS_PORT: '9443', CERT_TLS_HOST: '10.1.2.3', CERT_TLS_URL: 'https://cert.id.example.gov.cn/', ...TLS_FILES }).certificates.tls;
  t.equal(told?.host, '10.1.2.3');
  t.equal(told?.port, 9443);
  t.equal(told?.publicUrl, 'https://cert.id.example.gov.cn', 'trailing slash dropped');
});

t.test('TLS listener settings that are refused name the variable', async (t) => {
  for (const port of ['abc', '-1', '65536', '1.5', '8443x']) {
    t.match(refused(t, { CERT_TLS_PORT: port, ...TLS_FILES }), [/^CERT_TLS_PORT must be an integer from 0 to 65535, got "/], port);
  }
  t.match(refused(t, { PORT: '8443', CERT_TLS_PORT: '8443', ...TLS_FILES }), ['CERT_TLS_PORT must differ from PORT']);
  t.match(refused(t, { CERT_TLS_PORT: '3000', ...TLS_FILES }), ['CERT_TLS_PORT must differ from PORT'], 'PORT defaults to 3000');
  for (const missing of ['CERT_TLS_KEY_FILE', 'CERT_TLS_CERT_FILE'] as const) {
    const problems = refused(t, { CERT_TLS_PORT: '8443', ...TLS_FILES, [missing]: undefined });
    t.equal(problems.length, 1, `without ${missing}`);
    t.match(problems[0], missing);
    t.match(problems[0], /required with CERT_TLS_PORT/);
  }
  t.match(refused(t, { CERT_TLS_PORT: '8443', ...TLS_FILES, CERT_TLS_KEY_FILE: '' }), [/CERT_TLS_KEY_FILE and CERT_TLS_CERT_FILE are required/], 'an empty file name is no file');
  for (const url of ['http://cert.example.gov.cn', 'https://cert.example.gov.cn/login', 'https://cert.example.gov.cn?x=1', 'https://cert.example.gov.cn#f', 'cert.example.gov.cn', 'https://']) {
    t.match(refused(t, { CERT_TLS_PORT: '8443', ...TLS_FILES, CERT_TLS_URL: url }), [/^CERT_TLS_URL must be an https origin, got "/], url);
  }
});

t.test('the proxy header: name normalised, addresses trimmed, IPv4 and IPv6', async (t) => {
  t.same(loadConfig({ CERT_PROXY_HEADER: ' X-SSL-Client-Cert ', CERT_PROXY_ADDRESSES: ' 10.0.0.7 , ::1,,fd00::1 ' }).certificates.proxy, {
    header: 'x-ssl-client-cert', addresses: ['10.0.0.7', '::1', 'fd00::1'],
  });
});

t.test('proxy settings that are refused name the variable', async (t) => {
  for (const header of ['x ssl cert', 'x-ssl-cert:', 'x_ssl_cert', 'ssl\nclient-cert', 'ä-cert']) {
    t.match(refused(t, { CERT_PROXY_HEADER: header, CERT_PROXY_ADDRESSES: '10.0.0.7' }), [/^CERT_PROXY_HEADER must be a header name, got "/], JSON.stringify(header));
  }
  for (const addresses of [undefined, '', ' , ']) {
    t.match(refused(t, { CERT_PROXY_HEADER: 'x-ssl-client-cert', CERT_PROXY_ADDRESSES: addresses }), [/^CERT_PROXY_ADDRESSES .* is required with CERT_PROXY_HEADER$/], `addresses ${JSON.stringify(addresses)}`);
  }
  for (const bad of ['10.0.0.0/8', 'proxy.internal', '999.1.1.1', '10.0.0', 'localhost']) {
    t.same(refused(t, { CERT_PROXY_HEADER: 'x-ssl-client-cert', CERT_PROXY_ADDRESSES: `10.0.0.7,${bad}` }), [`CERT_PROXY_ADDRESSES: "${bad}" is not an IP address`], bad);
  }
});

t.test('out-of-range and malformed numbers and booleans name the variable', async (t) => {
  const ranges: [string, string, string[]][] = [
    ['CERT_CHALLENGE_SECONDS', '10 to 900', ['9', '901', 'two', '1.5', '-10']],
    ['CERT_REVOCATION_TIMEOUT_MS', '100 to 30000', ['99', '30001', '3s']],
    ['CERT_MAX_CHAIN_LENGTH', '1 to 10', ['0', '11', 'many']],
    ['CERT_LOGIN_PER_IP_PER_MINUTE', '1 to 100000', ['0', '100001', '1e9']],
    ['TRUST_LIST_VALIDITY_SECONDS', `60 to ${30 * 86400}`, ['59', String(30 * 86400 + 1), '1d']],
  ];
  for (const [name, range, values] of ranges) {
    for (const value of values) {
      t.same(refused(t, { [name]: value }), [`${name} must be an integer from ${range}, got "${value}"`], `${name}=${value}`);
    }
  }
  for (const name of ['CERT_LOGIN_ENABLED', 'CERT_CREATE_ACCOUNTS']) {
    t.same(refused(t, { [name]: 'maybe' }), [`${name} must be true or false, got "maybe"`]);
  }
});

t.test('all problems are reported at once', async (t) => {
  const problems = refused(t, {
    CERT_TLS_PORT: '8443', CERT_TLS_URL: 'http://x', CERT_PROXY_HEADER: 'bad header', CERT_MAX_CHAIN_LENGTH: '0',
  });
  t.equal(problems.length, 5);
  for (const name of ['CERT_TLS_KEY_FILE', 'CERT_TLS_URL', 'CERT_PROXY_HEADER', 'CERT_PROXY_ADDRESSES', 'CERT_MAX_CHAIN_LENGTH']) {
    t.ok(problems.some((p) => p.includes(name)), name);
  }
});
