import { join } from 'node:path';
import type Provider from 'oidc-provider';
import { createAccountService, type AccountService } from '../accounts/service.ts';
import { createAssuranceEvaluator, type AssuranceEvaluator } from '../assurance/evaluator.ts';
import { loadLevelCatalog, type LevelCatalog } from '../assurance/levels.ts';
import { createPolicyService, type PolicyService } from '../assurance/policy-service.ts';
import { createProofingRepository, type ProofingRepository } from '../assurance/proofing-repository.ts';
import { createSessionFactsRepository } from '../assurance/session-facts-repository.ts';
import { createAuditLog, type AuditLog } from '../audit/audit-log.ts';
import { createAttemptLimits } from '../authn/attempt-limits.ts';
import { createPasswordAuthenticator } from '../authn/password/authenticator.ts';
import { loadCommonPasswords } from '../authn/password/policy.ts';
import { createSmsOtpAuthenticator } from '../authn/sms-otp/authenticator.ts';
import { createOtpService, type OtpService } from '../authn/sms-otp/otp-service.ts';
import { createFaceVerification, type FaceVerification } from '../authn/face/face-verification.ts';
import type { HotStore } from '../cache/hot-store.ts';
import { createPostgresStore } from '../cache/postgres-store.ts';
import { createRateLimiter } from '../cache/rate-limiter.ts';
import { createRedisStore } from '../cache/redis-store.ts';
import type { Config } from '../config/types.ts';
import { createHttpPopulationRegister } from '../connectors/population-register/http-client.ts';
import { loadSandboxCitizens, startSandboxPopulationRegister, type SandboxPopulationRegister } from '../connectors/population-register/sandbox-register.ts';
import type { PopulationRegister } from '../connectors/population-register/types.ts';
import { createBankCardVerification, type BankCardVerification } from '../authn/bank-card/bank-card-verification.ts';
import { createHttpBankCardVerifier } from '../connectors/bank-card/http-client.ts';
import { loadSandboxBankCards, startSandboxBankCardService } from '../connectors/bank-card/sandbox-service.ts';
import { loadBinTable } from '../identity/bank-card.ts';
import { createFaceCallbackVerifier } from '../connectors/face/callback.ts';
import { createHttpFaceService } from '../connectors/face/http-client.ts';
import { loadSandboxFaceSubjects, startSandboxFaceService } from '../connectors/face/sandbox-service.ts';
import { createHttpSmsGateway } from '../connectors/sms/http-gateway-client.ts';
import { startSandboxSmsGateway, type SandboxSmsGateway } from '../connectors/sms/sandbox-gateway.ts';
import type { SmsGateway } from '../connectors/sms/types.ts';
import { createDatabase, type Database } from '../db/database.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../db/embedded-postgres.ts';
import { migrate } from '../db/migrate.ts';
import { createDataProtector, type DataProtector } from '../identity/data-protection.ts';
import { createCsrf, type Csrf } from '../interactions/csrf.ts';
import { providerPages } from '../interactions/provider-pages.ts';
import { sweepExpiredPayloads } from '../oidc/adapter.ts';
import { auditProviderEvents } from '../oidc/audit-hooks.ts';
import { createClientService, type ClientService } from '../oidc/clients/service.ts';
import { createOidcProvider, PROVIDER_SCOPES } from '../oidc/provider.ts';
import { createSigningKeyStore } from '../oidc/signing-keys.ts';
import { createSessionTerminator, type EndAllSessions } from '../oidc/session-termination.ts';
import { loadUpstreams, type Upstream } from '../federation/upstream-config.ts';
import { createAccountAdminService, type AccountAdminService } from '../accounts/admin-service.ts';
import { createRegistrySync, type RegistrySync } from '../accounts/registry-sync.ts';
import { createTrustRegistry, type TrustRegistry } from '../trust/trust-registry.ts';
import { createCertificateComponents, type CertificateComponents } from './certificates.ts';

