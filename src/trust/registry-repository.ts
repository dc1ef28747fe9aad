import type { Queryable } from '../db/database.ts';
import type {
  CertificateRole, ListState, Operator, OperatorInput, PeerSource, RegisteredCertificate, Service, ServiceSettings, ServiceStatus,
  StatusChange, Submission, SubmissionKind, SubmissionStatus,
} from './types.ts';

type OperatorRow = {
  id: string; peer_source_id: string | null; external_id: string | null; name: string; uscc: string; miit_licence: string | null;
  oscca_licence: string | null; partner_client_id: string | null; created_at: Date; updated_at: Date;
};
type ServiceRow = {
  id: string; operator_id: string; external_id: string | null; type: Service['type']; name: string; status: ServiceStatus; status_since: Date;
  crl_urls: string[]; ocsp_urls: string[]; policy_levels: Record<string, string>; key_usages: Service['keyUsages'];
  extraction_rules: Service['extractionRules']; revocation_mode: Service['revocationMode']; soft_fail_max_level: string | null;
  key_protection: Service['keyProtection']; pin_required: boolean; created_at: Date; updated_at: Date;
};
type HistoryRow = { service_id: string; status: ServiceStatus; from_time: Date; reason: string | null; actor: string | null };
type CertificateRow = {
  service_id: string; fingerprint: string; der: Buffer; role: CertificateRole; subject: string; not_after: Date; accepted_until: Date | null; added_at: Date;
};
type SubmissionRow = {
  id: string; operator_id: string; service_id: string; kind: SubmissionKind; payload: Record<string, unknown>; status: SubmissionStatus;
  submitted_by: string; submitted_at: Date; decided_by: string | null; decided_at: Date | null; reason: string | null;
};
type PeerRow = {
  id: string; name: string; list_url: string | null; jwks: PeerSource['jwks']; enabled: boolean; last_sequence: string | null; issued_at: Date | null;
  next_update: Date | null; imported_at: Date | null; import_notes: string[]; created_at: Date; updated_at: Date;
};

const OPERATOR_COLUMNS = 'id, peer_source_id, external_id, name, uscc, miit_licence, oscca_licence, partner_client_id, created_at, updated_at';
const SERVICE_COLUMNS = `id, operator_id, external_id, type, name, status, status_since, crl_urls, ocsp_urls, policy_levels, key_usages,
  extraction_rules, revocation_mode, soft_fail_max_level, key_protection, pin_required, created_at, updated_at`;
const SUBMISSION_COLUMNS = 'id, operator_id, service_id, kind, payload, status, submitted_by, submitted_at, decided_by, decided_at, reason';
const PEER_COLUMNS = 'id, name, list_url, jwks, enabled, last_sequence, issued_at, next_update, imported_at, import_notes, created_at, updated_at';

const toOperator = (r: OperatorRow): Operator => ({
  id: r.id, source: r.peer_source_id ?? 'local', externalId: r.external_id ?? undefined, name: r.name, uscc: r.uscc,
  miitLicence: r.miit_licence ?? undefined, osccaLicence: r.oscca_licence ?? undefined, partnerClientId: r.partner_client_id ?? undefined,
  createdAt: r.created_at, updatedAt: r.updated_at,
});

const toCertificate = (r: CertificateRow): RegisteredCertificate => ({
  fingerprint: r.fingerprint, der: new Uint8Array(r.der), role: r.role, subject: r.subject, notAfter: r.not_after,
  acceptedUntil: r.accepted_until ?? undefined, addedAt: r.added_at,
});

const toHistory = (r: HistoryRow): StatusChange => ({ status: r.status, from: r.from_time, reason: r.reason ?? undefined, actor: r.actor ?? undefined });

const toService = (r: ServiceRow, history: StatusChange[], certificates: RegisteredCertificate[]): Service => ({
  id: r.id, operatorId: r.operator_id, externalId: r.external_id ?? undefined, type: r.type, name: r.name, status: r.status, statusSince: r.status_since,
  crlUrls: r.crl_urls, ocspUrls: r.ocsp_urls, policyLevels: r.policy_levels, keyUsages: r.key_usages, extractionRules: r.extraction_rules,
  revocationMode: r.revocation_mode, softFailMaxLevel: r.soft_fail_max_level, keyProtection: r.key_protection, pinRequired: r.pin_required,
  history, certificates, createdAt: r.created_at, updatedAt: r.updated_at,
});

