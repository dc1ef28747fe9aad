import type { HotStore } from '../cache/hot-store.ts';
import type { Database } from '../db/database.ts';
import { parseCertificate } from '../pki/certificate.ts';
import type { ParsedCertificate } from '../pki/types.ts';
import { readConsistently, registryRepository, type RegistryContents } from './registry-repository.ts';
import type {
  Operator, PeerSource, Service, ServiceEntry, ServiceStatusView, TrustedCertificate, TrustService, TrustSnapshot, UnusableReason, UsableService,
} from './types.ts';

/** Bumped (to the registry's revision) after every change that alters what logins trust. */
export const TRUST_VERSION_KEY = 'trust:revision';
const VERSION_TTL_SECONDS = 30 * 24 * 60 * 60;
/** Even without a version change (a node that crashed between commit and bump), nothing is older than this. */
const DEFAULT_MAX_AGE_MS = 60_000;

/** Tells every node's trust store to reload. Called after the change has committed. */
export async function publishTrustVersion(hot: HotStore, revision: number): Promise<void> {
  await hot.set(TRUST_VERSION_KEY, String(revision), VERSION_TTL_SECONDS);
}

function unusableReason(service: Service, operator: Operator, peers: ReadonlyMap<string, PeerSource>, now: Date): UnusableReason | undefined {
  if (service.status === 'suspended' || service.status === 'withdrawn') return service.status;
  if (operator.source === 'local') return undefined;
  const peer = peers.get(operator.source);
  if (!peer?.enabled) return 'source_disabled';
  if (!peer.nextUpdate || peer.nextUpdate.getTime() <= now.getTime()) return 'source_stale';
  return undefined;
}

/**
 * What certificate logins trust, from memory. Each `current()` costs one GET of the version key in the hot store;
 * when another node changed the registry the key differs and the snapshot is rebuilt from PostgreSQL, so a
 * suspension takes effect everywhere on the next login. The snapshot also expires by itself when a peer list
 * goes stale or a rolled-over certificate's grace period ends.
 */
