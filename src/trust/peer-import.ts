import { compactVerify, createLocalJWKSet, decodeProtectedHeader, errors as joseErrors, importJWK, type JWK } from 'jose';
import type { LevelCatalog } from '../assurance/levels.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Database, Queryable } from '../db/database.ts';
import { AppError, conflict, invalidInput, notFound } from '../http/errors.ts';
import type { ParsedCertificate } from '../pki/types.ts';
import { registryRepository as repo } from './registry-repository.ts';
import type { RegistryService } from './registry-service.ts';
import { TRUST_LIST_FORMAT, TRUST_LIST_TYP } from './trust-list.ts';
import {
  SERVICE_STATUSES, type Actor, type CertificateRole, type PeerSource, type ServiceSettings, type ServiceStatus, type StatusChange,
} from './types.ts';
import { validateCaCertificate, validateOperator, validateRole, validateServiceSettings } from './validation.ts';

const ACCEPTED_ALGS = ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA'];
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];
const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_MAX_BYTES = 2 * 1024 * 1024;
/** Clocks of two platforms differ a little; an issue time further ahead than this is refused. */
const CLOCK_SKEW_MS = 60_000;

export type PeerImportErrorCode =
  | 'peer_list_unavailable' | 'malformed_list' | 'unknown_signing_key' | 'invalid_signature'
  | 'replayed_list' | 'list_from_future' | 'stale_list' | 'invalid_list_entry';

const refuse = (code: PeerImportErrorCode, message: string, detail?: Record<string, unknown>) =>
  new AppError(code, message, { status: code === 'peer_list_unavailable' ? 502 : code === 'replayed_list' ? 409 : 400, detail });

type ImportedService = {
  externalId: string;
  settings: ServiceSettings;
  status: ServiceStatus;
  statusSince: Date;
  history: StatusChange[];
  certificates: { cert: ParsedCertificate; role: CertificateRole; acceptedUntil?: Date }[];
};
type ImportedOperator = { externalId: string; name: string; uscc: string; miitLicence: string | null; osccaLicence: string | null; services: ImportedService[] };
type ImportedList = { sequenceNumber: number; issuedAt: Date; nextUpdate: Date; operators: ImportedOperator[] };

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function date(value: unknown, path: string): Date {
  const parsed = typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(parsed.getTime())) throw refuse('malformed_list', `${path} must be a date-time.`, { path });
  return parsed;
}

/** Runs a local validator on a list entry and reports its refusal with the entry's path. */
function entry<T>(path: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof AppError) {
      const field = error.detail?.field ? `${path}.${String(error.detail.field)}` : path;
      throw refuse('invalid_list_entry', `${field}: ${error.message}`, { path: field, reason: error.detail?.reason ?? error.code });
    }
    throw error;
  }
}

/**
 * A peer's list payload, validated like a local registration. Unknown level ids and certificates that expired
 * since the peer issued its list are dropped with a note; anything else invalid refuses the whole list.
 */