export type RuntimeOptions = {
  /** Schema on the search path (tests give each file its own). */
  schema?: string;
  redisKeyPrefix?: string;
  clock?: () => Date;
  log?: (level: 'info' | 'warn' | 'error', message: string, detail?: unknown) => void;
};

/** Everything the HTTP layer needs, wired once (the composition root). */
export type Runtime = {
  config: Config;
  db: Database;
  hot: HotStore;
  protector: DataProtector;
  audit: AuditLog;
  accounts: AccountService;
  otp: OtpService;
  clients: ClientService;
  provider: Provider;
  password: ReturnType<typeof createPasswordAuthenticator>;
  sms: ReturnType<typeof createSmsOtpAuthenticator>;
  smsGateway: SmsGateway;
  populationRegister: PopulationRegister;
  sandboxSms?: SandboxSmsGateway;
  /** The sandbox population register, when configured: tests publish registry events through it. */
  sandboxRegister?: SandboxPopulationRegister;
  csrf: Csrf;
  catalog: LevelCatalog;
  policies: PolicyService;
  proofing: ProofingRepository;
  assurance: AssuranceEvaluator;
  /** Absent when FACE_SERVICE_ENABLED=false. */
  face?: FaceVerification;
  /** Ends every session of an account everywhere (back-channel logout included). */
  endAllSessions: EndAllSessions;
  /** Configured upstream identity providers (empty without UPSTREAMS_FILE). */
  upstreams: readonly Upstream[];
  accountAdmin: AccountAdminService;
  registrySync: RegistrySync;
  /** Absent when BANK_CARD_ENABLED=false. */
  bankCard?: BankCardVerification;
  /** The CA trust registry (recognised CAs, partner exchange, signed trust list, peer lists). */
  trust: TrustRegistry;
  /** Absent when CERT_LOGIN_ENABLED=false. */
  certificates?: CertificateComponents;
  clock: () => Date;
  signingKeyOrigins: ReadonlySet<string>;
  embeddedPostgres?: EmbeddedPostgres;
  close(): Promise<void>;
};

