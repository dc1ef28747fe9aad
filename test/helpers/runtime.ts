import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import pg from 'pg';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/load-config.ts';
import { createRuntime, type Runtime } from '../../src/bootstrap/runtime.ts';

type Teardown = { teardown(fn: () => unknown): void };

export const hasRealPostgres = Boolean(process.env.DATABASE_URL);
export const hasRedis = Boolean(process.env.REDIS_URL);

/** A free loopback port, for tests that need the issuer URL before the server listens. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A runtime on a fresh database: its own schema in DATABASE_URL's PostgreSQL (dropped afterwards), or
 * its own in-memory embedded PostgreSQL when DATABASE_URL is unset; its own key prefix in REDIS_URL's Redis.
 */
export async function createTestRuntime(t: Teardown, options: { env?: Record<string, string>; clock?: () => Date } = {}): Promise<Runtime> {
  const id = randomBytes(6).toString('hex');
  const schema = hasRealPostgres ? `t_${id}` : undefined;
  if (schema) {
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    t.teardown(async () => {
      const cleanup = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await cleanup.connect();
      await cleanup.query(`DROP SCHEMA ${schema} CASCADE`);
      await cleanup.end();
    });
  }
  const redisKeyPrefix = `t:${id}:`;
  if (hasRedis) {
    t.teardown(async () => {
      const redis = new Redis(process.env.REDIS_URL!);
      const keys = await redis.keys(`${redisKeyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    });
  }
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: process.env.DATABASE_URL,
    REDIS_URL: process.env.REDIS_URL,
    DEMO_DATA: 'false',
    ISSUER: 'http://localhost:3000',
    ...options.env,
  });
  const runtime = await createRuntime(config, { schema, redisKeyPrefix, clock: options.clock });
  t.teardown(() => runtime.close());
  return runtime;
}

