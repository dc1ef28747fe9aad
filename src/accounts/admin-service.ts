import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditEventName } from '../audit/events.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { DataProtector } from '../identity/data-protection.ts';
import { validateIdNumber } from '../identity/id-number.ts';
import { normalizeMainlandMobile } from '../identity/phone.ts';
import { AppError, invalidInput, notFound } from '../http/errors.ts';
import { ADMIN_ROLES } from '../admin/permissions.ts';
import { ACCOUNT_COLUMNS } from './repository.ts';
import type { AccountRow } from './types.ts';

export type AdminActor = { name: string; ip?: string };

/** What an admin sees of an account: masked, never the clear ID number, name or phone. */
export type AccountSummary = {
  id: string;
  idNumberMasked: string;
  nameMasked: string | null;
  phoneMasked: string | null;
  status: string;
  statusReason: string | null;
  roles: readonly string[];
  mergedInto: string | null;
  createdAt: Date;
};

const maskName = (name: string) => (name.length <= 1 ? '*' : `${[...name][0]}${'*'.repeat([...name].length - 1)}`);

/**
 * Account operations for staff (issue: freeze, force logout, mark deceased, reset proofing, merge), each with
 * a mandatory reason, audited with the admin and the reason in the same transaction as the change. Searches
 * are exact HMAC look-ups: no query ever decrypts a table to find someone.
 */
