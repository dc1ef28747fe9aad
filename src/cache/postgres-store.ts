import type { Database } from '../db/database.ts';
import type { HotStore } from './hot-store.ts';

/**
 * The same contract as the Redis store on UNLOGGED tables, for the embedded default and single-node
 * installs. Expired rows are ignored on read and swept by `sweepExpired`.
 */
export function createPostgresStore(db: Database): HotStore & { sweepExpired(): Promise<void> } {
  return {
    kind: 'postgres',
    async get(key) {
      const { rows } = await db.query<{ value: string }>(
        'SELECT value FROM hot_entries WHERE key = $1 AND expires_at > now()', [key]);
      return rows[0]?.value ?? null;
    },
    async set(key, value, ttlSeconds) {
      await db.query(
        `INSERT INTO hot_entries (key, value, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at`,
        [key, value, ttlSeconds]);
    },
    async setIfAbsent(key, value, ttlSeconds) {
      const { rowCount } = await db.query(
        `INSERT INTO hot_entries (key, value, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at
         WHERE hot_entries.expires_at <= now()`,
        [key, value, ttlSeconds]);
      return rowCount === 1;
    },
    async take(key) {
      const { rows } = await db.query<{ value: string; live: boolean }>(
        'DELETE FROM hot_entries WHERE key = $1 RETURNING value, expires_at > now() AS live', [key]);
      return rows[0]?.live ? rows[0].value : null;
    },
    async delete(...keys) {
      if (keys.length === 0) return;
      await db.query('DELETE FROM hot_entries WHERE key = ANY($1)', [keys]);
      await db.query('DELETE FROM hot_set_members WHERE key = ANY($1)', [keys]);
    },
    async increment(key, windowSeconds) {
      const { rows } = await db.query<{ value: string; reset: number }>(
        `INSERT INTO hot_entries (key, value, expires_at) VALUES ($1, '1', now() + make_interval(secs => $2))
         ON CONFLICT (key) DO UPDATE SET
           value = CASE WHEN hot_entries.expires_at <= now() THEN '1' ELSE (hot_entries.value::bigint + 1)::text END,
           expires_at = CASE WHEN hot_entries.expires_at <= now() THEN EXCLUDED.expires_at ELSE hot_entries.expires_at END
         RETURNING value, ceil(extract(epoch FROM expires_at - now()))::int AS reset`,
        [key, windowSeconds]);
      return { count: Number(rows[0].value), resetInSeconds: Math.max(0, Number(rows[0].reset)) };
    },
    async addToSet(key, member, ttlSeconds) {
      await db.query(
        `INSERT INTO hot_set_members (key, member, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
         ON CONFLICT (key, member) DO UPDATE SET expires_at = GREATEST(hot_set_members.expires_at, EXCLUDED.expires_at)`,
        [key, member, ttlSeconds]);
    },
    async setMembers(key) {
      const { rows } = await db.query<{ member: string }>(
        'SELECT member FROM hot_set_members WHERE key = $1 AND expires_at > now()', [key]);
      return rows.map((row) => row.member);
    },
    async ping() {
      await db.query('SELECT 1');
    },
    async close() {},
    async sweepExpired() {
      await db.query('DELETE FROM hot_entries WHERE expires_at <= now()');
      await db.query('DELETE FROM hot_set_members WHERE expires_at <= now()');
    },
  };
}