export function readPeerList(payload: unknown, catalog: LevelCatalog, now: Date, notes: string[]): ImportedList {
  if (!isObject(payload) || !isObject(payload.scheme) || !Array.isArray(payload.operators)) {
    throw refuse('malformed_list', 'The list payload has no scheme or operators.');
  }
  const scheme = payload.scheme;
  if (scheme.format !== TRUST_LIST_FORMAT) throw refuse('malformed_list', `Unsupported list format "${String(scheme.format)}".`, { path: 'scheme.format' });
  const sequenceNumber = scheme.sequenceNumber;
  if (!Number.isSafeInteger(sequenceNumber) || (sequenceNumber as number) < 1) throw refuse('malformed_list', 'scheme.sequenceNumber must be a positive integer.', { path: 'scheme.sequenceNumber' });
  if (payload.operators.length > 1000) throw refuse('malformed_list', 'The list has more than 1000 operators.');

  const operators = payload.operators.map((rawOperator, i): ImportedOperator => {
    const at = `operators[${i}]`;
    if (!isObject(rawOperator) || typeof rawOperator.id !== 'string' || !Array.isArray(rawOperator.services)) {
      throw refuse('malformed_list', `${at} needs an id and services.`, { path: at });
    }
    const { id, services: rawServices, ...operatorFields } = rawOperator;
    const operator = entry(at, () => validateOperator(operatorFields));
    const services = rawServices.map((rawService, j): ImportedService => {
      const sat = `${at}.services[${j}]`;
      if (!isObject(rawService) || typeof rawService.id !== 'string' || !isObject(rawService.supplyPoints) || !isObject(rawService.revocation)
        || !Array.isArray(rawService.certificates) || !Array.isArray(rawService.history)) {
        throw refuse('malformed_list', `${sat} lacks id, supplyPoints, revocation, certificates or history.`, { path: sat });
      }
      const supplyPoints = rawService.supplyPoints as Json;
      const revocation = rawService.revocation as Json;
      const serviceNotes: string[] = [];
      const settings = entry(sat, () => validateServiceSettings({
        type: rawService.type, name: rawService.name, crlUrls: supplyPoints.crl, ocspUrls: supplyPoints.ocsp,
        policyLevels: rawService.policyLevels, keyUsages: rawService.keyUsages, extractionRules: rawService.extractionRules,
        revocationMode: revocation.mode, softFailMaxLevel: revocation.softFailMaxLevel,
        keyProtection: rawService.keyProtection, pinRequired: rawService.pinRequired,
      }, catalog, { unknownLevels: 'drop', notes: serviceNotes }));
      notes.push(...serviceNotes.map((n) => `${sat}: ${n}`));
      const status = rawService.status as ServiceStatus;
      if (!SERVICE_STATUSES.includes(status)) throw refuse('invalid_list_entry', `${sat}.status is not a service status.`, { path: `${sat}.status` });
      const history = rawService.history.slice(0, 100).map((h, k): StatusChange => {
        const hat = `${sat}.history[${k}]`;
        if (!isObject(h) || !SERVICE_STATUSES.includes(h.status as ServiceStatus)) throw refuse('malformed_list', `${hat} is not a status change.`, { path: hat });
        return { status: h.status as ServiceStatus, from: date(h.from, `${hat}.from`), reason: typeof h.reason === 'string' ? h.reason.slice(0, 500) : undefined };
      });
      const certificates: ImportedService['certificates'] = [];
      for (const [k, c] of rawService.certificates.entries()) {
        const cat = `${sat}.certificates[${k}]`;
        if (!isObject(c)) throw refuse('malformed_list', `${cat} is not an object.`, { path: cat });
        const role = entry(cat, () => validateRole(c.role, 'role'));
        let cert: ParsedCertificate;
        try {
          cert = validateCaCertificate(c.der, role, 'der', now);
        } catch (error) {
          if (error instanceof AppError && error.detail?.reason === 'expired') {
            notes.push(`${cat}: expired certificate dropped`);
            continue;
          }
          throw entry(cat, () => { throw error; });
        }
        if (typeof c.fingerprint === 'string' && c.fingerprint.toLowerCase() !== cert.fingerprint) {
          throw refuse('invalid_list_entry', `${cat}.fingerprint does not match the certificate.`, { path: `${cat}.fingerprint` });
        }
        const acceptedUntil = c.acceptedUntil === undefined ? undefined : date(c.acceptedUntil, `${cat}.acceptedUntil`);
        if (certificates.some((x) => x.cert.fingerprint === cert.fingerprint)) throw refuse('invalid_list_entry', `${cat} repeats a certificate.`, { path: cat });
        certificates.push({ cert, role, acceptedUntil });
      }
      return {
        externalId: rawService.id.slice(0, 100), settings, status, statusSince: date(rawService.statusSince, `${sat}.statusSince`), history, certificates,
      };
    });
    return { externalId: id.slice(0, 100), name: operator.name, uscc: operator.uscc, miitLicence: operator.miitLicence, osccaLicence: operator.osccaLicence, services };
  });
  return { sequenceNumber: sequenceNumber as number, issuedAt: date(scheme.issuedAt, 'scheme.issuedAt'), nextUpdate: date(scheme.nextUpdate, 'scheme.nextUpdate'), operators };
}

