import type { Database } from '../db/database.ts';
import type { Factor } from './compute-level.ts';

/** A method just verified, with its limits (see Factor). */
export type VerifiedFactor = Omit<Factor, 'at'>;

/** Per-session authentication facts, keyed by oidc-provider's session uid. Durable like the session. */
export function createSessionFactsRepository(db: Database) {
  return {
    async load(sessionUid: string, accountId: string): Promise<{ factors: Factor[]; lastSeen: number | null }> {
      const [factors, activity] = await Promise.all([
        db.query<{ method: Factor['method']; at: string; max_level: string | null; extra_amr: string[] }>(
          `SELECT method, extract(epoch FROM authenticated_at)::bigint AS at, max_level, extra_amr FROM session_factors
           WHERE session_uid = $1 AND account_id = $2`, [sessionUid, accountId]),
        db.query<{ at: string }>('SELECT extract(epoch FROM last_seen_at)::bigint AS at FROM session_activity WHERE session_uid = $1', [sessionUid]),
      ]);
      return {
        factors: factors.rows.map((r): Factor => ({
          method: r.method, at: Number(r.at),
          ...(r.max_level ? { maxLevel: r.max_level } : {}),
          ...(r.extra_amr.length ? { amr: r.extra_amr } : {}),
        })),
        lastSeen: activity.rows[0] ? Number(activity.rows[0].at) : null,
      };
    },
    /** A login by another account in the same browser session starts from nothing. */
    async record(sessionUid: string, accountId: string, factors: readonly VerifiedFactor[], at: number): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.query('DELETE FROM session_factors WHERE session_uid = $1 AND account_id <> $2', [sessionUid, accountId]);
        for (const factor of factors) {
          await tx.query(
            `INSERT INTO session_factors (session_uid, account_id, method, authenticated_at, max_level, extra_amr)
             VALUES ($1, $2, $3, to_timestamp($4), $5, $6)
             ON CONFLICT (session_uid, method) DO UPDATE SET account_id = EXCLUDED.account_id, authenticated_at = EXCLUDED.authenticated_at,
               max_level = EXCLUDED.max_level, extra_amr = EXCLUDED.extra_amr`,
            [sessionUid, accountId, factor.method, at, factor.maxLevel ?? null, factor.amr ?? []]);
        }
      });
    },
    async touch(sessionUid: string, at: number): Promise<void> {
      await db.query(
        `INSERT INTO session_activity (session_uid, last_seen_at) VALUES ($1, to_timestamp($2))
         ON CONFLICT (session_uid) DO UPDATE SET last_seen_at = GREATEST(session_activity.last_seen_at, EXCLUDED.last_seen_at)`,
        [sessionUid, at]);
    },
    async sweep(olderThanSeconds: number): Promise<void> {
      await db.query('DELETE FROM session_factors WHERE authenticated_at < now() - make_interval(secs => $1)', [olderThanSeconds]);
      await db.query('DELETE FROM session_activity WHERE last_seen_at < now() - make_interval(secs => $1)', [olderThanSeconds]);
    },
  };
}

export type SessionFactsRepository = ReturnType<typeof createSessionFactsRepository>;
