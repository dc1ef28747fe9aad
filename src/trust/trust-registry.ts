import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';
import type { LevelCatalog } from '../assurance/levels.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { HotStore } from '../cache/hot-store.ts';
import type { Database } from '../db/database.ts';
import type { DataProtector } from '../identity/data-protection.ts';
import { registerTrustAdminRoutes } from './admin-routes.ts';
import { createListSigningKeys, type ListSigningKeys } from './list-signing-keys.ts';
import { registerPartnerRoutes } from './partner-routes.ts';
import { createPeerSources, type PeerSources } from './peer-import.ts';
import { registerTrustListRoutes } from './public-routes.ts';
import { createRegistryService, type RegistryService } from './registry-service.ts';
import { createTrustList, type TrustList } from './trust-list.ts';
import { createTrustStore, type TrustStore } from './trust-store.ts';

export type TrustRegistry = {
  registry: RegistryService;
  /** What certificate logins use: `(await store.current()).serviceForCertificate(fingerprint)` etc. */
  store: TrustStore;
  list: TrustList;
  keys: ListSigningKeys;
  peers: PeerSources;
  db: Database;
  provider: Provider;
  clock: () => Date;
};

export type TrustRegistryDeps = {
  db: Database;
  hot: HotStore;
  audit: AuditLog;
  catalog: LevelCatalog;
  protector: DataProtector;
  provider: Provider;
  /** runtime.clients.find: partner links are checked against the registered OIDC clients. */
  findClient: (clientId: string) => Promise<Record<string, unknown> | undefined>;
  issuer: string;
  clock?: () => Date;
  log?: (message: string, detail?: unknown) => void;
  /** nextUpdate of the published list = issuedAt + this (default 24 h). */
  listNextUpdateSeconds?: number;
  /** Shown as the scheme operator in the published list (default: the issuer). */
  schemeOperatorName?: string;
  peerFetchTimeoutMs?: number;
  peerMaxListBytes?: number;
};

/** The trust registry wired once (composition root of src/trust). */
export function createTrustRegistry(deps: TrustRegistryDeps): TrustRegistry {
  const clock = deps.clock ?? (() => new Date());
  const registry = createRegistryService({ db: deps.db, hot: deps.hot, audit: deps.audit, catalog: deps.catalog, clock, findClient: deps.findClient, log: deps.log });
  const keys = createListSigningKeys({ db: deps.db, protector: deps.protector, audit: deps.audit, clock });
  return {
    registry,
    store: createTrustStore({ db: deps.db, hot: deps.hot, clock, log: deps.log }),
    list: createTrustList({ db: deps.db, keys, issuer: deps.issuer, clock, operatorName: deps.schemeOperatorName, nextUpdateSeconds: deps.listNextUpdateSeconds }),
    keys,
    peers: createPeerSources({
      db: deps.db, audit: deps.audit, catalog: deps.catalog, registry, fetchTimeoutMs: deps.peerFetchTimeoutMs, maxListBytes: deps.peerMaxListBytes,
    }),
    db: deps.db,
    provider: deps.provider,
    clock,
  };
}

/** Public routes: `GET /trust/list`, `GET /trust/jwks`, and the partner exchange API under `/trust/partner/`. */
export async function registerTrustRoutes(app: FastifyInstance, trust: TrustRegistry) {
  await registerTrustListRoutes(app, { list: trust.list, keys: trust.keys, clock: trust.clock });
  await registerPartnerRoutes(app, { provider: trust.provider, registry: trust.registry });
}

/** Admin routes under `/admin/trust/...`: `registerTrustAdminRoutes(scope, trust)` inside the admin scope of src/admin/routes.ts. */
export { registerTrustAdminRoutes };
