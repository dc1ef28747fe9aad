import type { LevelCatalog } from '../assurance/levels.ts';
import type { ProofingRepository } from '../assurance/proofing-repository.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { createCertificateLogin, type CertificateLogin } from '../authn/certificate/certificate-login.ts';
import { createCertificateVerifier } from '../authn/certificate/certificate-verifier.ts';
import { createChallengeStore } from '../authn/certificate/challenge-store.ts';
import { createEnterpriseCertificates } from '../authn/certificate/enterprise-certificates.ts';
import { createPresentedCertificates, type PresentedCertificates } from '../authn/certificate/presented-certificates.ts';
import type { TrustedService, TrustSource, TrustView } from '../authn/certificate/types.ts';
import type { HotStore } from '../cache/hot-store.ts';
import type { RateLimiter } from '../cache/rate-limiter.ts';
import type { CertificateLoginConfig } from '../config/types.ts';
import type { Database } from '../db/database.ts';
import { createRecognition } from '../federation/recognition.ts';
import type { DataProtector } from '../identity/data-protection.ts';
import { createRevocationChecker } from '../pki/revocation/revocation-checker.ts';
import type { TrustService } from '../trust/types.ts';
import type { TrustStore } from '../trust/trust-store.ts';

export type CertificateComponents = { login: CertificateLogin; presented: PresentedCertificates; trust: TrustSource };

function toTrustedService(service: TrustService): TrustedService {
  return {
    id: service.id,
    name: service.name,
    operatorName: service.operator.name,
    policyLevels: service.policyLevels,
    leafKeyUsages: service.keyUsages,
    extraction: service.extractionRules,
    revocation: { mode: service.revocationMode, softFailMaxLevel: service.softFailMaxLevel ?? undefined },
    keyProtection: service.keyProtection,
    pinRequired: service.pinRequired,
    crlUrls: service.crlUrls,
    ocspUrls: service.ocspUrls,
  };
}

/** The trust registry's snapshot as certificate login sees it; each service converted once per snapshot. */
export function trustSourceOf(store: TrustStore): TrustSource {
  const views = new WeakMap<object, TrustView>();
  return {
    async current() {
      const snapshot = await store.current();
      let view = views.get(snapshot);
      if (!view) {
        const converted = new Map<string, TrustedService>();
        const serviceOf = (service: TrustService) => {
          let trusted = converted.get(service.id);
          if (!trusted) converted.set(service.id, trusted = toTrustedService(service));
          return trusted;
        };
        view = {
          anchors: snapshot.anchors,
          intermediates: snapshot.intermediates,
          inactiveAnchors: snapshot.inactiveAnchors,
          inactiveIntermediates: snapshot.inactiveIntermediates,
          serviceFor(fingerprint) {
            const entry = snapshot.entryForCertificate(fingerprint);
            return entry && { service: serviceOf(entry.service), status: entry.status, usable: entry.usable };
          },
        };
        views.set(snapshot, view);
      }
      return view;
    },
  };
}

/** Wires certificate login: verifier (path, registry status, policy → level, revocation), challenges, accounts. */
export function createCertificateComponents(deps: {
  config: CertificateLoginConfig;
  issuer: string;
  db: Database;
  hot: HotStore;
  protector: DataProtector;
  audit: AuditLog;
  catalog: LevelCatalog;
  proofing: ProofingRepository;
  limiter: RateLimiter;
  trustStore: TrustStore;
  clock: () => Date;
}): CertificateComponents {
  const { config, clock } = deps;
  const trust = trustSourceOf(deps.trustStore);
  const verifier = createCertificateVerifier({
    trust, catalog: deps.catalog, clock, maxChainLength: config.maxChainLength,
    revocation: createRevocationChecker({ timeoutMs: config.revocationTimeoutMs, clock }),
  });
  const login = createCertificateLogin({
    db: deps.db, verifier, protector: deps.protector, catalog: deps.catalog, audit: deps.audit, limiter: deps.limiter, clock,
    challenges: createChallengeStore({ hot: deps.hot, issuer: deps.issuer, ttlSeconds: config.challengeSeconds, clock }),
    recognition: createRecognition({ db: deps.db, protector: deps.protector, proofing: deps.proofing, catalog: deps.catalog, audit: deps.audit, clock }),
    enterprise: createEnterpriseCertificates({ db: deps.db, protector: deps.protector }),
    perIpPerMinute: config.perIpPerMinute,
    createAccounts: config.createAccounts,
  });
  return { login, presented: createPresentedCertificates({ hot: deps.hot, proxy: config.proxy }), trust };
}