export async function createRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  const log = options.log ?? (() => {});
  const clock = options.clock ?? (() => new Date());
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((error) => log('error', 'shutdown step failed', error));
  };

  try {
    let embeddedPostgres: EmbeddedPostgres | undefined;
    let connectionString = config.databaseUrl;
    if (!connectionString) {
      embeddedPostgres = await startEmbeddedPostgres({ dataDir: config.mode === 'test' ? undefined : join(config.dataDir, 'pglite') });
      closers.push(() => embeddedPostgres!.stop());
      connectionString = embeddedPostgres.connectionString;
    }
    const db = createDatabase({ connectionString, maxConnections: embeddedPostgres ? 1 : 20, schema: options.schema });
    closers.push(() => db.close());
    await migrate(db);

    const hot: HotStore = config.redisUrl ? createRedisStore({ url: config.redisUrl, keyPrefix: options.redisKeyPrefix }) : createPostgresStore(db);
    closers.push(() => hot.close());

    const protector = createDataProtector({ encryptionKeys: config.encryptionKeys, lookupKey: config.lookupKey });
    const audit = createAuditLog({ db, clock, onError: (error) => log('error', 'audit write failed', error) });
    closers.push(() => audit.flush());
    const limiter = createRateLimiter(hot);

    let sandboxSms: SandboxSmsGateway | undefined;
    let smsUrl = config.sms.url;
    if (config.sms.provider === 'sandbox') {
      sandboxSms = await startSandboxSmsGateway({
        appId: config.sms.appId, secret: config.sms.secret, outboxLimit: config.sms.sandboxOutboxLimit,
        log: (line) => log('info', line),
      });
      closers.push(() => sandboxSms!.close());
      smsUrl = sandboxSms.url;
    }
    const smsGateway = createHttpSmsGateway({ url: smsUrl!, appId: config.sms.appId, secret: config.sms.secret, timeoutMs: config.sms.timeoutMs });

    let registerUrl = config.populationRegister.url;
    let sandboxRegister: SandboxPopulationRegister | undefined;
    if (config.populationRegister.provider === 'sandbox') {
      const sandbox = sandboxRegister = await startSandboxPopulationRegister({
        appId: config.populationRegister.appId, secret: config.populationRegister.secret,
        citizens: await loadSandboxCitizens(config.populationRegister.sandboxCitizensFile),
      });
      closers.push(() => sandbox.close());
      registerUrl = sandbox.url;
    }
    const populationRegister = createHttpPopulationRegister({
      url: registerUrl!, appId: config.populationRegister.appId, secret: config.populationRegister.secret, timeoutMs: config.populationRegister.timeoutMs,
      name: config.populationRegister.provider === 'sandbox' ? 'sandbox-population-register' : 'population-register',
    });

    const accounts = createAccountService({
      db, protector, populationRegister, audit,
      commonPasswords: loadCommonPasswords(config.password.commonPasswordsFile), minPasswordLength: config.password.minLength,
    });
    const otp = createOtpService({ store: hot, limiter, sms: smsGateway, protector, clock, settings: config.otp });
    const limits = createAttemptLimits({
      limiter, maxFailures: config.login.maxFailuresPerIdentifier, lockoutSeconds: config.login.lockoutSeconds, perIpPerMinute: config.login.perIpPerMinute,
    });
    const password = createPasswordAuthenticator({ accounts, limits, audit, db });
    const sms = createSmsOtpAuthenticator({ accounts, otp, limits, audit });

    let provider: Provider | undefined;
    const clients = createClientService({ db, protector, validate: async (metadata) => { await provider!.Client.validate(metadata as never); } });

    const keyStore = createSigningKeyStore({ db, protector, origin: config.usesDevelopmentSecrets.includes('DATA_ENCRYPTION_KEYS') ? 'development' : 'production' });
    await keyStore.ensureActiveKeys();
    const { keys, origins } = await keyStore.load();

    const catalog = loadLevelCatalog(config.levelsFile, config.issuer, { variants: config.bankCard.enabled && config.bankCard.forL3 ? ['bankCardForL3'] : [] });
    if (!catalog.level(config.adminConsoleLevel)) throw new Error(`ADMIN_CONSOLE_LEVEL "${config.adminConsoleLevel}" is not a level of ${config.levelsFile}`);
    const upstreams = config.upstreamsFile ? await loadUpstreams(config.upstreamsFile, { catalog, allowHttp: config.mode !== 'production' }) : [];
    const sessionFacts = createSessionFactsRepository(db);
    const proofing = createProofingRepository(db, catalog);
    const policies = createPolicyService({
      db, catalog, audit, knownScopes: PROVIDER_SCOPES,
      clientExists: async (clientId) => Boolean(await clients.find(clientId)),
    });
    let face: FaceVerification | undefined;
    if (config.face.enabled) {
      let faceUrl = config.face.url;
      if (config.face.provider === 'sandbox') {
        const sandbox = await startSandboxFaceService({
          appId: config.face.appId, secret: config.face.secret, vendorAppId: config.face.vendorAppId, vendorSecret: config.face.vendorSecret,
          subjects: await loadSandboxFaceSubjects(config.face.sandboxSubjectsFile), log: (line) => log('info', line),
        });
        closers.push(() => sandbox.close());
        faceUrl = sandbox.url;
      }
      face = createFaceVerification({
        service: createHttpFaceService({
          url: faceUrl!, appId: config.face.appId, secret: config.face.secret, timeoutMs: config.face.timeoutMs,
          name: config.face.provider === 'sandbox' ? 'sandbox-face-service' : 'face-verification',
        }),
        callbacks: createFaceCallbackVerifier({ vendorAppId: config.face.vendorAppId, vendorSecret: config.face.vendorSecret }),
        store: hot, limiter, proofing, protector, db, audit, clock, settings: config.face, issuer: config.issuer,
      });
    }
    let bankCard: BankCardVerification | undefined;
    if (config.bankCard.enabled) {
      let cardsUrl = config.bankCard.url;
      if (config.bankCard.provider === 'sandbox') {
        const sandbox = await startSandboxBankCardService({
          appId: config.bankCard.appId, secret: config.bankCard.secret, cards: await loadSandboxBankCards(config.bankCard.sandboxCardsFile),
        });
        closers.push(() => sandbox.close());
        cardsUrl = sandbox.url;
      }
      bankCard = createBankCardVerification({
        verifier: createHttpBankCardVerifier({
          url: cardsUrl!, appId: config.bankCard.appId, secret: config.bankCard.secret, timeoutMs: config.bankCard.timeoutMs,
          name: config.bankCard.provider === 'sandbox' ? 'sandbox-bank-card' : 'bank-card',
        }),
        otp, store: hot, limiter, proofing, protector, db, audit, clock, settings: config.bankCard,
        binTable: await loadBinTable(config.bankCard.binTableFile),
      });
    }
    const assurance = createAssuranceEvaluator({ catalog, issuer: config.issuer, policies, facts: sessionFacts, proofing, clock });

    provider = createOidcProvider({
      config, db, hot, clients, accounts, keys, pages: providerPages, catalog, assurance,
      // The trust registry needs the provider, so the provider reaches the registry's store lazily.
      mtls: { trustStore: () => trust.store, clock, log: (message, detail) => log('warn', message, detail) },
    });
    auditProviderEvents(provider, audit, (error) => log('error', 'oidc-provider server error', error));

    const trust = createTrustRegistry({
      db, hot, audit, catalog, protector, provider, issuer: config.issuer, clock,
      findClient: async (clientId) => (await clients.find(clientId)) as Record<string, unknown> | undefined,
      listNextUpdateSeconds: config.certificates.trustListValiditySeconds,
      log: (message, detail) => log('warn', message, detail),
    });
    const certificates = config.certificates.enabled ? createCertificateComponents({
      config: config.certificates, issuer: config.issuer, db, hot, protector, audit, catalog, proofing, limiter, trustStore: trust.store, clock,
    }) : undefined;

    const endAllSessions = createSessionTerminator({ db, provider, audit });
    const registrySync = createRegistrySync({ db, register: populationRegister, protector, audit, endAllSessions });
    if (config.registryPollSeconds > 0) {
      const poll = setInterval(() => {
        registrySync.pollOnce().catch((error) => log('warn', 'population register feed poll failed', error));
      }, config.registryPollSeconds * 1000);
      poll.unref();
      closers.push(async () => clearInterval(poll));
    }

    // Expired durable artefacts and hot rows are swept in the background; reads already ignore them.
    const sweep = setInterval(() => {
      sweepExpiredPayloads(db).catch((error) => log('warn', 'sweep failed', error));
      sessionFacts.sweep(Math.max(...catalog.levels.map((l) => l.absoluteSeconds))).catch((error) => log('warn', 'sweep failed', error));
      if (hot.kind === 'postgres') (hot as ReturnType<typeof createPostgresStore>).sweepExpired().catch(() => {});
    }, 60_000);
    sweep.unref();
    closers.push(async () => clearInterval(sweep));

    return {
      config, db, hot, protector, audit, accounts, otp, clients, provider, password, sms, smsGateway, populationRegister, sandboxSms, sandboxRegister,
      csrf: createCsrf({ secret: config.cookieSecrets[0], secure: config.issuer.startsWith('https://'), protector }),
      catalog, policies, proofing, assurance, face, bankCard, trust, certificates, clock,
      endAllSessions, upstreams, accountAdmin: createAccountAdminService({ db, protector, audit, endAllSessions }),
      registrySync,
      signingKeyOrigins: origins,
      embeddedPostgres,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