/** Checks an admin's pinned JWKS: public keys only, each usable for verification. */
export async function validatePinnedJwks(raw: unknown): Promise<{ keys: JWK[] }> {
  if (!isObject(raw) || !Array.isArray(raw.keys) || raw.keys.length === 0 || raw.keys.length > 10) {
    throw invalidInput('jwks must be a JWK set with 1–10 public keys.', { field: 'jwks' });
  }
  for (const [i, key] of raw.keys.entries()) {
    if (!isObject(key)) throw invalidInput(`jwks.keys[${i}] is not a JWK.`, { field: `jwks.keys[${i}]` });
    const secret = PRIVATE_JWK_MEMBERS.find((m) => m in key);
    if (secret) throw invalidInput(`jwks.keys[${i}] contains private key material ("${secret}"); pin public keys only.`, { field: `jwks.keys[${i}]` });
    const alg = typeof key.alg === 'string' ? key.alg : key.kty === 'EC' ? 'ES256' : key.kty === 'RSA' ? 'RS256' : 'EdDSA';
    if (!ACCEPTED_ALGS.includes(alg)) throw invalidInput(`jwks.keys[${i}] uses an algorithm we do not accept (${alg}).`, { field: `jwks.keys[${i}]` });
    try {
      await importJWK(key as JWK, alg);
    } catch (error) {
      throw invalidInput(`jwks.keys[${i}] is not a usable public key: ${(error as Error).message}`, { field: `jwks.keys[${i}]` });
    }
  }
  return { keys: raw.keys as JWK[] };
}

/**
 * Verifies with whichever pinned key the header names. Several keys can match (keys pinned without a kid, or a
 * header without one, e.g. old and next key during the peer's rotation): the list is accepted if any verifies it.
 */
async function verifyWithPinned(jws: string, jwks: { keys: JWK[] }) {
  try {
    return await compactVerify(jws, createLocalJWKSet(jwks), { algorithms: ACCEPTED_ALGS });
  } catch (error) {
    if (!(error instanceof joseErrors.JWKSMultipleMatchingKeys)) throw error;
    for await (const candidate of error) {
      try {
        return await compactVerify(jws, candidate, { algorithms: ACCEPTED_ALGS });
      } catch (candidateError) {
        if (!(candidateError instanceof joseErrors.JWSSignatureVerificationFailed)) throw candidateError;
      }
    }
    throw new joseErrors.JWSSignatureVerificationFailed();
  }
}

async function verifyList(jws: string, source: PeerSource): Promise<unknown> {
  if (typeof jws !== 'string' || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(jws)) {
    throw refuse('malformed_list', 'The list is not a compact JWS.');
  }
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw refuse('malformed_list', 'The JWS header cannot be decoded.');
  }
  if (header.typ !== TRUST_LIST_TYP) throw refuse('malformed_list', `The JWS typ is "${String(header.typ)}", not "${TRUST_LIST_TYP}".`);
  try {
    const { payload } = await verifyWithPinned(jws, source.jwks as { keys: JWK[] });
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (error) {
    if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) {
      throw refuse('unknown_signing_key', `The list is signed with a key (kid "${String(header.kid)}") that is not pinned for "${source.name}".`);
    }
    if (error instanceof joseErrors.JWSSignatureVerificationFailed) throw refuse('invalid_signature', `The list's signature does not verify with the keys pinned for "${source.name}".`);
    if (error instanceof joseErrors.JOSEAlgNotAllowed) throw refuse('invalid_signature', `The list is signed with an algorithm we do not accept (${String(header.alg)}).`);
    if (error instanceof SyntaxError || error instanceof TypeError) throw refuse('malformed_list', 'The list payload is not JSON.');
    if (error instanceof joseErrors.JOSEError) throw refuse('malformed_list', `The JWS is not valid: ${error.message}`);
    throw error;
  }
}

async function fetchList(url: string, limits: { timeoutMs: number; maxBytes: number }): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(limits.timeoutMs), redirect: 'error', headers: { accept: 'application/jose' } });
  } catch (error) {
    const timedOut = (error as Error).name === 'TimeoutError';
    throw refuse('peer_list_unavailable', timedOut ? `The peer's list did not arrive within ${limits.timeoutMs} ms.` : `The peer's list cannot be fetched: ${(error as Error).message}`);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw refuse('peer_list_unavailable', `The peer answered HTTP ${response.status}.`);
  }
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > limits.maxBytes) {
    await response.body?.cancel();
    throw refuse('peer_list_unavailable', `The peer's list is larger than ${limits.maxBytes} bytes.`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body!.getReader();
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (error) {
      throw refuse('peer_list_unavailable', `Reading the peer's list failed: ${(error as Error).message}`);
    }
    if (chunk.done) break;
    size += chunk.value.byteLength;
    if (size > limits.maxBytes) {
      await reader.cancel();
      throw refuse('peer_list_unavailable', `The peer's list is larger than ${limits.maxBytes} bytes.`);
    }
    chunks.push(chunk.value);
  }
  return Buffer.concat(chunks).toString('utf8').trim();
}

