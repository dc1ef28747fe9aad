// What an active session, a refresh token and the short-lived login artefacts cost in storage.
import type { Redis } from 'ioredis';
import type { Queryable } from '../../src/db/database.ts';

export type PostgresModelSize = { model: string; rows: number; payloadBytes: number; tupleBytes: number; estimatedBytes: number };
export type PostgresSizes = { models: PostgresModelSize[]; indexBytesPerRow: number; totalRows: number };

// Each heap tuple also costs a 4-byte line pointer in its page; pg_column_size(t.*) already counts the
// 24-byte tuple header (the composite datum carries one), and TOAST-compressed payloads at their stored size.
const LINE_POINTER_BYTES = 4;

/** Averages over the live rows of oidc_payloads; index bytes are the table-wide average per row (all models). */
export async function measurePostgres(db: Queryable): Promise<PostgresSizes> {
  const { rows } = await db.query<{ model: string; n: number; payload: number; tuple: number }>(
    `SELECT model, count(*)::int AS n, avg(pg_column_size(payload))::float8 AS payload, avg(pg_column_size(t.*))::float8 AS tuple
     FROM oidc_payloads t WHERE expires_at IS NULL OR expires_at > now() GROUP BY model ORDER BY model`);
  const totals = (await db.query<{ index_bytes: string; n: number }>(
    `SELECT pg_indexes_size('oidc_payloads')::text AS index_bytes, (SELECT count(*)::int FROM oidc_payloads) AS n`)).rows[0];
  const indexBytesPerRow = totals.n > 0 ? Number(totals.index_bytes) / totals.n : 0;
  return {
    models: rows.map((r) => ({
      model: r.model, rows: r.n, payloadBytes: r.payload, tupleBytes: r.tuple,
      estimatedBytes: r.tuple + LINE_POINTER_BYTES + indexBytesPerRow,
    })),
    indexBytesPerRow,
    totalRows: totals.n,
  };
}

export type RedisKeySize = { kind: string; keys: number; sampled: number; avgBytes: number };

/** Groups the keys our hot store wrote (see src/oidc/adapter.ts and src/cache/rate-limiter.ts). */
function kindOf(key: string): string {
  const parts = key.split(':');
  if (parts[0] === 'oidc') {
    if (parts[1] === 'grant') return `${parts[2]} (per-grant id set)`;
    if (parts[2] === 'uid' || parts[2] === 'user_code') return `${parts[1]} (${parts[2]} index)`;
    if (parts.at(-1) === 'consumed') return `${parts[1]} (consumed marker)`;
    return parts[1];
  }
  if (parts[0] === 'rl') return `rate-limit counter ${parts[1]}`;
  return `${parts[0]}:*`;
}

const MAX_SCAN_ROUNDS = 20_000;
const SCAN_TIME_LIMIT_MS = 60_000;
const SAMPLE_PER_KIND = 500;

/** MEMORY USAGE (all samples) averaged over up to SAMPLE_PER_KIND keys of each kind under `prefix`. */
export async function measureRedis(redis: Redis, prefix: string): Promise<RedisKeySize[]> {
  const byKind = new Map<string, string[]>();
  const counts = new Map<string, number>();
  const started = Date.now();
  let cursor = '0';
  for (let round = 0; round < MAX_SCAN_ROUNDS && Date.now() - started < SCAN_TIME_LIMIT_MS; round++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    for (const key of keys) {
      const kind = kindOf(key.slice(prefix.length));
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
      const sample = byKind.get(kind) ?? [];
      if (sample.length < SAMPLE_PER_KIND) sample.push(key);
      byKind.set(kind, sample);
    }
    cursor = next;
    if (cursor === '0') break;
  }
  const sizes: RedisKeySize[] = [];
  for (const [kind, keys] of byKind) {
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', 0);
    const results = (await pipeline.exec()) ?? [];
    const bytes = results.map(([, value]) => Number(value)).filter((n) => Number.isFinite(n) && n > 0);
    sizes.push({
      kind, keys: counts.get(kind) ?? 0, sampled: bytes.length,
      avgBytes: bytes.length > 0 ? bytes.reduce((a, b) => a + b, 0) / bytes.length : 0,
    });
  }
  return sizes.sort((a, b) => a.kind.localeCompare(b.kind));
}

/** Deletes every key under `prefix`, in bounded rounds. */
export async function deleteRedisPrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  for (let round = 0; round < MAX_SCAN_ROUNDS; round++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) deleted += await redis.unlink(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
  return deleted;
}
