import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { parseKeyRing } from '../identity/data-protection.ts';
import { loadSelfServiceSettings } from '../self-service/settings.ts';
import { ConfigError } from './errors.ts';
import type { CertificateLoginConfig, Config, ConnectorChoice, Mode } from './types.ts';

export { ConfigError };

const CONFIG_DIR = new URL('../../config/', import.meta.url).pathname;

// Fixed values so a development install keeps decrypting its own data between restarts. They are
// public (they are in this file), hence production refuses to start with any of them.
const DEV_COOKIE_SECRET = 'development-cookie-secret-not-for-production';
const DEV_ENCRYPTION_KEYS = 'dev1:' + createHash('sha256').update('dev-data-key').digest('base64');
const DEV_LOOKUP_KEY = createHash('sha256').update('dev-lookup-key').digest('base64');
const DEV_CONNECTOR_SECRET = 'sandbox-shared-secret';
const DEV_PAIRWISE_SALT = 'development-pairwise-salt';

type Env = Readonly<Record<string, string | undefined>>;

/** The only reader of the environment: validates everything once and returns a frozen object. */
export function loadConfig(env: Env): Config {
  const problems: string[] = [];
  const devSecrets: string[] = [];

  const mode = oneOf<Mode>(env.NODE_ENV ?? 'development', ['development', 'test', 'production'], 'NODE_ENV', problems);
  const production = mode === 'production';
  const port = integer(env.PORT, 3000, 'PORT', problems, 0, 65535);
  const host = env.HOST ?? (production ? '0.0.0.0' : '127.0.0.1');
  const issuer = (env.ISSUER ?? `http://localhost:${port}`).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(issuer)) problems.push(`ISSUER must be an http(s) URL without query or fragment, got "${issuer}"`);

  const secretOr = (name: string, fallback: string) => {
    const value = env[name];
    if (value) return value;
    devSecrets.push(name);
    return fallback;
  };

  const cookieSecrets = secretOr('COOKIE_SECRETS', DEV_COOKIE_SECRET).split(',').map((s) => s.trim()).filter(Boolean);
  if (cookieSecrets.some((s) => s.length < 32)) problems.push('COOKIE_SECRETS: every secret must be at least 32 characters');

  let encryptionKeys: Config['encryptionKeys'] = [];
  try {
    encryptionKeys = parseKeyRing(secretOr('DATA_ENCRYPTION_KEYS', DEV_ENCRYPTION_KEYS));
  } catch (error) {
    problems.push(`DATA_ENCRYPTION_KEYS: ${(error as Error).message}`);
  }
  const lookupKey = Buffer.from(secretOr('LOOKUP_HMAC_KEY', DEV_LOOKUP_KEY), 'base64');
  if (lookupKey.length < 32) problems.push('LOOKUP_HMAC_KEY must be at least 32 bytes, base64-encoded');

  const connector = (prefix: string, label: string, active = true) => {
    const provider = oneOf<ConnectorChoice>(env[prefix] ?? (production ? 'http' : 'sandbox'), ['sandbox', 'http'], prefix, problems);
    const url = env[`${prefix}_URL`];
    if (active && provider === 'http' && !url) problems.push(`${prefix}_URL is required when ${prefix}=http (${label})`);
    if (active && provider === 'http' && !env[`${prefix}_SECRET`]) problems.push(`${prefix}_SECRET is required when ${prefix}=http (${label})`);
    return {
      provider,
      url,
      appId: env[`${prefix}_APP_ID`] ?? 'gov-idp',
      secret: provider === 'http' ? (env[`${prefix}_SECRET`] ?? '') : (env[`${prefix}_SECRET`] ?? DEV_CONNECTOR_SECRET),
      timeoutMs: integer(env[`${prefix}_TIMEOUT_MS`], 3000, `${prefix}_TIMEOUT_MS`, problems, 100, 60000),
    };
  };
  const sms = connector('SMS_GATEWAY', 'the SMS gateway');
  const populationRegister = connector('POPULATION_REGISTER', 'the population register');
  const faceEnabled = bool(env.FACE_SERVICE_ENABLED, true, 'FACE_SERVICE_ENABLED', problems);
  const face = connector('FACE_SERVICE', 'the face-verification service', faceEnabled);
  const bankCardEnabled = bool(env.BANK_CARD_ENABLED, true, 'BANK_CARD_ENABLED', problems);
  const bankCard = connector('BANK_CARD_SERVICE', 'the bank-card verification service', bankCardEnabled);
  if (face.provider === 'http' && faceEnabled && !env.FACE_VENDOR_SECRET) problems.push('FACE_VENDOR_SECRET is required when FACE_SERVICE=http (it verifies the vendor\'s callbacks)');

  const config: Config = {
    mode,
    host,
    port,
    issuer,
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.DATA_DIR ?? new URL('../../data/', import.meta.url).pathname,
    redisUrl: env.REDIS_URL || undefined,
    logLevel: env.LOG_LEVEL ?? (mode === 'test' ? 'silent' : 'info'),
    trustProxy: bool(env.TRUST_PROXY, false, 'TRUST_PROXY', problems),
    cookieSecrets,
    encryptionKeys,
    lookupKey,
    usesDevelopmentSecrets: devSecrets,
    demoData: bool(env.DEMO_DATA, !production, 'DEMO_DATA', problems),
    sms: { ...sms, sandboxOutboxLimit: 1000 },
    populationRegister: {
      ...populationRegister,
      sandboxCitizensFile: env.POPULATION_REGISTER_SANDBOX_FILE ?? `${CONFIG_DIR}sandbox-population-register.json`,
    },
    face: {
      ...face,
      enabled: faceEnabled,
      vendorAppId: env.FACE_VENDOR_APP_ID ?? 'face-vendor',
      vendorSecret: env.FACE_VENDOR_SECRET ?? (face.provider === 'sandbox' ? 'sandbox-face-vendor-secret' : ''),
      minScore: integer(env.FACE_MIN_SCORE, 80, 'FACE_MIN_SCORE', problems, 1, 100),
      resultMaxAgeSeconds: 300,
      maxConsecutiveFailures: 5,
      disableAfterFailures: 10,
      dailyBudget: integer(env.FACE_DAILY_BUDGET, 10000, 'FACE_DAILY_BUDGET', problems, 1, 10_000_000),
      perIpPerHour: integer(env.FACE_PER_IP_PER_HOUR, 20, 'FACE_PER_IP_PER_HOUR', problems, 1, 100000),
      sandboxSubjectsFile: env.FACE_SANDBOX_FILE ?? `${CONFIG_DIR}sandbox-face-service.json`,
    },
    bankCard: {
      ...bankCard,
      enabled: bankCardEnabled,
      forL3: bool(env.BANK_CARD_FOR_L3, false, 'BANK_CARD_FOR_L3', problems),
      perAccountPerDay: integer(env.BANK_CARD_PER_ACCOUNT_PER_DAY, 5, 'BANK_CARD_PER_ACCOUNT_PER_DAY', problems, 1, 1000),
      perCardPerDay: integer(env.BANK_CARD_PER_CARD_PER_DAY, 3, 'BANK_CARD_PER_CARD_PER_DAY', problems, 1, 1000),
      perIpPerHour: integer(env.BANK_CARD_PER_IP_PER_HOUR, 10, 'BANK_CARD_PER_IP_PER_HOUR', problems, 1, 100000),
      sandboxCardsFile: env.BANK_CARD_SANDBOX_FILE ?? `${CONFIG_DIR}sandbox-bank-cards.json`,
      binTableFile: env.BANK_BIN_FILE ?? `${CONFIG_DIR}bank-bins.json`,
    },
    certificates: certificateSettings(env, port, problems),
    session: {
      absoluteSeconds: integer(env.SESSION_ABSOLUTE_SECONDS, 12 * 3600, 'SESSION_ABSOLUTE_SECONDS', problems, 60, 7 * 86400),
      idleSeconds: integer(env.SESSION_IDLE_SECONDS, 30 * 60, 'SESSION_IDLE_SECONDS', problems, 60, 86400),
    },
    tokens: {
      accessTokenSeconds: integer(env.ACCESS_TOKEN_SECONDS, 600, 'ACCESS_TOKEN_SECONDS', problems, 30, 86400),
      idTokenSeconds: integer(env.ID_TOKEN_SECONDS, 600, 'ID_TOKEN_SECONDS', problems, 30, 86400),
      refreshTokenSeconds: integer(env.REFRESH_TOKEN_SECONDS, 12 * 3600, 'REFRESH_TOKEN_SECONDS', problems, 60, 30 * 86400),
      authorizationCodeSeconds: 60,
      interactionSeconds: integer(env.INTERACTION_SECONDS, 600, 'INTERACTION_SECONDS', problems, 60, 3600),
      clientCredentialsSeconds: integer(env.CLIENT_CREDENTIALS_SECONDS, 600, 'CLIENT_CREDENTIALS_SECONDS', problems, 30, 86400),
    },
    otp: {
      ttlSeconds: 300,
      maxAttempts: 5,
      cooldownSeconds: integer(env.SMS_COOLDOWN_SECONDS, 60, 'SMS_COOLDOWN_SECONDS', problems, 1, 3600),
      dailyCapPerPhone: integer(env.SMS_DAILY_CAP_PER_PHONE, 10, 'SMS_DAILY_CAP_PER_PHONE', problems, 1, 1000),
      perIpPerHour: integer(env.SMS_PER_IP_PER_HOUR, 30, 'SMS_PER_IP_PER_HOUR', problems, 1, 100000),
      globalPerMinute: integer(env.SMS_GLOBAL_PER_MINUTE, 600, 'SMS_GLOBAL_PER_MINUTE', problems, 1, 1000000),
    },
    login: {
      maxFailuresPerIdentifier: integer(env.LOGIN_MAX_FAILURES, 5, 'LOGIN_MAX_FAILURES', problems, 1, 100),
      lockoutSeconds: integer(env.LOGIN_LOCKOUT_SECONDS, 900, 'LOGIN_LOCKOUT_SECONDS', problems, 1, 86400),
      perIpPerMinute: integer(env.LOGIN_PER_IP_PER_MINUTE, 60, 'LOGIN_PER_IP_PER_MINUTE', problems, 1, 1000000),
    },
    password: { minLength: 8, commonPasswordsFile: `${CONFIG_DIR}common-passwords.txt` },
    pairwiseSalt: secretOr('PAIRWISE_SALT', DEV_PAIRWISE_SALT),
    levelsFile: env.LEVELS_FILE ?? `${CONFIG_DIR}levels.json`,
    upstreamsFile: env.UPSTREAMS_FILE || undefined,
    selfService: selfServiceSettings(env, problems),
    registryPollSeconds: integer(env.REGISTRY_POLL_SECONDS, mode === 'test' ? 0 : 300, 'REGISTRY_POLL_SECONDS', problems, 0, 86400),
    adminConsoleLevel: env.ADMIN_CONSOLE_LEVEL ?? 'L3',
    outboundPrivateHosts: (env.OUTBOUND_PRIVATE_HOSTS ?? (production ? '' : 'localhost,127.0.0.1,::1'))
      .split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
  };

  if (production) problems.push(...productionProblems(config));
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