async function insertImported(tx: Queryable, source: PeerSource, list: ImportedList): Promise<{ operators: number; services: number }> {
  let services = 0;
  for (const operator of list.operators) {
    const { id: operatorId } = await repo.insertOperator(tx, {
      peerSourceId: source.id, externalId: operator.externalId, name: operator.name, uscc: operator.uscc,
      miitLicence: operator.miitLicence, osccaLicence: operator.osccaLicence,
    });
    for (const service of operator.services) {
      const serviceId = await repo.insertService(tx, operatorId, service.settings, { status: service.status, since: service.statusSince }, service.externalId);
      for (const change of service.history) await repo.insertHistory(tx, serviceId, { ...change, actor: `peer:${source.name}` });
      for (const { cert, role, acceptedUntil } of service.certificates) {
        await repo.insertCertificate(tx, serviceId, { fingerprint: cert.fingerprint, der: cert.der, role, subject: cert.subject, notAfter: cert.notAfter });
        if (acceptedUntil) await repo.setAcceptedUntil(tx, serviceId, cert.fingerprint, acceptedUntil);
      }
      services += 1;
    }
  }
  return { operators: list.operators.length, services };
}

/**
 * Peer platforms' signed lists: admins pin a peer's keys, import its list (given, or fetched from its URL), and
 * enable the source. An import is verified (signature with the pinned keys, sequence after the last accepted,
 * issued in the past, not yet stale, every entry valid) and replaces that source's entries in one transaction.
 */
