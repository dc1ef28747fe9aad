import type { AuditLog } from '../audit/audit-log.ts';
import type { PopulationRegister, RegistryEvent } from '../connectors/population-register/types.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { DataProtector } from '../identity/data-protection.ts';
import { maskIdNumber, validateIdNumber } from '../identity/id-number.ts';

type Outcome = 'applied' | 'no_account' | 'conflict' | 'invalid';

/**
 * Follows the population register's change feed: a death marks the account deceased and ends its sessions;
 * a corrected ID number moves the account to the new number (unless another account holds it: conflict,
 * left to an admin's merge); a changed name is re-encrypted. Each event is applied once (idempotent by id),
 * in one transaction with its audit record.
 */
export function createRegistrySync(deps: {
  db: Database;
  register: PopulationRegister;
  protector: DataProtector;
  audit: AuditLog;
  endAllSessions: (accountId: string, reason: string, actor?: string) => Promise<unknown>;
  batchSize?: number;
}) {
  const { protector } = deps;

  async function apply(tx: Queryable, event: RegistryEvent): Promise<{ outcome: Outcome; accountId?: string }> {
    const { rows } = await tx.query<{ id: string; status: string }>(
      'SELECT id, status FROM accounts WHERE id_number_hash = $1 FOR UPDATE', [protector.lookupHash('id_number', event.idNumber)]);
    const account = rows[0];
    if (!account) return { outcome: 'no_account' };
    if (event.type === 'death') {
      await tx.query("UPDATE accounts SET status = 'deceased', status_reason = $2, status_changed_at = now(), updated_at = now() WHERE id = $1",
        [account.id, `population register event ${event.id}`]);
      return { outcome: 'applied', accountId: account.id };
    }
    if (event.type === 'name_change') {
      await tx.query('UPDATE accounts SET name_enc = $2, name_hash = $3, updated_at = now() WHERE id = $1',
        [account.id, protector.encrypt(event.newName, 'accounts.name'), protector.lookupHash('name', event.newName)]);
      return { outcome: 'applied', accountId: account.id };
    }
    const checked = validateIdNumber(event.newIdNumber);
    if (!checked.ok) return { outcome: 'invalid', accountId: account.id };
    const newHash = protector.lookupHash('id_number', checked.idNumber);
    const taken = await tx.query('SELECT 1 FROM accounts WHERE id_number_hash = $1 AND id <> $2', [newHash, account.id]);
    if (taken.rowCount) return { outcome: 'conflict', accountId: account.id };
    await tx.query('UPDATE accounts SET id_number_hash = $2, id_number_enc = $3, id_number_masked = $4, updated_at = now() WHERE id = $1',
      [account.id, newHash, protector.encrypt(checked.idNumber, 'accounts.id_number'), maskIdNumber(checked.idNumber)]);
    return { outcome: 'applied', accountId: account.id };
  }

  return {
    /** Reads the next page of the feed and applies it; returns how many events were new. */
    async pollOnce(): Promise<{ applied: number; seen: number }> {
      const cursor = (await deps.db.query<{ cursor: string | null }>('SELECT cursor FROM registry_sync WHERE id = 1')).rows[0]?.cursor ?? null;
      const page = await deps.register.events(cursor, deps.batchSize ?? 100);
      let applied = 0;
      for (const event of page.events) {
        const result = await deps.db.transaction(async (tx) => {
          const fresh = await tx.query('INSERT INTO registry_events_applied (event_id, event_type, outcome) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
            [event.id, event.type, 'pending']);
          if (!fresh.rowCount) return undefined;
          const { outcome, accountId } = await apply(tx, event);
          await tx.query('UPDATE registry_events_applied SET outcome = $2, account_id = $3 WHERE event_id = $1', [event.id, outcome, accountId ?? null]);
          await deps.audit.recordWithin(tx, {
            event: 'registry.event_applied', result: outcome === 'applied' || outcome === 'no_account' ? 'success' : 'failure',
            actor: `register:${deps.register.name}`, accountId, detail: { eventId: event.id, type: event.type, outcome, idNumber: maskIdNumber(event.idNumber) },
          });
          return { outcome, accountId, type: event.type };
        });
        if (!result) continue;
        applied++;
        // Sessions end after the commit: a deceased person's sessions must not outlive the event.
        if (result.type === 'death' && result.outcome === 'applied' && result.accountId) {
          await deps.endAllSessions(result.accountId, 'deceased', `register:${deps.register.name}`);
        }
      }
      await deps.db.query(
        `INSERT INTO registry_sync (id, cursor, polled_at) VALUES (1, $1, now())
         ON CONFLICT (id) DO UPDATE SET cursor = EXCLUDED.cursor, polled_at = now()`, [page.cursor]);
      return { applied, seen: page.events.length };
    },
  };
}

export type RegistrySync = ReturnType<typeof createRegistrySync>;
