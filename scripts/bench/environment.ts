// Where a benchmark runs: the local PostgreSQL and Redis only, in a schema and a Redis key prefix of its own (removed
// at the end, also on Ctrl-C), with the server under test listening on a free loopback port.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { buildApp } from '../../src/app.ts';
import { createRuntime, type Runtime } from '../../src/bootstrap/runtime.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import type { Config } from '../../src/config/types.ts';
import { describeMachine, type Machine } from './report.ts';
import { deleteRedisPrefix } from './storage.ts';

export type LocalServices = { databaseUrl: string; redisUrl: string };

export type BenchServer = { issuer: string; config: Config; runtime: Runtime };

export type BenchEnvironment = {
  schema: string;
  redisPrefix: string;
  admin: pg.Client;
  redis: Redis;
  machine(): Promise<Machine>;
  /** Creates the schema and starts the server in it (development mode, silent), `env` on top of the defaults. */
  startServer(env: Record<string, string>): Promise<BenchServer>;
  /** Added to the cleanup, after the server stops and before the schema is dropped, in the order added. */
  teardown(fn: () => unknown): void;
  cleanup(): Promise<void>;
};

const LOCAL_HOSTS = ['127.0.0.1', 'localhost', '::1', '[::1]'];

/** DATABASE_URL and REDIS_URL, defaulting to the local services; benchmarks refuse any other host. */
export function localServices(): LocalServices {
  const databaseUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  for (const url of [databaseUrl, redisUrl]) {
    const host = new URL(url).hostname;
    if (!LOCAL_HOSTS.includes(host)) throw new Error(`benchmarks only run against local services, not ${host}`);
  }
  return { databaseUrl, redisUrl };
}

/** A benchmark script's entry point: runs `main`; if it throws, prints why and exits with 1. */
export function runBenchmark(main: () => Promise<void>): void {
  main().catch((error) => {
    console.error(error instanceof Error ? error.stack ?? error.message : error);
    process.exit(1);
  });
}

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
 * `name` makes the schema (`name_<id>`, dashes as underscores) and the Redis key prefix (`name:<id>:`).
 * `leftovers` names what the cleanup removes, for its progress line.
 */
export async function openBenchEnvironment(
  services: LocalServices,
  options: { name: string; progress: (line: string) => void; leftovers?: string },
): Promise<BenchEnvironment> {
  const { progress } = options;
  const id = randomBytes(4).toString('hex');
  const schema = `${options.name.replaceAll('-', '_')}_${id}`;
  const redisPrefix = `${options.name}:${id}:`;
  const admin = new pg.Client({ connectionString: services.databaseUrl });
  await admin.connect();
  const redis = new Redis(services.redisUrl, { maxRetriesPerRequest: 2 });
  const teardowns: (() => unknown)[] = [];
  let runtime: Runtime | undefined;
  let closeApp: (() => Promise<unknown>) | undefined;
  let cleaned = false;

  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    progress(`cleaning up (${options.leftovers ?? 'schema, Redis keys'})`);
    await closeApp?.().catch(() => {});
    await runtime?.close().catch(() => {});
    for (const fn of teardowns) await Promise.resolve(fn()).catch(() => {});
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch((error) => progress(`could not drop ${schema}: ${error.message}`));
    await admin.end().catch(() => {});
    await deleteRedisPrefix(redis, redisPrefix).catch((error) => progress(`could not delete Redis keys ${redisPrefix}*: ${error.message}`));
    redis.disconnect();
  };
  process.once('SIGINT', () => {
    progress('interrupted');
    void cleanup().finally(() => process.exit(130));
  });

  return {
    schema, redisPrefix, admin, redis, cleanup,
    teardown: (fn) => void teardowns.push(fn),
    machine: async () => describeMachine({
      postgres: (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v.split(' ')[0],
      sharedBuffers: (await admin.query<{ v: string }>("SELECT current_setting('shared_buffers') AS v")).rows[0].v,
      redis: /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown',
    }),
    async startServer(env) {
      await admin.query(`CREATE SCHEMA ${schema}`);
      const port = await freePort();
      const issuer = `http://127.0.0.1:${port}`;
      const config = loadConfig({
        NODE_ENV: 'development', DATABASE_URL: services.databaseUrl, REDIS_URL: services.redisUrl, DEMO_DATA: 'false', LOG_LEVEL: 'silent',
        ISSUER: issuer, PORT: String(port), ...env,
      });
      runtime = await createRuntime(config, { schema, redisKeyPrefix: redisPrefix });
      const app = await buildApp(runtime, { logger: false });
      closeApp = () => app.close();
      await app.listen({ port, host: '127.0.0.1' });
      progress(`server on ${issuer}, schema ${schema}, Redis prefix ${redisPrefix}`);
      return { issuer, config, runtime };
    },
  };
}
