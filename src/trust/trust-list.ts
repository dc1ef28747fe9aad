import { CompactSign } from 'jose';
import type { Database } from '../db/database.ts';
import type { IdentityExtractionRule } from '../pki/types.ts';
import type { ListSigningKeys } from './list-signing-keys.ts';
import { readConsistently, registryRepository, type RegistryContents } from './registry-repository.ts';
import type {
  CertificateRole, KeyProtection, RevocationMode, ServiceStatus, ServiceType, SigningKeyUsage,
} from './types.ts';

/** JOSE `typ` of a signed trust list; importers refuse anything else. */
export const TRUST_LIST_TYP = 'trust-list+jwt';
export const TRUST_LIST_FORMAT = 'gov-trust-list/1';
const DEFAULT_NEXT_UPDATE_SECONDS = 24 * 60 * 60;

export type PublishedService = {
  id: string;
  type: ServiceType;
  name: string;
  status: ServiceStatus;
  statusSince: string;
  history: { status: ServiceStatus; from: string; reason?: string }[];
  certificates: { der: string; fingerprint: string; role: CertificateRole; notAfter: string; acceptedUntil?: string }[];
  supplyPoints: { crl: string[]; ocsp: string[] };
  policyLevels: Record<string, string>;
  keyUsages: SigningKeyUsage[];
  extractionRules: IdentityExtractionRule[];
  revocation: { mode: RevocationMode; softFailMaxLevel: string | null };
  keyProtection: KeyProtection;
  pinRequired: boolean;
};

export type PublishedOperator = { id: string; name: string; uscc: string; miitLicence?: string; osccaLicence?: string; services: PublishedService[] };

/** The payload of `GET /trust/list` (ETSI TS 119 612 SchemeInformation + TSP list, as JSON). */
export type PublishedList = {
  iss: string;
  iat: number;
  exp: number;
  scheme: {
    format: typeof TRUST_LIST_FORMAT;
    operatorName: string;
    territory: 'CN';
    sequenceNumber: number;
    issuedAt: string;
    nextUpdate: string;
    informationUri: string;
  };
  operators: PublishedOperator[];
};

export type SignedList = { jws: string; sequenceNumber: number; issuedAt: Date; nextUpdate: Date; payload: PublishedList };

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** The list as JSON: local entries only (a peer's entries are the peer's to publish), without partner client ids or actors. */
export function buildPublishedList(contents: RegistryContents, scheme: { issuer: string; operatorName: string; nextUpdateSeconds: number }): PublishedList {
  const { sequenceNumber, issuedAt } = contents.state;
  const nextUpdate = new Date(issuedAt.getTime() + scheme.nextUpdateSeconds * 1000);
  const servicesOf = (operatorId: string) => contents.services.filter((s) => s.operatorId === operatorId);
  return {
    iss: scheme.issuer,
    iat: seconds(issuedAt),
    exp: seconds(nextUpdate),
    scheme: {
      format: TRUST_LIST_FORMAT,
      operatorName: scheme.operatorName,
      territory: 'CN',
      sequenceNumber,
      issuedAt: issuedAt.toISOString(),
      nextUpdate: nextUpdate.toISOString(),
      informationUri: `${scheme.issuer.replace(/\/$/, '')}/trust/list`,
    },
    operators: contents.operators.filter((o) => o.source === 'local').map((operator) => ({
      id: operator.id,
      name: operator.name,
      uscc: operator.uscc,
      ...(operator.miitLicence ? { miitLicence: operator.miitLicence } : {}),
      ...(operator.osccaLicence ? { osccaLicence: operator.osccaLicence } : {}),
      services: servicesOf(operator.id).map((s) => ({
        id: s.id,
        type: s.type,
        name: s.name,
        status: s.status,
        statusSince: s.statusSince.toISOString(),
        history: s.history.map((h) => ({ status: h.status, from: h.from.toISOString(), ...(h.reason ? { reason: h.reason } : {}) })),
        certificates: s.certificates.map((c) => ({
          der: Buffer.from(c.der).toString('base64'), fingerprint: c.fingerprint, role: c.role, notAfter: c.notAfter.toISOString(),
          ...(c.acceptedUntil ? { acceptedUntil: c.acceptedUntil.toISOString() } : {}),
        })),
        supplyPoints: { crl: s.crlUrls, ocsp: s.ocspUrls },
        policyLevels: s.policyLevels,
        keyUsages: s.keyUsages,
        extractionRules: s.extractionRules,
        revocation: { mode: s.revocationMode, softFailMaxLevel: s.softFailMaxLevel },
        keyProtection: s.keyProtection,
        pinRequired: s.pinRequired,
      })),
    })),
  };
}

/**
 * The signed list. Signed once per sequence number and key per node; `keys.active()` asks the database which key
 * is active, so a key activated on any node signs here from the next request on. An unchanged registry is re-issued (new
 * sequence number, new issue time) once half of the update interval has passed, so peers always hold a list
 * whose nextUpdate lies ahead of them.
 */
export function createTrustList(deps: {
  db: Database;
  keys: ListSigningKeys;
  issuer: string;
  clock?: () => Date;
  operatorName?: string;
  nextUpdateSeconds?: number;
}) {
  const clock = deps.clock ?? (() => new Date());
  const nextUpdateSeconds = deps.nextUpdateSeconds ?? DEFAULT_NEXT_UPDATE_SECONDS;
  const scheme = { issuer: deps.issuer, operatorName: deps.operatorName ?? deps.issuer, nextUpdateSeconds };
  let cached: { key: string; signed: SignedList } | undefined;

  async function reissueIfDue(): Promise<void> {
    const due = (issuedAt: Date) => clock().getTime() >= issuedAt.getTime() + (nextUpdateSeconds * 1000) / 2;
    const state = await registryRepository.state(deps.db);
    if (!due(state.issuedAt)) return;
    await deps.db.transaction(async (tx) => {
      const locked = await registryRepository.state(tx, { lock: true });
      if (due(locked.issuedAt)) await registryRepository.reissue(tx, clock());
    });
  }

  return {
    nextUpdateSeconds,

    /** The unsigned list as it would be published now (admin view). */
    async payload(): Promise<PublishedList> {
      const contents = await readConsistently(deps.db, (tx) => registryRepository.loadAll(tx, { localOnly: true }));
      return buildPublishedList(contents, scheme);
    },

    async signed(): Promise<SignedList> {
      await reissueIfDue();
      const key = await deps.keys.active();
      const state = await registryRepository.state(deps.db);
      const cacheKey = `${state.sequenceNumber}:${key.kid}`;
      if (cached?.key === cacheKey) return cached.signed;
      const payload = await this.payload();
      const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: TRUST_LIST_TYP })
        .sign(key.privateKey);
      const signed = {
        jws, payload, sequenceNumber: payload.scheme.sequenceNumber,
        issuedAt: new Date(payload.scheme.issuedAt), nextUpdate: new Date(payload.scheme.nextUpdate),
      };
      cached = { key: `${signed.sequenceNumber}:${key.kid}`, signed };
      return signed;
    },
  };
}

export type TrustList = ReturnType<typeof createTrustList>;
