import type { EncryptionKey } from '../identity/data-protection.ts';
import type { SelfServiceSettings } from '../self-service/settings.ts';

export type Mode = 'development' | 'test' | 'production';
export type ConnectorChoice = 'sandbox' | 'http';

export type HttpConnectorConfig = {
  provider: ConnectorChoice;
  url?: string;
  appId: string;
  secret: string;
  timeoutMs: number;
};

/** CA-certificate login (src/authn/certificate) and the trust list it relies on (src/trust). */
export type CertificateLoginConfig = {
  enabled: boolean;
  /** Lifetime of a login challenge (server nonce) bound to one interaction. */
  challengeSeconds: number;
  /** The whole revocation check (OCSP, then CRL) never holds a login longer than this. */
  revocationTimeoutMs: number;
  maxChainLength: number;
  perIpPerMinute: number;
  /** A certificate whose ID number matches no account creates one, proofed at the CA's level. */
  createAccounts: boolean;
  /** The dedicated HTTPS listener that asks for a TLS client certificate (RSA/ECDSA; Node's TLS has no SM2). */
  tls?: { host: string; port: number; keyFile: string; certFile: string; publicUrl: string };
  /** A TLS-terminating reverse proxy forwards the client certificate (URL-encoded PEM) in this header, only from these addresses. */
  proxy?: { header: string; addresses: readonly string[] };
  /** How long a published trust list stays valid (its nextUpdate). */
  trustListValiditySeconds: number;
};

export type Config = Readonly<{
  mode: Mode;
  host: string;
  port: number;
  issuer: string;
  databaseUrl?: string;
  dataDir: string;
  redisUrl?: string;
  logLevel: string;
  trustProxy: boolean;
  cookieSecrets: readonly string[];
  encryptionKeys: readonly EncryptionKey[];
  lookupKey: Buffer;
  /** True when any secret above fell back to the built-in development value. */
  usesDevelopmentSecrets: readonly string[];
  demoData: boolean;
  sms: HttpConnectorConfig & { sandboxOutboxLimit: number };
  populationRegister: HttpConnectorConfig & { sandboxCitizensFile: string };
  face: HttpConnectorConfig & {
    enabled: boolean;
    /** Credentials the vendor signs its callbacks with. */
    vendorAppId: string;
    vendorSecret: string;
    /** Similarity (0–100) at or above which a live capture matches the portrait. */
    minScore: number;
    resultMaxAgeSeconds: number;
    maxConsecutiveFailures: number;
    disableAfterFailures: number;
    dailyBudget: number;
    perIpPerHour: number;
    sandboxSubjectsFile: string;
  };
  bankCard: HttpConnectorConfig & {
    enabled: boolean;
    /** Enables the weaker L3 path (bank card instead of face) of the level table. */
    forL3: boolean;
    perAccountPerDay: number;
    perCardPerDay: number;
    perIpPerHour: number;
    sandboxCardsFile: string;
    binTableFile: string;
  };
  certificates: CertificateLoginConfig;
  session: { absoluteSeconds: number; idleSeconds: number };
  tokens: {
    accessTokenSeconds: number;
    idTokenSeconds: number;
    refreshTokenSeconds: number;
    authorizationCodeSeconds: number;
    interactionSeconds: number;
    clientCredentialsSeconds: number;
  };
  otp: {
    ttlSeconds: number;
    maxAttempts: number;
    cooldownSeconds: number;
    dailyCapPerPhone: number;
    perIpPerHour: number;
    globalPerMinute: number;
  };
  login: {
    maxFailuresPerIdentifier: number;
    lockoutSeconds: number;
    perIpPerMinute: number;
  };
  password: { minLength: number; commonPasswordsFile: string };
  pairwiseSalt: string;
  /** The assurance level table (config/levels.json by default). */
  levelsFile: string;
  /** Upstream identity providers offered as login options (accounts recognised from other platforms). */
  upstreamsFile?: string;
  /** Deregistration cooling-off, re-authentication for sensitive changes, retention of closed accounts. */
  selfService: SelfServiceSettings;
  /** How often the population register's change feed is read (0 = never automatically). */
  registryPollSeconds: number;
  /** The level an admin must have signed in at before the console or a person's token may act. */
  adminConsoleLevel: string;
  /** Hosts on private or loopback addresses that outgoing provider requests (back-channel logout) may reach. */
  outboundPrivateHosts: readonly string[];
}>;
