import t from 'tap';
import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from '../../src/config/load-config.ts';

const key = () => randomBytes(32).toString('base64');
const PRODUCTION = {
  NODE_ENV: 'production',
  ISSUER: 'https://id.example.gov.cn',
  COOKIE_SECRETS: 'c'.repeat(40),
  DATA_ENCRYPTION_KEYS: `k2026:${key()}`,
  LOOKUP_HMAC_KEY: key(),
  PAIRWISE_SALT: 'p'.repeat(40),
  SMS_GATEWAY: 'http', SMS_GATEWAY_URL: 'https://sms.example.gov.cn', SMS_GATEWAY_SECRET: 's',
  POPULATION_REGISTER: 'http', POPULATION_REGISTER_URL: 'https://register.example.gov.cn', POPULATION_REGISTER_SECRET: 's',
  FACE_SERVICE: 'http', FACE_SERVICE_URL: 'https://face.example.gov.cn', FACE_SERVICE_SECRET: 's', FACE_VENDOR_SECRET: 'v',
  BANK_CARD_SERVICE: 'http', BANK_CARD_SERVICE_URL: 'https://cards.example.gov.cn', BANK_CARD_SERVICE_SECRET: 's',
  DATABASE_URL: 'postgres://db/idp', REDIS_URL: 'redis://cache',
};

function problems(env: Record<string, string | undefined>): readonly string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

t.test('development defaults: embedded everything, sandbox connectors, demo data', async (t) => {
  const config = loadConfig({});
  t.equal(config.mode, 'development');
  t.equal(config.port, 3000);
  t.equal(config.issuer, 'http://localhost:3000');
  t.equal(config.databaseUrl, undefined);
  t.equal(config.redisUrl, undefined);
  t.equal(config.sms.provider, 'sandbox');
  t.equal(config.populationRegister.provider, 'sandbox');
  t.equal(config.demoData, true);
  t.equal(config.session.absoluteSeconds, 12 * 3600, 'absolute session limit 12 h');
  t.equal(config.session.idleSeconds, 30 * 60, 'idle limit 30 min');
  t.ok(Object.isFrozen(config));
  t.equal(loadConfig({ PORT: '8080' }).issuer, 'http://localhost:8080');
  t.equal(loadConfig({ ISSUER: 'https://id.example.gov.cn/' }).issuer, 'https://id.example.gov.cn');
});

t.test('a complete production configuration loads', async (t) => {
  const config = loadConfig(PRODUCTION);
  t.equal(config.mode, 'production');
  t.equal(config.demoData, false);
  t.same(config.usesDevelopmentSecrets, []);
  t.same(config.outboundPrivateHosts, []);
});

t.test('production refuses to start with anything unsafe, and says which', async (t) => {
  t.match(problems({ ...PRODUCTION, ISSUER: 'http://id.example.gov.cn' }), [/ISSUER must be https/]);
  t.match(problems({ ...PRODUCTION, COOKIE_SECRETS: undefined }), [/COOKIE_SECRETS is not set/]);
  t.match(problems({ ...PRODUCTION, DATA_ENCRYPTION_KEYS: undefined }), [/DATA_ENCRYPTION_KEYS is not set/]);
  t.match(problems({ ...PRODUCTION, LOOKUP_HMAC_KEY: undefined }), [/LOOKUP_HMAC_KEY is not set/]);
  t.match(problems({ ...PRODUCTION, SMS_GATEWAY: 'sandbox' }), [/SMS_GATEWAY=sandbox is not allowed in production/]);
  t.match(problems({ ...PRODUCTION, POPULATION_REGISTER: 'sandbox' }), [/POPULATION_REGISTER=sandbox is not allowed/]);
  t.match(problems({ ...PRODUCTION, DEMO_DATA: 'true' }), [/DEMO_DATA must be off in production/]);
  t.match(problems({ ...PRODUCTION, FACE_SERVICE: 'sandbox' }), [/FACE_SERVICE=sandbox is not allowed in production/]);
  t.match(problems({ ...PRODUCTION, FACE_VENDOR_SECRET: undefined }), [/FACE_VENDOR_SECRET is required/]);
  t.match(problems({ ...PRODUCTION, BANK_CARD_SERVICE: 'sandbox' }), [/BANK_CARD_SERVICE=sandbox is not allowed in production/]);
  t.same(problems({ ...PRODUCTION, FACE_SERVICE: undefined, FACE_SERVICE_URL: undefined, FACE_SERVICE_SECRET: undefined, FACE_SERVICE_ENABLED: 'false' }), [],
    'face verification can be switched off instead');
  t.match(problems({ ...PRODUCTION, SMS_GATEWAY_URL: undefined }), [/SMS_GATEWAY_URL is required/]);
  const all = problems({ NODE_ENV: 'production' });
  t.ok(all.length >= 6, `every problem is listed at once (${all.length})`);
});

t.test('bad values are named', async (t) => {
  t.match(problems({ PORT: 'eighty' }), [/PORT must be an integer/]);
  t.match(problems({ NODE_ENV: 'staging' }), [/NODE_ENV must be one of/]);
  t.match(problems({ COOKIE_SECRETS: 'short' }), [/at least 32 characters/]);
  t.match(problems({ DATA_ENCRYPTION_KEYS: 'k1:tooshort' }), [/DATA_ENCRYPTION_KEYS/]);
  t.match(problems({ SESSION_IDLE_SECONDS: '5' }), [/SESSION_IDLE_SECONDS must be an integer from 60/]);
  t.match(problems({ DEMO_DATA: 'maybe' }), [/DEMO_DATA must be true or false/]);
  const secret = key();
  const message = problems({ DATA_ENCRYPTION_KEYS: `bad id!:${secret}` }).join(' ');
  t.notOk(message.includes(secret), 'key material is never echoed');
});
