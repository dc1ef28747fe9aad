import type { Database, Queryable } from '../db/database.ts';
import type { AuditEvent, AuditEventName } from './events.ts';

type Pending = { event: AuditEvent; at: Date; resolve: () => void; reject: (error: Error) => void };

export type AuditRecord = AuditEvent & { id: string; occurredAt: Date };

const MAX_BATCH = 500;

async function insertAuditRows(q: Queryable, items: readonly { event: AuditEvent; at: Date }[]) {
  const values: unknown[] = [];
  const rows = items.map(({ event: e, at }, i) => {
    values.push(at, e.event, e.result, e.actor ?? null, e.accountId ?? null, e.clientId ?? null, e.ip ?? null, JSON.stringify(e.detail ?? {}));
    const o = i * 8;
    return `($${o + 1}, $${o + 2}, $${o + 3}, $${o + 4}, $${o + 5}, $${o + 6}, $${o + 7}, $${o + 8})`;
  });
  await q.query(
    `INSERT INTO audit_events (occurred_at, event, result, actor, account_id, client_id, ip, detail) VALUES ${rows.join(', ')}`,
    values);
}

/**
 * Append-only writer. Events from the same tick are written in one multi-row INSERT, so token issuance at
 * thousands per second costs one round trip per batch. `record` resolves only once the row is committed:
 * flows that must not proceed without their audit record await it.
 */
export function createAuditLog(deps: { db: Database; clock: () => Date; onError?: (error: unknown) => void }) {
  const queue: Pending[] = [];
  let scheduled = false;
  let pumping: Promise<void> | undefined;

  async function writeBatch(batch: Pending[]) {
    try {
      await insertAuditRows(deps.db, batch);
      for (const p of batch) p.resolve();
    } catch (error) {
      deps.onError?.(error);
      for (const p of batch) p.reject(error as Error);
    }
  }

  // Group commit: one INSERT in flight at a time; whatever arrives meanwhile goes into the next one, so
  // the batch size grows with the load instead of one statement per event.
  function pump(): Promise<void> {
    pumping ??= (async () => {
      while (queue.length > 0) await writeBatch(queue.splice(0, MAX_BATCH));
    })().finally(() => {
      pumping = undefined;
      // An event queued between the loop's last check and here would otherwise wait for the next one.
      if (queue.length > 0) schedule();
    });
    return pumping;
  }

  function schedule() {
    if (scheduled || pumping) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      void pump();
    });
  }

  return {
    record(event: AuditEvent): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        queue.push({ event, at: deps.clock(), resolve, reject });
        schedule();
      });
    },
    /** Writes inside the caller's transaction: the event commits or rolls back with the change it records. */
    async recordWithin(tx: Queryable, event: AuditEvent): Promise<void> {
      await insertAuditRows(tx, [{ event, at: deps.clock() }]);
    },
    /** Fire-and-forget variant for high-volume events; failures reach onError. */
    recordInBackground(event: AuditEvent): void {
      this.record(event).catch(() => {});
    },
    async flush(): Promise<void> {
      await pump();
    },
    async list(filter: { accountId?: string; event?: AuditEventName; clientId?: string; limit?: number } = {}): Promise<AuditRecord[]> {
      await this.flush();
      const { rows } = await deps.db.query<{
        id: string; occurred_at: Date; event: AuditEventName; result: 'success' | 'failure'; actor: string | null;
        account_id: string | null; client_id: string | null; ip: string | null; detail: Record<string, unknown>;
      }>(
        `SELECT id, occurred_at, event, result, actor, account_id, client_id, ip, detail FROM audit_events
         WHERE ($1::uuid IS NULL OR account_id = $1) AND ($2::text IS NULL OR event = $2) AND ($3::text IS NULL OR client_id = $3)
         ORDER BY id DESC LIMIT $4`,
        [filter.accountId ?? null, filter.event ?? null, filter.clientId ?? null, Math.min(filter.limit ?? 100, 1000)]);
      return rows.map((r) => ({
        id: r.id, occurredAt: r.occurred_at, event: r.event, result: r.result, actor: r.actor ?? undefined,
        accountId: r.account_id ?? undefined, clientId: r.client_id ?? undefined, ip: r.ip ?? undefined, detail: r.detail,
      }));
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
