import type { LevelCatalog } from '../assurance/levels.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditEventName } from '../audit/events.ts';
import type { HotStore } from '../cache/hot-store.ts';
import type { Database, Queryable } from '../db/database.ts';
import { AppError, conflict, forbidden, invalidInput, notFound } from '../http/errors.ts';
import type { ParsedCertificate } from '../pki/types.ts';
import { readConsistently, registryRepository as repo } from './registry-repository.ts';
import { publishTrustVersion } from './trust-store.ts';
import {
  SERVICE_STATUSES, type Actor, type CertificateRole, type Operator, type RegisteredCertificate, type Service, type ServiceStatus,
  type Submission, type SubmissionKind, type SubmissionStatus,
} from './types.ts';
import { FINGERPRINT_PATTERN, validateCaCertificate, validateOperator, validateRole, validateServiceSettings, validateUrls } from './validation.ts';

/** Token endpoint authentication methods a partner client may use: it proves possession of a key, not a shared secret. */
export const PARTNER_AUTH_METHODS = ['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'] as const;

const UNIQUE_VIOLATION = '23505';

type Outcome<T> = { result: T; detail: Record<string, unknown>; affects: 'list' | 'logins' | 'nothing' };

const certificateSummary = (c: Pick<RegisteredCertificate, 'fingerprint' | 'role' | 'subject' | 'notAfter'> & { acceptedUntil?: Date }) => ({
  fingerprint: c.fingerprint, role: c.role, subject: c.subject, notAfter: c.notAfter.toISOString(),
  ...(c.acceptedUntil ? { acceptedUntil: c.acceptedUntil.toISOString() } : {}),
});

/** What the audit trail keeps of a service: its settings and certificate fingerprints, not the DER. */
const serviceSummary = (s: Service) => ({
  name: s.name, type: s.type, status: s.status, crlUrls: s.crlUrls, ocspUrls: s.ocspUrls, policyLevels: s.policyLevels, keyUsages: s.keyUsages,
  extractionRules: s.extractionRules, revocationMode: s.revocationMode, softFailMaxLevel: s.softFailMaxLevel, keyProtection: s.keyProtection,
  pinRequired: s.pinRequired, certificates: s.certificates.map(certificateSummary),
});

const operatorSummary = (o: Operator) => ({
  name: o.name, uscc: o.uscc, miitLicence: o.miitLicence ?? null, osccaLicence: o.osccaLicence ?? null, partnerClientId: o.partnerClientId ?? null,
});

function reasonText(value: unknown, field = 'reason'): string {
  if (typeof value !== 'string' || value.trim().length < 1 || value.trim().length > 500) throw invalidInput(`${field} must be 1–500 characters.`, { field });
  return value.trim();
}

/**
 * Changes to the trust registry: validated, written in one transaction with their audit record (old and new
 * values) and the version bump (the list's sequence number when the published list changes), then announced to
 * every node's trust store. A refused change writes nothing but its audit record.
 */