const toSubmission = (r: SubmissionRow): Submission => ({
  id: r.id, operatorId: r.operator_id, serviceId: r.service_id, kind: r.kind, payload: r.payload, status: r.status, submittedBy: r.submitted_by,
  submittedAt: r.submitted_at, decidedBy: r.decided_by ?? undefined, decidedAt: r.decided_at ?? undefined, reason: r.reason ?? undefined,
});

const toPeer = (r: PeerRow): PeerSource => ({
  id: r.id, name: r.name, listUrl: r.list_url ?? undefined, jwks: r.jwks, enabled: r.enabled,
  lastSequence: r.last_sequence === null ? undefined : Number(r.last_sequence), issuedAt: r.issued_at ?? undefined,
  nextUpdate: r.next_update ?? undefined, importedAt: r.imported_at ?? undefined, importNotes: r.import_notes, createdAt: r.created_at, updatedAt: r.updated_at,
});

/** One snapshot of the database for several reads (the list's sequence number matches its entries). */
export async function readConsistently<T>(db: { transaction<R>(work: (tx: Queryable) => Promise<R>): Promise<R> }, work: (tx: Queryable) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
    return work(tx);
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids come from URLs; a malformed one is simply "not found" rather than a PostgreSQL cast error. */
const isUuid = (id: string) => UUID.test(id);

export type RegistryContents = { operators: Operator[]; services: Service[]; peers: PeerSource[]; state: ListState };

/** SQL for the trust registry. Every function takes the connection to use, so the service composes them in one transaction. */
export const registryRepository = {
  async state(q: Queryable, options: { lock?: boolean } = {}): Promise<ListState> {
    const { rows } = await q.query<{ sequence_number: string; issued_at: Date; revision: string }>(
      `SELECT sequence_number, issued_at, revision FROM trust_list_state WHERE id = 1${options.lock ? ' FOR UPDATE' : ''}`);
    return { sequenceNumber: Number(rows[0].sequence_number), issuedAt: rows[0].issued_at, revision: Number(rows[0].revision) };
  },

  /** A change to the published list: new sequence number and issue time; logins reload too. */
  async bumpSequence(q: Queryable, now: Date): Promise<ListState> {
    const { rows } = await q.query<{ sequence_number: string; issued_at: Date; revision: string }>(
      `UPDATE trust_list_state SET sequence_number = sequence_number + 1, issued_at = $1, revision = revision + 1 WHERE id = 1
       RETURNING sequence_number, issued_at, revision`, [now]);
    return { sequenceNumber: Number(rows[0].sequence_number), issuedAt: rows[0].issued_at, revision: Number(rows[0].revision) };
  },

  /** The same entries issued again (ETSI: a new sequence number for every issue), so the list never goes stale. */
  async reissue(q: Queryable, now: Date): Promise<void> {
    await q.query('UPDATE trust_list_state SET sequence_number = sequence_number + 1, issued_at = $1 WHERE id = 1', [now]);
  },

  /** A change only logins see (peer sources): the published list stays as it is. */
  async bumpRevision(q: Queryable): Promise<number> {
    const { rows } = await q.query<{ revision: string }>('UPDATE trust_list_state SET revision = revision + 1 WHERE id = 1 RETURNING revision');
    return Number(rows[0].revision);
  },

  async insertOperator(q: Queryable, input: OperatorInput & { peerSourceId?: string; externalId?: string }): Promise<Operator> {
    const { rows } = await q.query<OperatorRow>(
      `INSERT INTO trust_operators (peer_source_id, external_id, name, uscc, miit_licence, oscca_licence, partner_client_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${OPERATOR_COLUMNS}`,
      [input.peerSourceId ?? null, input.externalId ?? null, input.name, input.uscc, input.miitLicence ?? null, input.osccaLicence ?? null, input.partnerClientId ?? null]);
    return toOperator(rows[0]);
  },

  async updateOperator(q: Queryable, id: string, input: OperatorInput): Promise<Operator> {
    const { rows } = await q.query<OperatorRow>(
      `UPDATE trust_operators SET name = $2, uscc = $3, miit_licence = $4, oscca_licence = $5, partner_client_id = $6, updated_at = now()
       WHERE id = $1 RETURNING ${OPERATOR_COLUMNS}`,
      [id, input.name, input.uscc, input.miitLicence ?? null, input.osccaLicence ?? null, input.partnerClientId ?? null]);
    return toOperator(rows[0]);
  },

  async findOperator(q: Queryable, id: string, options: { lock?: boolean } = {}): Promise<Operator | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows } = await q.query<OperatorRow>(`SELECT ${OPERATOR_COLUMNS} FROM trust_operators WHERE id = $1${options.lock ? ' FOR UPDATE' : ''}`, [id]);
    return rows[0] ? toOperator(rows[0]) : undefined;
  },

  async findOperatorByClient(q: Queryable, clientId: string): Promise<Operator | undefined> {
    const { rows } = await q.query<OperatorRow>(`SELECT ${OPERATOR_COLUMNS} FROM trust_operators WHERE partner_client_id = $1`, [clientId]);
    return rows[0] ? toOperator(rows[0]) : undefined;
  },

  async findLocalOperatorByUscc(q: Queryable, uscc: string): Promise<Operator | undefined> {
    const { rows } = await q.query<OperatorRow>(`SELECT ${OPERATOR_COLUMNS} FROM trust_operators WHERE uscc = $1 AND peer_source_id IS NULL`, [uscc]);
    return rows[0] ? toOperator(rows[0]) : undefined;
  },

  async deleteOperator(q: Queryable, id: string): Promise<void> {
    await q.query('DELETE FROM trust_operators WHERE id = $1', [id]);
  },

  async insertService(q: Queryable, operatorId: string, settings: ServiceSettings, status: { status: ServiceStatus; since: Date }, externalId?: string): Promise<string> {
    const { rows } = await q.query<{ id: string }>(
      `INSERT INTO trust_services (operator_id, external_id, type, name, status, status_since, crl_urls, ocsp_urls, policy_levels, key_usages,
         extraction_rules, revocation_mode, soft_fail_max_level, key_protection, pin_required)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
      [operatorId, externalId ?? null, settings.type, settings.name, status.status, status.since, JSON.stringify(settings.crlUrls), JSON.stringify(settings.ocspUrls),
        JSON.stringify(settings.policyLevels), JSON.stringify(settings.keyUsages), JSON.stringify(settings.extractionRules), settings.revocationMode,
        settings.softFailMaxLevel, settings.keyProtection, settings.pinRequired]);
    return rows[0].id;
  },

  async updateServiceSettings(q: Queryable, id: string, settings: ServiceSettings): Promise<void> {
    await q.query(
      `UPDATE trust_services SET type = $2, name = $3, crl_urls = $4, ocsp_urls = $5, policy_levels = $6, key_usages = $7, extraction_rules = $8,
         revocation_mode = $9, soft_fail_max_level = $10, key_protection = $11, pin_required = $12, updated_at = now() WHERE id = $1`,
      [id, settings.type, settings.name, JSON.stringify(settings.crlUrls), JSON.stringify(settings.ocspUrls), JSON.stringify(settings.policyLevels),
        JSON.stringify(settings.keyUsages), JSON.stringify(settings.extractionRules), settings.revocationMode, settings.softFailMaxLevel,
        settings.keyProtection, settings.pinRequired]);
  },

  async setEndpoints(q: Queryable, id: string, endpoints: { crlUrls: string[]; ocspUrls: string[] }): Promise<void> {
    await q.query('UPDATE trust_services SET crl_urls = $2, ocsp_urls = $3, updated_at = now() WHERE id = $1',
      [id, JSON.stringify(endpoints.crlUrls), JSON.stringify(endpoints.ocspUrls)]);
  },

  async setStatus(q: Queryable, id: string, change: StatusChange): Promise<void> {
    await q.query('UPDATE trust_services SET status = $2, status_since = $3, updated_at = now() WHERE id = $1', [id, change.status, change.from]);
    await registryRepository.insertHistory(q, id, change);
  },

  async insertHistory(q: Queryable, serviceId: string, change: StatusChange): Promise<void> {
    await q.query('INSERT INTO trust_service_status_history (service_id, status, from_time, reason, actor) VALUES ($1, $2, $3, $4, $5)',
      [serviceId, change.status, change.from, change.reason ?? null, change.actor ?? null]);
  },

  async deleteService(q: Queryable, id: string): Promise<void> {
    await q.query('DELETE FROM trust_services WHERE id = $1', [id]);
  },

  async findService(q: Queryable, id: string, options: { lock?: boolean } = {}): Promise<Service | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows } = await q.query<ServiceRow>(`SELECT ${SERVICE_COLUMNS} FROM trust_services WHERE id = $1${options.lock ? ' FOR UPDATE' : ''}`, [id]);
    if (!rows[0]) return undefined;
    const history = await q.query<HistoryRow>('SELECT service_id, status, from_time, reason, actor FROM trust_service_status_history WHERE service_id = $1 ORDER BY from_time, id', [id]);
    const certificates = await q.query<CertificateRow>('SELECT * FROM trust_certificates WHERE service_id = $1 ORDER BY position', [id]);
    return toService(rows[0], history.rows.map(toHistory), certificates.rows.map(toCertificate));
  },

  async insertCertificate(q: Queryable, serviceId: string, cert: { fingerprint: string; der: Uint8Array; role: CertificateRole; subject: string; notAfter: Date }): Promise<void> {
    await q.query('INSERT INTO trust_certificates (service_id, fingerprint, der, role, subject, not_after) VALUES ($1, $2, $3, $4, $5, $6)',
      [serviceId, cert.fingerprint, Buffer.from(cert.der), cert.role, cert.subject, cert.notAfter]);
  },

  async deleteCertificate(q: Queryable, serviceId: string, fingerprint: string): Promise<boolean> {
    const { rowCount } = await q.query('DELETE FROM trust_certificates WHERE service_id = $1 AND fingerprint = $2', [serviceId, fingerprint]);
    return (rowCount ?? 0) > 0;
  },

  async setAcceptedUntil(q: Queryable, serviceId: string, fingerprint: string, until: Date): Promise<void> {
    await q.query('UPDATE trust_certificates SET accepted_until = $3 WHERE service_id = $1 AND fingerprint = $2', [serviceId, fingerprint, until]);
  },

  /** A certificate registered under a local service (one certificate, one local service). */
  async findLocalCertificateOwner(q: Queryable, fingerprint: string): Promise<string | undefined> {
    const { rows } = await q.query<{ service_id: string }>(
      `SELECT c.service_id FROM trust_certificates c JOIN trust_services s ON s.id = c.service_id JOIN trust_operators o ON o.id = s.operator_id
       WHERE c.fingerprint = $1 AND o.peer_source_id IS NULL`, [fingerprint]);
    return rows[0]?.service_id;
  },

  async insertSubmission(q: Queryable, input: { operatorId: string; serviceId: string; kind: SubmissionKind; payload: Record<string, unknown>; submittedBy: string; at: Date }): Promise<Submission> {
    const { rows } = await q.query<SubmissionRow>(
      `INSERT INTO trust_submissions (operator_id, service_id, kind, payload, submitted_by, submitted_at) VALUES ($1, $2, $3, $4, $5, $6)
       RETURNING ${SUBMISSION_COLUMNS}`, [input.operatorId, input.serviceId, input.kind, JSON.stringify(input.payload), input.submittedBy, input.at]);
    return toSubmission(rows[0]);
  },

  async findSubmission(q: Queryable, id: string, options: { lock?: boolean } = {}): Promise<Submission | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows } = await q.query<SubmissionRow>(`SELECT ${SUBMISSION_COLUMNS} FROM trust_submissions WHERE id = $1${options.lock ? ' FOR UPDATE' : ''}`, [id]);
    return rows[0] ? toSubmission(rows[0]) : undefined;
  },

  async listSubmissions(q: Queryable, filter: { operatorId?: string; status?: SubmissionStatus; limit?: number }): Promise<Submission[]> {
    const { rows } = await q.query<SubmissionRow>(
      `SELECT ${SUBMISSION_COLUMNS} FROM trust_submissions WHERE ($1::uuid IS NULL OR operator_id = $1) AND ($2::text IS NULL OR status = $2)
       ORDER BY submitted_at DESC, id LIMIT $3`, [filter.operatorId ?? null, filter.status ?? null, filter.limit ?? 100]);
    return rows.map(toSubmission);
  },

  async decideSubmission(q: Queryable, id: string, decision: { status: 'approved' | 'rejected'; by: string; at: Date; reason?: string }): Promise<Submission> {
    const { rows } = await q.query<SubmissionRow>(
      `UPDATE trust_submissions SET status = $2, decided_by = $3, decided_at = $4, reason = $5 WHERE id = $1 RETURNING ${SUBMISSION_COLUMNS}`,
      [id, decision.status, decision.by, decision.at, decision.reason ?? null]);
    return toSubmission(rows[0]);
  },

  async insertPeer(q: Queryable, input: { name: string; listUrl?: string; jwks: PeerSource['jwks'] }): Promise<PeerSource> {
    const { rows } = await q.query<PeerRow>(`INSERT INTO trust_peer_sources (name, list_url, jwks) VALUES ($1, $2, $3) RETURNING ${PEER_COLUMNS}`,
      [input.name, input.listUrl ?? null, JSON.stringify(input.jwks)]);
    return toPeer(rows[0]);
  },

  async findPeer(q: Queryable, id: string, options: { lock?: boolean } = {}): Promise<PeerSource | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows } = await q.query<PeerRow>(`SELECT ${PEER_COLUMNS} FROM trust_peer_sources WHERE id = $1${options.lock ? ' FOR UPDATE' : ''}`, [id]);
    return rows[0] ? toPeer(rows[0]) : undefined;
  },

  async findPeerByName(q: Queryable, name: string): Promise<PeerSource | undefined> {
    const { rows } = await q.query<PeerRow>(`SELECT ${PEER_COLUMNS} FROM trust_peer_sources WHERE name = $1`, [name]);
    return rows[0] ? toPeer(rows[0]) : undefined;
  },

  async listPeers(q: Queryable): Promise<PeerSource[]> {
    const { rows } = await q.query<PeerRow>(`SELECT ${PEER_COLUMNS} FROM trust_peer_sources ORDER BY created_at, id`);
    return rows.map(toPeer);
  },

  async setPeerEnabled(q: Queryable, id: string, enabled: boolean): Promise<PeerSource> {
    const { rows } = await q.query<PeerRow>(`UPDATE trust_peer_sources SET enabled = $2, updated_at = now() WHERE id = $1 RETURNING ${PEER_COLUMNS}`, [id, enabled]);
    return toPeer(rows[0]);
  },

  async recordPeerImport(q: Queryable, id: string, list: { sequence: number; issuedAt: Date; nextUpdate: Date; at: Date; notes: string[] }): Promise<PeerSource> {
    const { rows } = await q.query<PeerRow>(
      `UPDATE trust_peer_sources SET last_sequence = $2, issued_at = $3, next_update = $4, imported_at = $5, import_notes = $6, updated_at = now()
       WHERE id = $1 RETURNING ${PEER_COLUMNS}`, [id, list.sequence, list.issuedAt, list.nextUpdate, list.at, JSON.stringify(list.notes)]);
    return toPeer(rows[0]);
  },

  async deletePeerEntries(q: Queryable, peerId: string): Promise<void> {
    await q.query('DELETE FROM trust_operators WHERE peer_source_id = $1', [peerId]);
  },

  async deletePeer(q: Queryable, id: string): Promise<void> {
    await q.query('DELETE FROM trust_peer_sources WHERE id = $1', [id]);
  },

  /**
   * Everything, for the trust store and the published list: six queries regardless of the registry's size. Run it
   * inside `readConsistently` so that the state and the entries are of the same moment.
   */
  async loadAll(q: Queryable, filter: { localOnly?: boolean } = {}): Promise<RegistryContents> {
    const where = filter.localOnly ? 'WHERE o.peer_source_id IS NULL' : '';
    // One after another: a transaction's connection runs one query at a time anyway.
    const state = await registryRepository.state(q);
    const operators = await q.query<OperatorRow>(`SELECT ${OPERATOR_COLUMNS} FROM trust_operators o ${where} ORDER BY o.created_at, o.id`);
    const services = await q.query<ServiceRow>(`SELECT s.* FROM trust_services s JOIN trust_operators o ON o.id = s.operator_id ${where}
      ORDER BY s.created_at, s.id`);
    const history = await q.query<HistoryRow>(`SELECT h.service_id, h.status, h.from_time, h.reason, h.actor FROM trust_service_status_history h
      JOIN trust_services s ON s.id = h.service_id JOIN trust_operators o ON o.id = s.operator_id ${where} ORDER BY h.from_time, h.id`);
    const certificates = await q.query<CertificateRow>(`SELECT c.* FROM trust_certificates c JOIN trust_services s ON s.id = c.service_id
      JOIN trust_operators o ON o.id = s.operator_id ${where} ORDER BY c.position`);
    const peers = await q.query<PeerRow>(`SELECT ${PEER_COLUMNS} FROM trust_peer_sources ORDER BY created_at, id`);
    const historyBy = new Map<string, StatusChange[]>();
    for (const row of history.rows) historyBy.set(row.service_id, [...(historyBy.get(row.service_id) ?? []), toHistory(row)]);
    const certificatesBy = new Map<string, RegisteredCertificate[]>();
    for (const row of certificates.rows) certificatesBy.set(row.service_id, [...(certificatesBy.get(row.service_id) ?? []), toCertificate(row)]);
    return {
      state,
      operators: operators.rows.map(toOperator),
      services: services.rows.map((r) => toService(r, historyBy.get(r.id) ?? [], certificatesBy.get(r.id) ?? [])),
      peers: peers.rows.map(toPeer),
    };
  },
};
