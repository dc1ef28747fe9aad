import type { AccountRow } from '../accounts/types.ts';
import { ACCOUNT_COLUMNS } from '../accounts/repository.ts';
import type { Queryable } from '../db/database.ts';
import type { ClosedAccountRetention } from './settings.ts';

export type AccountDetailsRow = AccountRow & {
  password_changed_at: Date | null;
  identity_verified_by: string | null;
  status_changed_at: Date | null;
};

export type StoredSession = {
  uid: string;
  accountId?: string;
  loginTs?: number;
  iat?: number;
  acr?: string;
  amr?: string[];
  authorizations?: Record<string, { sid?: string; grantId?: string; persistsLogout?: boolean }>;
};

export type SessionRow = { id: string; payload: StoredSession; expires_at: Date | null; last_seen_at: Date | null };

export type StoredGrant = { iat?: number; clientId: string; accountId: string; openid?: { scope?: string; claims?: string[] } };

export type GrantRow = { id: string; payload: StoredGrant; expires_at: Date | null };

export type AuditRow = {
  id: string; occurred_at: Date; event: string; result: string; actor: string | null; client_id: string | null; ip: string | null; detail: Record<string, unknown>;
};

const UNIQUE_VIOLATION = '23505';
const LIVE = '(expires_at IS NULL OR expires_at > now())';