export function createAccountAdminService(deps: {
  db: Database;
  protector: DataProtector;
  audit: AuditLog;
  endAllSessions: (accountId: string, reason: string, actor?: string) => Promise<unknown>;
}) {
  const { protector } = deps;

  const summary = (row: AccountRow): AccountSummary => ({
    id: row.id,
    idNumberMasked: row.id_number_masked,
    nameMasked: row.name_enc ? maskName(protector.decrypt(row.name_enc, 'accounts.name')) : null,
    phoneMasked: row.phone_masked,
    status: row.status,
    statusReason: row.status_reason,
    roles: row.roles,
    mergedInto: row.merged_into,
    createdAt: row.created_at,
  });

  async function load(q: Queryable, id: string, lock = false): Promise<AccountRow> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw notFound(`No account "${id}".`);
    const row = (await q.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id])).rows[0];
    if (!row) throw notFound(`No account "${id}".`);
    return row;
  }

  function requireReason(reason: unknown): string {
    if (typeof reason !== 'string' || reason.trim().length < 2) throw invalidInput('A reason is required for every account action.', { field: 'reason' });
    return reason.trim().slice(0, 500);
  }

  /** One status change: validated transition, the change and its audit record in one transaction. */
  async function transition(id: string, input: { from: readonly string[]; to: string; event: AuditEventName; reason: unknown; endSessions: boolean }, actor: AdminActor) {
    const reason = requireReason(input.reason);
    const before = await deps.db.transaction(async (tx) => {
      const row = await load(tx, id, true);
      if (!input.from.includes(row.status)) {
        throw new AppError('invalid_state', `The account is ${row.status}; this action needs it to be ${input.from.join(' or ')}.`, { status: 409 });
      }
      await tx.query('UPDATE accounts SET status = $2, status_reason = $3, status_changed_at = now(), updated_at = now() WHERE id = $1', [id, input.to, reason]);
      await deps.audit.recordWithin(tx, { event: input.event, result: 'success', actor: actor.name, accountId: id, ip: actor.ip, detail: { reason, before: row.status, after: input.to } });
      return row.status;
    });
    if (input.endSessions) await deps.endAllSessions(id, input.to, actor.name);
    return { before, after: input.to };
  }

  return {
    async search(query: { idNumber?: string; phone?: string; name?: string; source?: string; legacyUserId?: string }, actor: AdminActor): Promise<AccountSummary[]> {
      let rows: AccountRow[];
      let kind: string;
      if (query.source || query.legacyUserId) {
        // Relying parties that knew a person by a legacy system's user id map it to the unified account here.
        if (!query.source || !query.legacyUserId) throw invalidInput('Give both source and legacy_user_id.');
        kind = 'legacy_user_id';
        rows = (await deps.db.query<AccountRow>(
          `SELECT ${ACCOUNT_COLUMNS} FROM accounts
           WHERE id IN (SELECT account_id FROM account_sources WHERE source = $1 AND legacy_user_id = $2)`, [query.source, query.legacyUserId])).rows;
      } else if (query.idNumber) {
        const id = validateIdNumber(query.idNumber);
        if (!id.ok) throw invalidInput('The ID number is not valid.', { field: 'id_number', reason: id.reason });
        kind = 'id_number';
        rows = (await deps.db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id_number_hash = $1`, [protector.lookupHash('id_number', id.idNumber)])).rows;
      } else if (query.phone) {
        const phone = normalizeMainlandMobile(query.phone);
        if (!phone.ok) throw invalidInput('Only mainland China mobile numbers are accepted.', { field: 'phone' });
        kind = 'phone';
        rows = (await deps.db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE phone_hash = $1`, [protector.lookupHash('phone', phone.phone)])).rows;
      } else if (query.name && query.name.trim()) {
        kind = 'name';
        rows = (await deps.db.query<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE name_hash = $1 ORDER BY created_at LIMIT 50`,
          [protector.lookupHash('name', query.name.normalize('NFKC').trim())])).rows;
      } else {
        throw invalidInput('Search by exactly one of id_number, phone or name.');
      }
      await deps.audit.record({ event: 'admin.account.searched', result: 'success', actor: actor.name, ip: actor.ip, detail: { by: kind, found: rows.length } });
      return rows.map(summary);
    },

    async get(id: string, actor: AdminActor) {
      const row = await load(deps.db, id);
      const [sources, proofings] = await Promise.all([
        deps.db.query<{ source: string; legacy_user_id: string; imported_at: Date }>('SELECT source, legacy_user_id, imported_at FROM account_sources WHERE account_id = $1 ORDER BY imported_at', [id]),
        deps.db.query<{ proofing: string; verified_at: Date; revoked_at: Date | null }>('SELECT proofing, verified_at, revoked_at FROM account_proofings WHERE account_id = $1 ORDER BY verified_at', [id]),
      ]);
      await deps.audit.record({ event: 'admin.account.viewed', result: 'success', actor: actor.name, accountId: id, ip: actor.ip });
      return {
        ...summary(row),
        identityVerifiedAt: row.identity_verified_at,
        sources: sources.rows.map((s) => ({ source: s.source, legacyUserId: s.legacy_user_id, importedAt: s.imported_at })),
        proofings: proofings.rows.map((p) => ({ proofing: p.proofing, verifiedAt: p.verified_at, revokedAt: p.revoked_at })),
      };
    },

    freeze: (id: string, reason: unknown, actor: AdminActor) =>
      transition(id, { from: ['active', 'closing'], to: 'frozen', event: 'admin.account.frozen', reason, endSessions: true }, actor),
    unfreeze: (id: string, reason: unknown, actor: AdminActor) =>
      transition(id, { from: ['frozen'], to: 'active', event: 'admin.account.unfrozen', reason, endSessions: false }, actor),
    markDeceased: (id: string, reason: unknown, actor: AdminActor) =>
      transition(id, { from: ['active', 'frozen', 'closing'], to: 'deceased', event: 'admin.account.deceased', reason, endSessions: true }, actor),

    async forceLogout(id: string, reason: unknown, actor: AdminActor) {
      const why = requireReason(reason);
      await load(deps.db, id);
      await deps.audit.record({ event: 'admin.account.force_logout', result: 'success', actor: actor.name, accountId: id, ip: actor.ip, detail: { reason: why } });
      return deps.endAllSessions(id, 'admin_force_logout', actor.name);
    },

    /** Back to register-verified (or self-asserted): stronger proofing is revoked, its evidence kept. */
    async resetProofing(id: string, input: { reason: unknown; to: 'register_verified' | 'self_asserted' }, actor: AdminActor) {
      const reason = requireReason(input.reason);
      return deps.db.transaction(async (tx) => {
        await load(tx, id, true);
        const revoked = await tx.query('UPDATE account_proofings SET revoked_at = now(), revoked_reason = $2 WHERE account_id = $1 AND revoked_at IS NULL', [id, reason]);
        if (input.to === 'self_asserted') {
          await tx.query('UPDATE accounts SET identity_verified_at = NULL, identity_verified_by = NULL, updated_at = now() WHERE id = $1', [id]);
        }
        await deps.audit.recordWithin(tx, { event: 'admin.account.proofing_reset', result: 'success', actor: actor.name, accountId: id, ip: actor.ip, detail: { reason, to: input.to, revoked: revoked.rowCount } });
        return { to: input.to, revoked: revoked.rowCount ?? 0 };
      });
    },

    /** Admin roles are granted by staff only, never by the person; changes end the person's sessions. */
    async changeRole(id: string, role: string | undefined, grant: boolean, reason: unknown, actor: AdminActor) {
      const why = requireReason(reason);
      if (!role || !(ADMIN_ROLES as readonly string[]).includes(role)) throw invalidInput(`Unknown role; roles: ${ADMIN_ROLES.join(', ')}.`, { field: 'role' });
      const roles = await deps.db.transaction(async (tx) => {
        const row = await load(tx, id, true);
        const next = grant ? [...new Set([...row.roles, role])] : row.roles.filter((r) => r !== role);
        await tx.query('UPDATE accounts SET roles = $2, updated_at = now() WHERE id = $1', [id, next]);
        await deps.audit.recordWithin(tx, { event: 'admin.account.roles_changed', result: 'success', actor: actor.name, accountId: id, ip: actor.ip, detail: { reason: why, before: row.roles, after: next } });
        return next;
      });
      return { roles };
    },

    /**
     * Merges `fromId` into `intoId` (two accounts of the same person, e.g. before and after an ID-number
     * correction): legacy sources and proofing evidence move over, the phone too when the target has none;
     * the merged account keeps no look-up keys and points at the survivor.
     */
    async merge(intoId: string, fromId: string, reason: unknown, actor: AdminActor) {
      const why = requireReason(reason);
      if (intoId === fromId) throw invalidInput('An account cannot be merged into itself.');
      await deps.db.transaction(async (tx) => {
        const [into, from] = [await load(tx, intoId, true), await load(tx, fromId, true)];
        if (['closed', 'merged'].includes(into.status) || ['closed', 'merged'].includes(from.status)) {
          throw new AppError('invalid_state', 'Closed or already merged accounts cannot be merged.', { status: 409 });
        }
        await tx.query('UPDATE account_sources SET account_id = $1 WHERE account_id = $2', [intoId, fromId]);
        await tx.query('UPDATE account_proofings SET account_id = $1 WHERE account_id = $2', [intoId, fromId]);
        const movePhone = !into.phone_hash && from.phone_hash;
        await tx.query(
          `UPDATE accounts SET status = 'merged', merged_into = $2, status_reason = $3, status_changed_at = now(), updated_at = now(),
             id_number_hash = NULL, phone_hash = NULL, phone_enc = NULL, phone_masked = NULL, password_hash = NULL
           WHERE id = $1`, [fromId, intoId, why]);
        if (movePhone) {
          await tx.query('UPDATE accounts SET phone_hash = $2, phone_enc = $3, phone_masked = $4, phone_verified_at = $5, updated_at = now() WHERE id = $1',
            [intoId, from.phone_hash, from.phone_enc, from.phone_masked, from.phone_verified_at]);
        }
        await deps.audit.recordWithin(tx, { event: 'admin.account.merged', result: 'success', actor: actor.name, accountId: intoId, ip: actor.ip, detail: { reason: why, merged: fromId, phoneMoved: Boolean(movePhone) } });
      });
      await deps.endAllSessions(fromId, 'merged', actor.name);
      return { into: intoId, merged: fromId };
    },
  };
}

export type AccountAdminService = ReturnType<typeof createAccountAdminService>;