export function createRegistryService(deps: {
  db: Database;
  hot: HotStore;
  audit: AuditLog;
  catalog: LevelCatalog;
  clock?: () => Date;
  /** The OIDC client registry (runtime.clients.find): a partner link must name a client that authenticates with a key. */
  findClient: (clientId: string) => Promise<Record<string, unknown> | undefined>;
  log?: (message: string, detail?: unknown) => void;
}) {
  const clock = deps.clock ?? (() => new Date());

  async function change<T>(event: AuditEventName, actor: Actor, subject: Record<string, unknown>, work: (tx: Queryable, now: Date) => Promise<Outcome<T>>): Promise<T> {
    try {
      const { result, revision } = await deps.db.transaction(async (tx) => {
        const now = clock();
        const outcome = await work(tx, now);
        let revision: number | undefined;
        if (outcome.affects === 'list') {
          const state = await repo.bumpSequence(tx, now);
          revision = state.revision;
          outcome.detail.sequenceNumber = state.sequenceNumber;
        } else if (outcome.affects === 'logins') {
          revision = await repo.bumpRevision(tx);
        }
        await deps.audit.recordWithin(tx, {
          event, result: 'success', actor: actor.name, clientId: actor.clientId, ip: actor.ip, detail: { ...subject, ...outcome.detail },
        });
        return { result: outcome.result, revision };
      });
      if (revision !== undefined) {
        // Committed already: if the hot store is down the other nodes still reload within the trust store's max age.
        await publishTrustVersion(deps.hot, revision).catch((error) => deps.log?.('trust version publish failed', error));
      }
      return result;
    } catch (error) {
      const refusal = (error as { code?: string }).code === UNIQUE_VIOLATION
        ? conflict('This entry already exists (the same USCC, partner client or certificate is registered).')
        : error;
      if (refusal instanceof AppError) {
        await deps.audit.record({
          event, result: 'failure', actor: actor.name, clientId: actor.clientId, ip: actor.ip,
          detail: { ...subject, code: refusal.code, message: refusal.message, ...(refusal.detail ? { field: refusal.detail.field } : {}) },
        });
      }
      throw refusal;
    }
  }

  async function localOperator(q: Queryable, id: string, options: { lock?: boolean } = {}): Promise<Operator> {
    const operator = await repo.findOperator(q, id, options);
    if (!operator) throw notFound(`No trust operator "${id}".`);
    if (operator.source !== 'local') throw conflict('This operator was imported from a peer list; it changes only with that list.');
    return operator;
  }

  async function localService(q: Queryable, id: string, options: { lock?: boolean } = {}): Promise<{ service: Service; operator: Operator }> {
    const service = await repo.findService(q, id, options);
    if (!service) throw notFound(`No trust service "${id}".`);
    const operator = await localOperator(q, service.operatorId);
    return { service, operator };
  }

  /**
   * Looked up before the transaction opens: the client registry reads through the pool, and the embedded
   * PostgreSQL has a single connection, which the transaction holds.
   */
  async function lookupClient(raw: unknown): Promise<Record<string, unknown> | undefined> {
    const clientId = (raw as { partnerClientId?: unknown } | null)?.partnerClientId;
    return typeof clientId === 'string' ? deps.findClient(clientId.trim()) : undefined;
  }

  async function checkPartnerClient(q: Queryable, clientId: string | null, client: Record<string, unknown> | undefined, operatorId?: string) {
    if (!clientId) return;
    if (!client) throw invalidInput(`No OIDC client "${clientId}".`, { field: 'partnerClientId' });
    const method = client.token_endpoint_auth_method;
    if (!(PARTNER_AUTH_METHODS as readonly unknown[]).includes(method)) {
      throw invalidInput(`The partner client must authenticate with ${PARTNER_AUTH_METHODS.join(' or ')}, not ${String(method ?? 'client_secret_basic')}.`, { field: 'partnerClientId' });
    }
    const linked = await repo.findOperatorByClient(q, clientId);
    if (linked && linked.id !== operatorId) throw conflict(`The client "${clientId}" is already the partner account of another operator.`);
  }

  /** One certificate, one local service: the same CA registered twice would make its status ambiguous. */
  async function checkNotRegistered(q: Queryable, cert: ParsedCertificate, field: string) {
    const owner = await repo.findLocalCertificateOwner(q, cert.fingerprint);
    if (owner) throw new AppError('conflict', `The certificate "${cert.subject}" is already registered (service ${owner}).`, { status: 409, detail: { field } });
  }

  async function insertCertificate(q: Queryable, serviceId: string, cert: ParsedCertificate, role: CertificateRole) {
    await repo.insertCertificate(q, serviceId, { fingerprint: cert.fingerprint, der: cert.der, role, subject: cert.subject, notAfter: cert.notAfter });
  }

  function validateCertificates(raw: unknown, now: Date): { cert: ParsedCertificate; role: CertificateRole }[] {
    if (!Array.isArray(raw)) throw invalidInput('certificates must be an array.', { field: 'certificates' });
    if (raw.length > 20) throw invalidInput('A service has at most 20 certificates.', { field: 'certificates' });
    const seen = new Set<string>();
    return raw.map((entry, i) => {
      const field = `certificates[${i}]`;
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw invalidInput(`${field} must be an object.`, { field });
      const { certificate, role, ...rest } = entry as Record<string, unknown>;
      if (Object.keys(rest).length > 0) throw invalidInput(`${field} has an unknown property "${Object.keys(rest)[0]}".`, { field });
      const checkedRole = validateRole(role, `${field}.role`);
      const cert = validateCaCertificate(certificate, checkedRole, `${field}.certificate`, now);
      if (seen.has(cert.fingerprint)) throw invalidInput(`${field} repeats a certificate.`, { field });
      seen.add(cert.fingerprint);
      return { cert, role: checkedRole };
    });
  }

  async function serviceOrFail(id: string): Promise<Service> {
    const service = await repo.findService(deps.db, id);
    if (!service) throw notFound(`No trust service "${id}".`);
    return service;
  }

  /** Checks a partner's request against the registry now; returns the payload to store (certificates as base64 DER). */
  async function checkSubmission(q: Queryable, service: Service, kind: SubmissionKind, raw: Record<string, unknown>, now: Date): Promise<Record<string, unknown>> {
    if (service.status === 'withdrawn') throw conflict('The service is withdrawn; it takes no more changes.');
    const keys = (allowed: string[]) => {
      const extra = Object.keys(raw).find((k) => !allowed.includes(k));
      if (extra) throw invalidInput(`Unknown property "${extra}".`, { field: extra });
    };
    switch (kind) {
      case 'new_ca_certificate': {
        keys(['certificate', 'role']);
        const role = validateRole(raw.role, 'role');
        const cert = validateCaCertificate(raw.certificate, role, 'certificate', now);
        await checkNotRegistered(q, cert, 'certificate');
        return { certificate: Buffer.from(cert.der).toString('base64'), role, fingerprint: cert.fingerprint, subject: cert.subject };
      }
      case 'key_rollover': {
        keys(['newCertificate', 'role', 'replacesFingerprint', 'oldAcceptedUntil']);
        const role = validateRole(raw.role, 'role');
        const cert = validateCaCertificate(raw.newCertificate, role, 'newCertificate', now);
        await checkNotRegistered(q, cert, 'newCertificate');
        const replaces = String(raw.replacesFingerprint ?? '').toLowerCase();
        if (!FINGERPRINT_PATTERN.test(replaces)) throw invalidInput('replacesFingerprint must be a SHA-256 fingerprint (64 hex digits).', { field: 'replacesFingerprint' });
        const old = service.certificates.find((c) => c.fingerprint === replaces);
        if (!old) throw invalidInput('replacesFingerprint is not a certificate of this service.', { field: 'replacesFingerprint' });
        const until = typeof raw.oldAcceptedUntil === 'string' ? new Date(raw.oldAcceptedUntil) : new Date(Number.NaN);
        if (Number.isNaN(until.getTime())) throw invalidInput('oldAcceptedUntil must be a date-time.', { field: 'oldAcceptedUntil' });
        if (until.getTime() <= now.getTime()) throw invalidInput('oldAcceptedUntil must lie in the future.', { field: 'oldAcceptedUntil' });
        if (until.getTime() > old.notAfter.getTime()) throw invalidInput(`oldAcceptedUntil lies after the old certificate's expiry (${old.notAfter.toISOString()}).`, { field: 'oldAcceptedUntil' });
        return {
          newCertificate: Buffer.from(cert.der).toString('base64'), role, fingerprint: cert.fingerprint, subject: cert.subject,
          replacesFingerprint: replaces, oldAcceptedUntil: until.toISOString(),
        };
      }
      case 'endpoints': {
        keys(['crlUrls', 'ocspUrls']);
        const crlUrls = validateUrls(raw.crlUrls ?? [], 'crlUrls');
        const ocspUrls = validateUrls(raw.ocspUrls ?? [], 'ocspUrls');
        if (crlUrls.length + ocspUrls.length === 0) throw invalidInput('Give at least one CRL or OCSP URL.', { field: 'crlUrls' });
        return { crlUrls, ocspUrls };
      }
      case 'suspension': {
        keys(['reason']);
        if (service.status === 'suspended') throw conflict('The service is already suspended.');
        return { reason: reasonText(raw.reason) };
      }
    }
  }

  /** Applies an approved submission; returns what changed for the audit record. */
  async function applySubmission(tx: Queryable, submission: Submission, service: Service, actor: Actor, now: Date): Promise<Record<string, unknown>> {
    const p = submission.payload as Record<string, string & string[]>;
    switch (submission.kind) {
      case 'new_ca_certificate': {
        const cert = validateCaCertificate(p.certificate, p.role as CertificateRole, 'certificate', now);
        await checkNotRegistered(tx, cert, 'certificate');
        await insertCertificate(tx, service.id, cert, p.role as CertificateRole);
        return { added: certificateSummary({ ...cert, role: p.role as CertificateRole }) };
      }
      case 'key_rollover': {
        const cert = validateCaCertificate(p.newCertificate, p.role as CertificateRole, 'newCertificate', now);
        await checkNotRegistered(tx, cert, 'newCertificate');
        const old = service.certificates.find((c) => c.fingerprint === p.replacesFingerprint);
        if (!old) throw conflict('The certificate to replace is no longer registered.');
        const until = new Date(p.oldAcceptedUntil);
        if (until.getTime() <= now.getTime()) throw conflict('oldAcceptedUntil has passed since the submission; ask the partner to submit again.');
        await insertCertificate(tx, service.id, cert, p.role as CertificateRole);
        await repo.setAcceptedUntil(tx, service.id, old.fingerprint, until);
        return { added: certificateSummary({ ...cert, role: p.role as CertificateRole }), replaced: { before: certificateSummary(old), after: certificateSummary({ ...old, acceptedUntil: until }) } };
      }
      case 'endpoints':
        await repo.setEndpoints(tx, service.id, { crlUrls: p.crlUrls, ocspUrls: p.ocspUrls });
        return { before: { crlUrls: service.crlUrls, ocspUrls: service.ocspUrls }, after: { crlUrls: p.crlUrls, ocspUrls: p.ocspUrls } };
      case 'suspension':
        if (service.status !== 'granted') throw conflict(`The service is ${service.status}; there is nothing to suspend.`);
        await repo.setStatus(tx, service.id, { status: 'suspended', from: now, reason: `partner request: ${p.reason}`, actor: actor.name });
        return { before: { status: service.status }, after: { status: 'suspended', reason: p.reason } };
    }
  }

  return {
    async listOperators(): Promise<(Operator & { services: Service[] })[]> {
      const contents = await readConsistently(deps.db, (tx) => repo.loadAll(tx));
      return contents.operators.map((o) => ({ ...o, services: contents.services.filter((s) => s.operatorId === o.id) }));
    },

    async getOperator(id: string): Promise<Operator & { services: Service[] }> {
      const operator = await repo.findOperator(deps.db, id);
      if (!operator) throw notFound(`No trust operator "${id}".`);
      const all = await this.listOperators();
      return all.find((o) => o.id === id) ?? { ...operator, services: [] };
    },

    operatorForClient: (clientId: string) => repo.findOperatorByClient(deps.db, clientId),

    getService: serviceOrFail,

    async createOperator(raw: unknown, actor: Actor): Promise<Operator> {
      const client = await lookupClient(raw);
      return change('trust.operator.created', actor, {}, async (tx) => {
        const input = validateOperator(raw);
        await checkPartnerClient(tx, input.partnerClientId, client);
        if (await repo.findLocalOperatorByUscc(tx, input.uscc)) throw conflict('An operator with this unified social credit code is already registered.');
        const operator = await repo.insertOperator(tx, input);
        return { result: operator, detail: { operatorId: operator.id, after: operatorSummary(operator) }, affects: 'list' };
      });
    },

    async updateOperator(id: string, raw: unknown, actor: Actor): Promise<Operator> {
      const client = await lookupClient(raw);
      return change('trust.operator.updated', actor, { operatorId: id }, async (tx) => {
        const before = await localOperator(tx, id, { lock: true });
        const input = validateOperator(raw);
        await checkPartnerClient(tx, input.partnerClientId, client, id);
        const other = await repo.findLocalOperatorByUscc(tx, input.uscc);
        if (other && other.id !== id) throw conflict('An operator with this unified social credit code is already registered.');
        const after = await repo.updateOperator(tx, id, input);
        return { result: after, detail: { before: operatorSummary(before), after: operatorSummary(after) }, affects: 'list' };
      });
    },

    deleteOperator(id: string, actor: Actor): Promise<void> {
      return change('trust.operator.deleted', actor, { operatorId: id }, async (tx) => {
        const before = await localOperator(tx, id, { lock: true });
        const { rows } = await tx.query<{ n: string }>('SELECT count(*) AS n FROM trust_services WHERE operator_id = $1', [id]);
        if (Number(rows[0].n) > 0) throw conflict('The operator still has services; withdraw or delete them first.');
        await repo.deleteOperator(tx, id);
        return { result: undefined, detail: { before: operatorSummary(before) }, affects: 'list' };
      });
    },

    createService(operatorId: string, raw: unknown, actor: Actor): Promise<Service> {
      return change('trust.service.created', actor, { operatorId }, async (tx, now) => {
        await localOperator(tx, operatorId, { lock: true });
        const body = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
        const { certificates: rawCertificates, status: rawStatus, reason: rawReason, ...settingsInput } = body;
        const settings = validateServiceSettings(settingsInput, deps.catalog);
        const certificates = validateCertificates(rawCertificates ?? [], now);
        if (settings.type !== 'ocsp' && certificates.length === 0) throw invalidInput('A CA service needs at least one certificate.', { field: 'certificates' });
        const status = (rawStatus ?? 'granted') as ServiceStatus;
        if (!SERVICE_STATUSES.includes(status)) throw invalidInput(`status must be one of: ${SERVICE_STATUSES.join(', ')}.`, { field: 'status' });
        const reason = rawReason === undefined ? 'registered' : reasonText(rawReason);
        for (const [i, { cert }] of certificates.entries()) await checkNotRegistered(tx, cert, `certificates[${i}].certificate`);
        const id = await repo.insertService(tx, operatorId, settings, { status, since: now });
        await repo.insertHistory(tx, id, { status, from: now, reason, actor: actor.name });
        for (const { cert, role } of certificates) await insertCertificate(tx, id, cert, role);
        const service = (await repo.findService(tx, id))!;
        return { result: service, detail: { serviceId: id, after: serviceSummary(service) }, affects: 'list' };
      });
    },

    updateService(id: string, raw: unknown, actor: Actor): Promise<Service> {
      return change('trust.service.updated', actor, { serviceId: id }, async (tx) => {
        const { service: before } = await localService(tx, id, { lock: true });
        const settings = validateServiceSettings(raw, deps.catalog);
        await repo.updateServiceSettings(tx, id, settings);
        const after = (await repo.findService(tx, id))!;
        return { result: after, detail: { before: serviceSummary(before), after: serviceSummary(after) }, affects: 'list' };
      });
    },

    deleteService(id: string, actor: Actor): Promise<void> {
      return change('trust.service.deleted', actor, { serviceId: id }, async (tx) => {
        const { service: before } = await localService(tx, id, { lock: true });
        await repo.deleteService(tx, id);
        return { result: undefined, detail: { before: serviceSummary(before) }, affects: 'list' };
      });
    },

    addCertificate(serviceId: string, raw: { certificate?: unknown; role?: unknown }, actor: Actor): Promise<Service> {
      return change('trust.certificate.added', actor, { serviceId }, async (tx, now) => {
        await localService(tx, serviceId, { lock: true });
        const role = validateRole(raw.role, 'role');
        const cert = validateCaCertificate(raw.certificate, role, 'certificate', now);
        await checkNotRegistered(tx, cert, 'certificate');
        await insertCertificate(tx, serviceId, cert, role);
        const after = (await repo.findService(tx, serviceId))!;
        return { result: after, detail: { added: certificateSummary({ ...cert, role }) }, affects: 'list' };
      });
    },

    removeCertificate(serviceId: string, fingerprint: string, actor: Actor): Promise<void> {
      return change('trust.certificate.removed', actor, { serviceId, fingerprint }, async (tx) => {
        const { service } = await localService(tx, serviceId, { lock: true });
        const removed = service.certificates.find((c) => c.fingerprint === fingerprint.toLowerCase());
        if (!removed || !(await repo.deleteCertificate(tx, serviceId, removed.fingerprint))) throw notFound('No such certificate in this service.');
        return { result: undefined, detail: { removed: certificateSummary(removed) }, affects: 'list' };
      });
    },

    changeStatus(serviceId: string, input: { status?: unknown; reason?: unknown }, actor: Actor): Promise<Service> {
      return change('trust.service.status_changed', actor, { serviceId }, async (tx, now) => {
        const { service: before } = await localService(tx, serviceId, { lock: true });
        const status = input.status as ServiceStatus;
        if (!SERVICE_STATUSES.includes(status)) throw invalidInput(`status must be one of: ${SERVICE_STATUSES.join(', ')}.`, { field: 'status' });
        const reason = reasonText(input.reason);
        if (before.status === status) throw conflict(`The service is already ${status}.`);
        await repo.setStatus(tx, serviceId, { status, from: now, reason, actor: actor.name });
        const after = (await repo.findService(tx, serviceId))!;
        return { result: after, detail: { before: { status: before.status, since: before.statusSince.toISOString() }, after: { status, since: now.toISOString(), reason } }, affects: 'list' };
      });
    },

    /** A partner's request; stored pending (nothing trusted changes until an admin approves). */
    submit(operator: Operator, input: { kind: SubmissionKind; serviceId: string; payload: Record<string, unknown> }, actor: Actor): Promise<Submission> {
      return change('trust.submission.received', actor, { operatorId: operator.id, serviceId: input.serviceId, kind: input.kind }, async (tx, now) => {
        const service = await repo.findService(tx, input.serviceId);
        if (!service) throw notFound(`No trust service "${input.serviceId}".`);
        if (service.operatorId !== operator.id) throw forbidden('This service belongs to another operator.');
        const payload = await checkSubmission(tx, service, input.kind, input.payload, now);
        const submission = await repo.insertSubmission(tx, { operatorId: operator.id, serviceId: service.id, kind: input.kind, payload, submittedBy: actor.name, at: now });
        const { certificate: _c, newCertificate: _n, ...auditPayload } = payload;
        return { result: submission, detail: { submissionId: submission.id, payload: auditPayload }, affects: 'nothing' };
      });
    },

    listSubmissions: (filter: { operatorId?: string; status?: SubmissionStatus; limit?: number } = {}) => repo.listSubmissions(deps.db, filter),

    async getSubmission(id: string): Promise<Submission> {
      const submission = await repo.findSubmission(deps.db, id);
      if (!submission) throw notFound(`No submission "${id}".`);
      return submission;
    },

    approveSubmission(id: string, actor: Actor): Promise<Submission> {
      return change('trust.submission.approved', actor, { submissionId: id }, async (tx, now) => {
        const submission = await repo.findSubmission(tx, id, { lock: true });
        if (!submission) throw notFound(`No submission "${id}".`);
        if (submission.status !== 'pending') throw conflict(`The submission is already ${submission.status}.`);
        const { service } = await localService(tx, submission.serviceId, { lock: true });
        if (service.status === 'withdrawn') throw conflict('The service is withdrawn; it takes no more changes.');
        const applied = await applySubmission(tx, submission, service, actor, now);
        const decided = await repo.decideSubmission(tx, id, { status: 'approved', by: actor.name, at: now });
        return { result: decided, detail: { kind: submission.kind, serviceId: service.id, operatorId: submission.operatorId, ...applied }, affects: 'list' };
      });
    },

    rejectSubmission(id: string, input: { reason?: unknown }, actor: Actor): Promise<Submission> {
      return change('trust.submission.rejected', actor, { submissionId: id }, async (tx, now) => {
        const reason = reasonText(input.reason);
        const submission = await repo.findSubmission(tx, id, { lock: true });
        if (!submission) throw notFound(`No submission "${id}".`);
        if (submission.status !== 'pending') throw conflict(`The submission is already ${submission.status}.`);
        const decided = await repo.decideSubmission(tx, id, { status: 'rejected', by: actor.name, at: now, reason });
        return { result: decided, detail: { kind: submission.kind, serviceId: submission.serviceId, operatorId: submission.operatorId, reason }, affects: 'nothing' };
      });
    },

    /** Records a refused partner request (authentication or linkage) in the audit trail. */
    async denyPartner(actor: Actor, detail: Record<string, unknown>): Promise<void> {
      await deps.audit.record({ event: 'trust.partner.denied', result: 'failure', actor: actor.name, clientId: actor.clientId, ip: actor.ip, detail });
    },

    change,
  };
}

export type RegistryService = ReturnType<typeof createRegistryService>;