export function createTrustStore(deps: { db: Database; hot: HotStore; clock?: () => Date; maxAgeMs?: number; log?: (message: string, detail?: unknown) => void }) {
  const clock = deps.clock ?? (() => new Date());
  const maxAgeMs = deps.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  // A fingerprint names exactly one DER, so a parsed certificate is reusable across reloads.
  const parsed = new Map<string, ParsedCertificate>();
  let snapshot: (TrustSnapshot & { validUntil: number }) | undefined;
  let loading: Promise<{ id: number; built: TrustSnapshot }> | undefined;

  async function version(): Promise<string> {
    try {
      const value = await deps.hot.get(TRUST_VERSION_KEY);
      if (value !== null) return value;
    } catch (error) {
      deps.log?.('trust version unavailable from the hot store; reading the database', error);
    }
    // Never published (first start) or evicted: the database holds the truth; publish it for the others.
    const { revision } = await registryRepository.state(deps.db);
    await deps.hot.setIfAbsent(TRUST_VERSION_KEY, String(revision), VERSION_TTL_SECONDS).catch(() => {});
    return String(revision);
  }

  function parse(der: Uint8Array, fingerprint: string): ParsedCertificate | undefined {
    let cert = parsed.get(fingerprint);
    if (!cert) {
      try {
        cert = parseCertificate(der);
      } catch (error) {
        deps.log?.(`registered certificate ${fingerprint} no longer parses; ignored`, error);
        return undefined;
      }
      parsed.set(fingerprint, cert);
    }
    return cert;
  }

  function build(versionTag: string, contents: RegistryContents): TrustSnapshot & { validUntil: number } {
    const now = clock();
    let validUntil = now.getTime() + maxAgeMs;
    const expiresAt = (date: Date | undefined) => {
      if (date && date.getTime() > now.getTime()) validUntil = Math.min(validUntil, date.getTime());
    };
    const peers = new Map(contents.peers.map((p) => [p.id, p]));
    const operators = new Map(contents.operators.map((o) => [o.id, o]));
    for (const peer of contents.peers) if (peer.enabled) expiresAt(peer.nextUpdate);

    const statuses = new Map<string, ServiceStatusView>();
    const entries = new Map<string, ServiceEntry>();
    const byCertificate = new Map<string, UsableService>();
    const statusByCertificate = new Map<string, ServiceStatusView>();
    const anchors = new Map<string, ParsedCertificate>();
    const intermediates = new Map<string, ParsedCertificate>();
    const inactiveAnchors = new Map<string, ParsedCertificate>();
    const inactiveIntermediates = new Map<string, ParsedCertificate>();
    const services: UsableService[] = [];

    // Local registrations first: when a peer lists the same certificate, ours decides.
    const ordered = [...contents.services].sort((a, b) =>
      Number(operators.get(a.operatorId)?.source !== 'local') - Number(operators.get(b.operatorId)?.source !== 'local'));
    for (const service of ordered) {
      const operator = operators.get(service.operatorId);
      if (!operator) continue;
      const reason = unusableReason(service, operator, peers, now);
      const latest = service.history.at(-1);
      const view: ServiceStatusView = {
        serviceId: service.id, serviceName: service.name, operatorName: operator.name, source: operator.source,
        status: service.status, since: service.statusSince, reason: latest?.status === service.status ? latest.reason : undefined,
        usable: reason === undefined, ...(reason ? { unusableReason: reason } : {}),
      };
      statuses.set(service.id, view);

      const certificates: TrustedCertificate[] = [];
      for (const registered of service.certificates) {
        if (registered.acceptedUntil && registered.acceptedUntil.getTime() <= now.getTime()) continue;
        expiresAt(registered.acceptedUntil);
        const certificate = parse(registered.der, registered.fingerprint);
        if (!certificate) continue;
        certificates.push({ certificate, role: registered.role, ...(registered.acceptedUntil ? { acceptedUntil: registered.acceptedUntil } : {}) });
      }
      const policyLevels = service.policyLevels;
      const trustService: TrustService = {
        id: service.id, source: operator.source,
        operator: { id: operator.id, name: operator.name, uscc: operator.uscc, miitLicence: operator.miitLicence, osccaLicence: operator.osccaLicence },
        type: service.type, name: service.name, crlUrls: service.crlUrls, ocspUrls: service.ocspUrls, policyLevels, keyUsages: service.keyUsages,
        extractionRules: service.extractionRules, revocationMode: service.revocationMode, softFailMaxLevel: service.softFailMaxLevel,
        keyProtection: service.keyProtection, pinRequired: service.pinRequired, certificates,
        levelsForPolicies: (oids) => [...new Set(oids.map((oid) => policyLevels[oid]).filter((level): level is string => Boolean(level)))],
      };
      const entry: ServiceEntry = { service: trustService, status: service.status, usable: reason === undefined, ...(reason ? { unusableReason: reason } : {}) };
      for (const { certificate, role } of certificates) {
        if (!entries.has(certificate.fingerprint)) {
          entries.set(certificate.fingerprint, entry);
          statusByCertificate.set(certificate.fingerprint, view);
        }
        if (reason) (role === 'anchor' ? inactiveAnchors : inactiveIntermediates).set(certificate.fingerprint, certificate);
      }
      if (reason) continue;
      services.push(trustService);
      for (const { certificate, role } of certificates) {
        if (!byCertificate.has(certificate.fingerprint)) byCertificate.set(certificate.fingerprint, trustService);
        (role === 'anchor' ? anchors : intermediates).set(certificate.fingerprint, certificate);
      }
    }
    const active = (fingerprint: string) => anchors.has(fingerprint) || intermediates.has(fingerprint);

    return {
      version: versionTag,
      loadedAt: now,
      validUntil,
      anchors: [...anchors.values()],
      intermediates: [...intermediates.values()].filter((c) => !anchors.has(c.fingerprint)),
      inactiveAnchors: [...inactiveAnchors.values()].filter((c) => !active(c.fingerprint)),
      inactiveIntermediates: [...inactiveIntermediates.values()].filter((c) => !active(c.fingerprint) && !inactiveAnchors.has(c.fingerprint)),
      services,
      serviceForCertificate: (fingerprint) => byCertificate.get(fingerprint.toLowerCase()),
      entryForCertificate: (fingerprint) => entries.get(fingerprint.toLowerCase()),
      statusOf: (serviceId) => statuses.get(serviceId),
      statusForCertificate: (fingerprint) => statusByCertificate.get(fingerprint.toLowerCase()),
    };
  }

  async function load(versionTag: string) {
    const contents = await readConsistently(deps.db, (tx) => registryRepository.loadAll(tx));
    return build(versionTag, contents);
  }

  let loadsStarted = 0;
  return {
    async current(): Promise<TrustSnapshot> {
      const wanted = await version();
      const now = clock().getTime();
      // Usability depends on the time (peer freshness, rollover grace); a clock stepped back also rebuilds.
      if (snapshot && snapshot.version === wanted && now < snapshot.validUntil && now >= snapshot.loadedAt.getTime()) return snapshot;
      // Any load that starts from here on reads data at least as new as `wanted`; one started earlier may not.
      const ticket = loadsStarted;
      for (;;) {
        if (!loading) {
          const id = ++loadsStarted;
          loading = load(wanted).then((built) => {
            snapshot = built;
            return { id, built };
          }).finally(() => {
            loading = undefined;
          });
        }
        const { id, built } = await loading;
        if (id > ticket) return built;
      }
    },
  };
}

export type TrustStore = ReturnType<typeof createTrustStore>;