/** Everything that makes a development install unsafe to expose; production refuses to start with any. */
export function productionProblems(config: Config): string[] {
  const problems: string[] = [];
  if (!config.issuer.startsWith('https://')) problems.push(`ISSUER must be https:// in production, got "${config.issuer}"`);
  for (const name of config.usesDevelopmentSecrets) problems.push(`${name} is not set (the development default is public)`);
  if (config.sms.provider === 'sandbox') problems.push('SMS_GATEWAY=sandbox is not allowed in production');
  if (config.populationRegister.provider === 'sandbox') problems.push('POPULATION_REGISTER=sandbox is not allowed in production');
  if (config.bankCard.enabled && config.bankCard.provider === 'sandbox') problems.push('BANK_CARD_SERVICE=sandbox is not allowed in production (set BANK_CARD_SERVICE=http, or BANK_CARD_ENABLED=false)');
  if (config.face.enabled && config.face.provider === 'sandbox') problems.push('FACE_SERVICE=sandbox is not allowed in production (set FACE_SERVICE=http, or FACE_SERVICE_ENABLED=false)');
  if (config.demoData) problems.push('DEMO_DATA must be off in production');
  return problems;
}

function certificateSettings(env: Env, port: number, problems: string[]): CertificateLoginConfig {
  const tlsPort = env.CERT_TLS_PORT ? integer(env.CERT_TLS_PORT, 0, 'CERT_TLS_PORT', problems, 0, 65535) : undefined;
  let tls: CertificateLoginConfig['tls'];
  if (tlsPort !== undefined) {
    if (tlsPort === port && tlsPort !== 0) problems.push('CERT_TLS_PORT must differ from PORT');
    if (!env.CERT_TLS_KEY_FILE || !env.CERT_TLS_CERT_FILE) problems.push('CERT_TLS_KEY_FILE and CERT_TLS_CERT_FILE are required with CERT_TLS_PORT');
    const publicUrl = (env.CERT_TLS_URL ?? `https://localhost:${tlsPort}`).replace(/\/+$/, '');
    if (!/^https:\/\/[^/?#]+$/.test(publicUrl)) problems.push(`CERT_TLS_URL must be an https origin, got "${publicUrl}"`);
    tls = { host: env.CERT_TLS_HOST ?? '0.0.0.0', port: tlsPort, keyFile: env.CERT_TLS_KEY_FILE ?? '', certFile: env.CERT_TLS_CERT_FILE ?? '', publicUrl };
  }
  let proxy: CertificateLoginConfig['proxy'];
  if (env.CERT_PROXY_HEADER) {
    const header = env.CERT_PROXY_HEADER.trim().toLowerCase();
    if (!/^[a-z0-9-]+$/.test(header)) problems.push(`CERT_PROXY_HEADER must be a header name, got "${env.CERT_PROXY_HEADER}"`);
    const addresses = (env.CERT_PROXY_ADDRESSES ?? '').split(',').map((a) => a.trim()).filter(Boolean);
    if (addresses.length === 0) problems.push('CERT_PROXY_ADDRESSES (the proxies allowed to send CERT_PROXY_HEADER) is required with CERT_PROXY_HEADER');
    for (const address of addresses) if (isIP(address) === 0) problems.push(`CERT_PROXY_ADDRESSES: "${address}" is not an IP address`);
    proxy = { header, addresses };
  }
  return {
    enabled: bool(env.CERT_LOGIN_ENABLED, true, 'CERT_LOGIN_ENABLED', problems),
    challengeSeconds: integer(env.CERT_CHALLENGE_SECONDS, 120, 'CERT_CHALLENGE_SECONDS', problems, 10, 900),
    revocationTimeoutMs: integer(env.CERT_REVOCATION_TIMEOUT_MS, 3000, 'CERT_REVOCATION_TIMEOUT_MS', problems, 100, 30000),
    maxChainLength: integer(env.CERT_MAX_CHAIN_LENGTH, 6, 'CERT_MAX_CHAIN_LENGTH', problems, 1, 10),
    perIpPerMinute: integer(env.CERT_LOGIN_PER_IP_PER_MINUTE, 30, 'CERT_LOGIN_PER_IP_PER_MINUTE', problems, 1, 100000),
    createAccounts: bool(env.CERT_CREATE_ACCOUNTS, true, 'CERT_CREATE_ACCOUNTS', problems),
    tls,
    proxy,
    trustListValiditySeconds: integer(env.TRUST_LIST_VALIDITY_SECONDS, 86400, 'TRUST_LIST_VALIDITY_SECONDS', problems, 60, 30 * 86400),
  };
}

function selfServiceSettings(env: Env, problems: string[]) {
  try {
    return loadSelfServiceSettings(env);
  } catch (error) {
    problems.push(...((error as ConfigError).problems ?? [(error as Error).message]));
    return loadSelfServiceSettings({});
  }
}

function oneOf<T extends string>(value: string, allowed: readonly T[], name: string, problems: string[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  problems.push(`${name} must be one of ${allowed.join(', ')}, got "${value}"`);
  return allowed[0];
}

function integer(value: string | undefined, fallback: number, name: string, problems: string[], min: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    problems.push(`${name} must be an integer from ${min} to ${max}, got "${value}"`);
    return fallback;
  }
  return parsed;
}

function bool(value: string | undefined, fallback: boolean, name: string, problems: string[]): boolean {
  if (value === undefined || value === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(value.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(value.toLowerCase())) return false;
  problems.push(`${name} must be true or false, got "${value}"`);
  return fallback;
}