/** Every query of the self-service pages and jobs. Rows are read whole with to_jsonb where the export needs all columns. */
export function createSelfServiceRepository(db: Queryable) {
  return {
    async accountDetails(accountId: string, q: Queryable = db, lock = false): Promise<AccountDetailsRow | undefined> {
      if (!/^[0-9a-f-]{36}$/i.test(accountId)) return undefined;
      const { rows } = await q.query<AccountDetailsRow>(
        `SELECT ${ACCOUNT_COLUMNS}, password_changed_at, identity_verified_by, status_changed_at FROM accounts WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
        [accountId]);
      return rows[0];
    },

    async phoneOwner(phoneHash: string): Promise<string | undefined> {
      return (await db.query<{ id: string }>('SELECT id FROM accounts WHERE phone_hash = $1', [phoneHash])).rows[0]?.id;
    },

    async setPassword(q: Queryable, accountId: string, passwordHash: string): Promise<void> {
      await q.query(
        `UPDATE accounts SET password_hash = $2, password_changed_at = now(), must_reset_password = false,
           legacy_password_hash = NULL, legacy_password_algorithm = NULL, updated_at = now()
         WHERE id = $1`, [accountId, passwordHash]);
    },

    /** False when another account holds the number (the unique HMAC column decides, also under races). */
    async setPhone(q: Queryable, accountId: string, phone: { hash: string; enc: string; masked: string }): Promise<boolean> {
      try {
        await q.query('SAVEPOINT set_phone');
        await q.query(
          `UPDATE accounts SET phone_hash = $2, phone_enc = $3, phone_masked = $4, phone_verified_at = now(), updated_at = now() WHERE id = $1`,
          [accountId, phone.hash, phone.enc, phone.masked]);
        await q.query('RELEASE SAVEPOINT set_phone');
        return true;
      } catch (error) {
        if ((error as { code?: string }).code !== UNIQUE_VIOLATION) throw error;
        await q.query('ROLLBACK TO SAVEPOINT set_phone');
        return false;
      }
    },

    async markClosing(q: Queryable, accountId: string, closesAt: Date): Promise<boolean> {
      const { rowCount } = await q.query(
        `UPDATE accounts SET status = 'closing', closes_at = $2, status_reason = 'self_service', status_changed_at = now(), updated_at = now()
         WHERE id = $1 AND status = 'active'`, [accountId, closesAt]);
      return rowCount === 1;
    },

    /** Back to active, only within the cooling-off period; returns the closure date that was cancelled. */
    async cancelClosing(q: Queryable, accountId: string, now: Date): Promise<Date | undefined> {
      if (!/^[0-9a-f-]{36}$/i.test(accountId)) return undefined;
      const { rows } = await q.query<{ closes_at: Date }>(
        `WITH before AS (SELECT closes_at FROM accounts WHERE id = $1)
         UPDATE accounts SET status = 'active', closes_at = NULL, status_reason = NULL, status_changed_at = now(), updated_at = now()
         WHERE id = $1 AND status = 'closing' AND closes_at > $2
         RETURNING (SELECT closes_at FROM before)`, [accountId, now]);
      return rows[0]?.closes_at;
    },

    async dueClosures(now: Date, limit: number): Promise<string[]> {
      const { rows } = await db.query<{ id: string }>(
        "SELECT id FROM accounts WHERE status = 'closing' AND closes_at <= $1 ORDER BY closes_at LIMIT $2", [now, limit]);
      return rows.map((r) => r.id);
    },

    /** The row of a due account, locked; undefined when another node took it or a login cancelled it. */
    async lockDue(q: Queryable, accountId: string, now: Date): Promise<AccountRow | undefined> {
      const { rows } = await q.query<AccountRow>(
        `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = $1 AND status = 'closing' AND closes_at <= $2 FOR UPDATE SKIP LOCKED`, [accountId, now]);
      return rows[0];
    },

    /**
     * Removes every personal datum of a closed account. The row stays (audit records and merges point at it)
     * with the masked ID number only; the ID number and phone become free to register again.
     */
    async anonymise(q: Queryable, accountId: string, retention: ClosedAccountRetention): Promise<{ proofings: number; sources: number }> {
      await q.query(
        `UPDATE accounts SET status = 'closed', status_reason = 'self_service', status_changed_at = now(), closes_at = NULL, updated_at = now(),
           id_number_hash = NULL, id_number_enc = NULL, name_enc = NULL, name_hash = NULL,
           phone_hash = NULL, phone_enc = NULL, phone_masked = NULL, phone_verified_at = NULL,
           password_hash = NULL, password_changed_at = NULL, legacy_password_hash = NULL, legacy_password_algorithm = NULL,
           must_reset_password = false, roles = '{}'
         WHERE id = $1`, [accountId]);
      await q.query(
        'DELETE FROM session_activity WHERE session_uid IN (SELECT session_uid FROM session_factors WHERE account_id = $1)', [accountId]);
      await q.query('DELETE FROM session_factors WHERE account_id = $1', [accountId]);
      let proofings = 0;
      if (retention.proofings === 'delete') {
        proofings = (await q.query('DELETE FROM account_proofings WHERE account_id = $1', [accountId])).rowCount ?? 0;
      } else if (retention.proofings === 'anonymise') {
        proofings = (await q.query("UPDATE account_proofings SET evidence = '{}' WHERE account_id = $1", [accountId])).rowCount ?? 0;
      }
      const sources = retention.sources === 'delete'
        ? (await q.query('DELETE FROM account_sources WHERE account_id = $1', [accountId])).rowCount ?? 0
        : 0;
      return { proofings, sources };
    },

    async sessions(accountId: string): Promise<SessionRow[]> {
      const { rows } = await db.query<SessionRow>(
        `SELECT p.id, p.payload, p.expires_at, a.last_seen_at
         FROM oidc_payloads p LEFT JOIN session_activity a ON a.session_uid = p.payload->>'uid'
         WHERE p.model = 'Session' AND p.account_id = $1 AND (p.expires_at IS NULL OR p.expires_at > now())
         ORDER BY (p.payload->>'loginTs')::bigint DESC NULLS LAST`, [accountId]);
      return rows;
    },

    async sessionByUid(accountId: string, uid: string): Promise<SessionRow | undefined> {
      const { rows } = await db.query<SessionRow>(
        `SELECT p.id, p.payload, p.expires_at, NULL::timestamptz AS last_seen_at FROM oidc_payloads p
         WHERE p.model = 'Session' AND p.account_id = $1 AND p.uid = $2`, [accountId, uid]);
      return rows[0];
    },

    /** Whether the provider session in which the account page signed in (its sid there) still exists. */
    async sessionWithSid(accountId: string, clientId: string, sid: string): Promise<boolean> {
      const { rows } = await db.query(
        `SELECT 1 FROM oidc_payloads WHERE model = 'Session' AND account_id = $1 AND payload->'authorizations'->$2->>'sid' = $3`,
        [accountId, clientId, sid]);
      return rows.length > 0;
    },

    async deleteSession(q: Queryable, sessionId: string, uid: string): Promise<void> {
      await q.query("DELETE FROM oidc_payloads WHERE model = 'Session' AND id = $1", [sessionId]);
      await q.query('DELETE FROM session_factors WHERE session_uid = $1', [uid]);
      await q.query('DELETE FROM session_activity WHERE session_uid = $1', [uid]);
    },

    async grants(accountId: string): Promise<GrantRow[]> {
      const { rows } = await db.query<GrantRow>(
        `SELECT id, payload, expires_at FROM oidc_payloads WHERE model = 'Grant' AND account_id = $1 AND ${LIVE}
         ORDER BY (payload->>'iat')::bigint DESC NULLS LAST`, [accountId]);
      return rows;
    },

    async grantIds(accountId: string, clientId: string): Promise<string[]> {
      const { rows } = await db.query<{ id: string }>(
        "SELECT id FROM oidc_payloads WHERE model = 'Grant' AND account_id = $1 AND payload->>'clientId' = $2", [accountId, clientId]);
      return rows.map((r) => r.id);
    },

    async proofings(accountId: string): Promise<Record<string, unknown>[]> {
      const { rows } = await db.query<{ row: Record<string, unknown> }>(
        "SELECT to_jsonb(p) - 'account_id' AS row FROM account_proofings p WHERE account_id = $1 ORDER BY verified_at", [accountId]);
      return rows.map((r) => r.row);
    },

    async sources(accountId: string): Promise<Record<string, unknown>[]> {
      const { rows } = await db.query<{ row: Record<string, unknown> }>(
        "SELECT to_jsonb(s) - 'account_id' AS row FROM account_sources s WHERE account_id = $1 ORDER BY imported_at", [accountId]);
      return rows.map((r) => r.row);
    },

    /** The whole audit trail of the account, oldest first (the export; the page shows the latest only). */
    async auditTrail(accountId: string): Promise<AuditRow[]> {
      const { rows } = await db.query<AuditRow>(
        'SELECT id, occurred_at, event, result, actor, client_id, ip, detail FROM audit_events WHERE account_id = $1 ORDER BY id', [accountId]);
      return rows;
    },
  };
}

export type SelfServiceRepository = ReturnType<typeof createSelfServiceRepository>;