export function createPeerSources(deps: {
  db: Database;
  audit: AuditLog;
  catalog: LevelCatalog;
  /** Its `change` gives every import its transaction, clock, audit record and version bump. */
  registry: RegistryService;
  fetchTimeoutMs?: number;
  maxListBytes?: number;
}) {
  const limits = { timeoutMs: deps.fetchTimeoutMs ?? DEFAULT_TIMEOUT_MS, maxBytes: deps.maxListBytes ?? DEFAULT_MAX_BYTES };

  const summary = (p: PeerSource) => ({ name: p.name, listUrl: p.listUrl ?? null, enabled: p.enabled, kids: p.jwks.keys.map((k) => k.kid ?? null) });

  async function sourceOrFail(q: Queryable, id: string, options: { lock?: boolean } = {}) {
    const source = await repo.findPeer(q, id, options);
    if (!source) throw notFound(`No peer source "${id}".`);
    return source;
  }

  return {
    list: () => repo.listPeers(deps.db),
    get: (id: string) => sourceOrFail(deps.db, id),

    create(raw: { name?: unknown; listUrl?: unknown; jwks?: unknown }, actor: Actor): Promise<PeerSource> {
      return deps.registry.change('trust.peer.created', actor, {}, async (tx) => {
        const name = typeof raw.name === 'string' ? raw.name.trim() : '';
        if (name.length < 1 || name.length > 200) throw invalidInput('name must be 1–200 characters.', { field: 'name' });
        let listUrl: string | undefined;
        if (raw.listUrl !== undefined && raw.listUrl !== null) {
          let url: URL;
          try {
            url = new URL(String(raw.listUrl));
          } catch {
            throw invalidInput('listUrl is not a URL.', { field: 'listUrl' });
          }
          if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalidInput('listUrl must be an http or https URL.', { field: 'listUrl' });
          listUrl = url.toString();
        }
        const jwks = await validatePinnedJwks(raw.jwks);
        if (await repo.findPeerByName(tx, name)) throw conflict(`A peer source named "${name}" exists.`);
        const source = await repo.insertPeer(tx, { name, listUrl, jwks });
        return { result: source, detail: { peerId: source.id, after: summary(source) }, affects: 'nothing' };
      });
    },

    setEnabled(id: string, enabled: boolean, actor: Actor): Promise<PeerSource> {
      return deps.registry.change(enabled ? 'trust.peer.enabled' : 'trust.peer.disabled', actor, { peerId: id }, async (tx) => {
        const before = await sourceOrFail(tx, id, { lock: true });
        const after = await repo.setPeerEnabled(tx, id, enabled);
        return { result: after, detail: { before: { enabled: before.enabled }, after: { enabled } }, affects: before.enabled === enabled ? 'nothing' : 'logins' };
      });
    },

    /** Replaces the pinned keys, e.g. adds the peer's announced next key before it signs with it. */
    updateJwks(id: string, raw: unknown, actor: Actor): Promise<PeerSource> {
      return deps.registry.change('trust.peer.jwks_updated', actor, { peerId: id }, async (tx) => {
        const before = await sourceOrFail(tx, id, { lock: true });
        const jwks = await validatePinnedJwks(raw);
        await tx.query('UPDATE trust_peer_sources SET jwks = $2, updated_at = now() WHERE id = $1', [id, JSON.stringify(jwks)]);
        const after = await sourceOrFail(tx, id);
        return { result: after, detail: { before: { kids: summary(before).kids }, after: { kids: summary(after).kids } }, affects: 'nothing' };
      });
    },

    delete(id: string, actor: Actor): Promise<void> {
      return deps.registry.change('trust.peer.deleted', actor, { peerId: id }, async (tx) => {
        const before = await sourceOrFail(tx, id, { lock: true });
        await repo.deletePeer(tx, id);
        return { result: undefined, detail: { before: summary(before) }, affects: 'logins' };
      });
    },

    /** Imports the JWS given, or fetches the source's list URL when none is given. */
    async import(id: string, input: { jws?: string }, actor: Actor): Promise<{ source: PeerSource; operators: number; services: number; notes: string[] }> {
      const source = await sourceOrFail(deps.db, id);
      let jws = input.jws;
      if (jws === undefined) {
        try {
          if (!source.listUrl) throw invalidInput('This source has no list URL; give the list in the request.', { field: 'jws' });
          jws = await fetchList(source.listUrl, limits);
        } catch (error) {
          if (error instanceof AppError) {
            await deps.audit.record({ event: 'trust.peer.imported', result: 'failure', actor: actor.name, clientId: actor.clientId, ip: actor.ip, detail: { peerId: id, code: error.code, message: error.message } });
          }
          throw error;
        }
      }
      const signedList = jws;
      return deps.registry.change('trust.peer.imported', actor, { peerId: id }, async (tx, now) => {
        const locked = await sourceOrFail(tx, id, { lock: true });
        const payload = await verifyList(signedList, locked);
        const notes: string[] = [];
        const list = readPeerList(payload, deps.catalog, now, notes);
        if (locked.lastSequence !== undefined && list.sequenceNumber <= locked.lastSequence) {
          throw refuse('replayed_list', `The list's sequence number ${list.sequenceNumber} is not after the last accepted one (${locked.lastSequence}).`,
            { sequenceNumber: list.sequenceNumber, lastAccepted: locked.lastSequence });
        }
        if (list.issuedAt.getTime() > now.getTime() + CLOCK_SKEW_MS) throw refuse('list_from_future', `The list claims to be issued at ${list.issuedAt.toISOString()}, in the future.`);
        if (list.nextUpdate.getTime() <= now.getTime()) throw refuse('stale_list', `The list's nextUpdate (${list.nextUpdate.toISOString()}) has passed; it is stale.`);
        if (list.nextUpdate.getTime() <= list.issuedAt.getTime()) throw refuse('malformed_list', 'The list\'s nextUpdate is not after its issue time.');
        await repo.deletePeerEntries(tx, id);
        const counts = await insertImported(tx, locked, list);
        const updated = await repo.recordPeerImport(tx, id, { sequence: list.sequenceNumber, issuedAt: list.issuedAt, nextUpdate: list.nextUpdate, at: now, notes });
        return {
          result: { source: updated, ...counts, notes },
          detail: { before: { sequenceNumber: locked.lastSequence ?? null }, after: { sequenceNumber: list.sequenceNumber, issuedAt: list.issuedAt.toISOString(), nextUpdate: list.nextUpdate.toISOString(), ...counts }, notes },
          affects: 'logins',
        };
      });
    },
  };
}

export type PeerSources = ReturnType<typeof createPeerSources>;
