// Throughput and latency of the token endpoint and of complete password logins, against a real PostgreSQL
// and Redis, plus storage per session and refresh token. Writes docs/benchmarks.md.
//
//   npm run bench -- [--duration 10] [--skip-million] [--skip-import] [--import-rows 1000000]
//   npm run bench -- --only import [--import-rows N]    the legacy-account import alone (its section of the doc only)
//
// DATABASE_URL and REDIS_URL default to the local services. Everything happens in a schema and a Redis key
// prefix of its own, removed at the end. Exits non-zero on errors only, never because a target was missed.
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { hashPassword, verifyPassword } from '../src/authn/password/hashing.ts';
import { DURABLE_MODELS } from '../src/oidc/adapter.ts';
import { freePort, localServices, openBenchEnvironment, runBenchmark } from './bench/environment.ts';
import { checkClientCredentials, loadClientCredentials, startBareProvider, type TokenRequest } from './bench/http-load.ts';
import { passwordLogin } from './bench/login-flow.ts';
import { runLoginLoad, type LoginLoadOptions } from './bench/login-load.ts';
import { describeLoginRun, underObservation } from './bench/observation.ts';
import type { LoginTarget } from './bench/relying-party.ts';
import {
  cpuTable, percentile, renderMarkdown, resultsTable, verdictTable,
  type BenchResults, type LoginSummary, type TokenSummary,
} from './bench/report.ts';
import { benchImport, renderImportSection, writeImportSection } from './bench/import.ts';
import { measurePostgres, measureRedis } from './bench/storage.ts';
import { connectSeedClient, SEED_PASSWORD, seedCitizens, syntheticCitizen } from './seed-citizens.ts';

const CONCURRENCY = 16;
const MILLION = 1_000_000;
const SMALL = 1_000;
const REFRESH_SAMPLE_LOGINS = 32;
const DOC = new URL('../docs/benchmarks.md', import.meta.url);
const RP_CALLBACK = 'https://rp.bench.invalid/callback';

type Args = { durationS: number; skipMillion: boolean; onlyImport: boolean; skipImport: boolean; importRows: number };

function parseArgs(argv: readonly string[]): Args {
  const at = argv.indexOf('--duration');
  const durationS = at === -1 ? 10 : Number(argv[at + 1]);
  if (!Number.isInteger(durationS) || durationS < 1 || durationS > 600) throw new Error('--duration must be a whole number of seconds from 1 to 600');
  const only = argv.indexOf('--only');
  if (only !== -1 && argv[only + 1] !== 'import') throw new Error('--only takes "import"');
  const rowsAt = argv.indexOf('--import-rows');
  const importRows = rowsAt === -1 ? MILLION : Number(argv[rowsAt + 1]);
  if (!Number.isInteger(importRows) || importRows < 1) throw new Error('--import-rows must be a positive whole number');
  const known = new Set(['--duration', '--skip-million', '--only', '--skip-import', '--import-rows']);
  const unknown = argv.filter((a, i) => a.startsWith('--') && !known.has(a) && !['--duration', '--only', '--import-rows'].includes(argv[i - 1]));
  if (unknown.length > 0) throw new Error(`unknown option ${unknown.join(', ')}`);
  return { durationS, skipMillion: argv.includes('--skip-million'), onlyImport: only !== -1, skipImport: argv.includes('--skip-import'), importRows };
}

/** The legacy-import section of the doc as it is now, so that a run without the import keeps it. */
function currentImportSection(): string | undefined {
  try {
    const text = readFileSync(DOC, 'utf8');
    const start = text.indexOf('\n## Account import\n');
    if (start === -1) return undefined;
    const next = text.indexOf('\n## ', start + 1);
    return text.slice(start + 1, next === -1 ? undefined : next + 1);
  } catch {
    return undefined;
  }
}

async function runImportBench(args: Args, databaseUrl: string, command: string): Promise<string> {
  const result = await benchImport({ databaseUrl, rows: args.importRows, command, progress });
  progress(`  ${result.rows.toLocaleString('en-US')} rows in ${result.seconds.toFixed(1)} s: ${Math.round(result.rowsPerSecond)} rows/s `
    + `(${result.counts.created.toLocaleString('en-US')} created, ${result.counts.rejected.toLocaleString('en-US')} rejected)`);
  return renderImportSection(result);
}

const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);

async function measureArgon2(): Promise<number> {
  const hash = await hashPassword(SEED_PASSWORD);
  await verifyPassword(hash, SEED_PASSWORD);
  const runs = 10;
  const started = performance.now();
  for (let i = 0; i < runs; i++) await verifyPassword(hash, SEED_PASSWORD);
  return (performance.now() - started) / runs;
}

async function timedTokenLoad(request: TokenRequest, durationS: number): Promise<TokenSummary> {
  await checkClientCredentials(request);
  await loadClientCredentials(request, CONCURRENCY, Math.min(3, durationS)); // warm-up, not counted
  const { result, ...conditions } = await underObservation(() => loadClientCredentials(request, CONCURRENCY, durationS), { progress });
  return { ...result, ...conditions };
}

type SeedFacts = { seconds: number; vacuumSeconds: number; rows: number; tableBytes: number; indexBytes: number };

async function timedLoginLoad(options: Omit<LoginLoadOptions, 'durationMs'>, durationS: number, seed: SeedFacts): Promise<LoginSummary> {
  await runLoginLoad({ ...options, durationMs: Math.min(3, durationS) * 1000 }); // warm-up, not counted
  const { result: load, ...conditions } = await underObservation(() => runLoginLoad({ ...options, durationMs: durationS * 1000 }), { progress });
  return {
    accounts: options.accountCount, concurrency: options.concurrency,
    loginsPerSecond: load.completed / (load.elapsedMs / 1000), completed: load.completed,
    p50Ms: percentile(load.latenciesMs, 50), p99Ms: percentile(load.latenciesMs, 99),
    errors: load.errors, errorSamples: load.errorSamples, elapsedS: load.elapsedMs / 1000, clientBusyMs: load.clientBusyMs,
    ...conditions, seedSeconds: seed.seconds, vacuumSeconds: seed.vacuumSeconds, seededRows: seed.rows,
    tableBytes: seed.tableBytes, indexBytes: seed.indexBytes,
  };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const services = localServices();
  const { databaseUrl } = services;
  const date = new Date().toISOString();
  const command = `npm run bench --${process.argv.slice(2).map((a) => ` ${a}`).join('')}`;
  if (args.onlyImport) {
    writeImportSection(DOC, await runImportBench(args, databaseUrl, command));
    progress(`wrote the account import section of ${DOC.pathname}`);
    return;
  }
  const previousImportSection = currentImportSection();

  const env = await openBenchEnvironment(services, { name: 'bench', progress });
  let seedClient: pg.Client | undefined;
  env.teardown(() => seedClient?.end());

  try {
    const machine = await env.machine();
    progress('timing one argon2id verification');
    const argon2VerifyMs = await measureArgon2();

    const { issuer, config, runtime } = await env.startServer({
      LOGIN_PER_IP_PER_MINUTE: '1000000', SMS_PER_IP_PER_HOUR: '100000', SMS_GLOBAL_PER_MINUTE: '1000000', SMS_DAILY_CAP_PER_PHONE: '1000',
    });

    const service = await runtime.clients.create({
      client_id: 'bench-service', client_name: 'Benchmark service', grant_types: ['client_credentials'], response_types: [], redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    const portal = await runtime.clients.create({
      client_id: 'bench-portal', client_name: 'Benchmark portal', redirect_uris: [RP_CALLBACK],
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic',
      require_consent: false,
    });

    // a. our token endpoint
    progress(`client credentials against this server, ${args.durationS} s`);
    const tokens = await timedTokenLoad({ tokenUrl: `${issuer}/token`, clientId: service.client_id, clientSecret: service.client_secret! }, args.durationS);
    progress(`  ${Math.round(tokens.okPerSecond)} tokens/s, p99 ${tokens.p99Ms} ms`);

    // b. the bare oidc-provider ceiling
    progress(`client credentials against bare oidc-provider, ${args.durationS} s`);
    const bareProvider = await startBareProvider(await freePort());
    let bare: TokenSummary;
    try {
      bare = await timedTokenLoad(bareProvider.tokenRequest, args.durationS);
    } finally {
      await bareProvider.close();
    }
    progress(`  ${Math.round(bare.okPerSecond)} tokens/s, p99 ${bare.p99Ms} ms`);

    // c, d. password logins with 1,000 and 1,000,000 accounts
    seedClient = await connectSeedClient(databaseUrl, env.schema);
    const seedPasswordHash = await hashPassword(SEED_PASSWORD);
    const target: LoginTarget = {
      issuer, clientId: portal.client_id, clientSecret: portal.client_secret!, redirectUri: RP_CALLBACK, scope: 'openid profile',
    };
    const logins: LoginSummary[] = [];
    let serialLogin: LoginSummary | undefined;
    let seeded = 0;
    for (const accounts of args.skipMillion ? [SMALL] : [SMALL, MILLION]) {
      const rows = accounts - seeded;
      progress(`seeding ${rows.toLocaleString('en-US')} synthetic citizens (table will hold ${accounts.toLocaleString('en-US')})`);
      const seedStarted = performance.now();
      let lastReport = seedStarted;
      await seedCitizens(seedClient, runtime.protector, {
        count: rows, startIndex: seeded, passwordHash: seedPasswordHash,
        onProgress: (n) => {
          const now = performance.now();
          if (now - lastReport < 10_000) return;
          lastReport = now;
          const rate = n / ((now - seedStarted) / 1000);
          progress(`  ${n.toLocaleString('en-US')} rows streamed, ${Math.round(rate)} rows/s, about ${Math.round((rows - n) / rate)} s to go`);
        },
      });
      const seedSeconds = (performance.now() - seedStarted) / 1000;
      progress(`  seeded in ${seedSeconds.toFixed(1)} s (${Math.round(rows / seedSeconds)} rows/s)`);
      // A freshly loaded table would set hint bits on first read and get auto-analysed mid-run.
      const vacuumStarted = performance.now();
      await seedClient.query('VACUUM ANALYZE accounts');
      const vacuumSeconds = (performance.now() - vacuumStarted) / 1000;
      seeded = accounts;
      progress(`  VACUUM ANALYZE accounts in ${vacuumSeconds.toFixed(1)} s`);

      const sizes = (await seedClient.query<{ heap: string; indexes: string }>(
        "SELECT pg_relation_size('accounts')::text AS heap, pg_indexes_size('accounts')::text AS indexes")).rows[0];
      const seed = { seconds: seedSeconds, vacuumSeconds, rows, tableBytes: Number(sizes.heap), indexBytes: Number(sizes.indexes) };

      progress(`password logins with ${accounts.toLocaleString('en-US')} accounts, ${args.durationS} s`);
      const summary = await timedLoginLoad({ target, password: SEED_PASSWORD, concurrency: CONCURRENCY, accountCount: accounts }, args.durationS, seed);
      logins.push(summary);
      progress(describeLoginRun(summary));
      if (accounts === SMALL) {
        progress(`password logins with ${accounts.toLocaleString('en-US')} accounts, one loop, ${args.durationS} s`);
        serialLogin = await timedLoginLoad({ target, password: SEED_PASSWORD, concurrency: 1, accountCount: accounts }, args.durationS, seed);
        progress(describeLoginRun(serialLogin));
      }
    }

    // e. storage: refresh tokens need offline_access, which oidc-provider grants only with prompt=consent.
    progress(`${REFRESH_SAMPLE_LOGINS} logins with offline_access for refresh-token sizes, then storage`);
    for (let i = 0; i < REFRESH_SAMPLE_LOGINS; i++) {
      const outcome = await passwordLogin({ ...target, scope: 'openid profile offline_access', consent: true }, syntheticCitizen(i).idNumber, SEED_PASSWORD);
      if (!outcome.refreshToken) throw new Error('offline_access login returned no refresh token');
    }
    await runtime.audit.flush();
    const storage = {
      postgres: await measurePostgres(runtime.db),
      redis: await measureRedis(env.redis, env.redisPrefix),
      refreshSampleLogins: REFRESH_SAMPLE_LOGINS,
    };

    const results: BenchResults = {
      date, command, durationS: args.durationS, concurrency: CONCURRENCY, machine, argon2VerifyMs,
      tokens, bare, logins, serialLogin: serialLogin!, millionSkipped: args.skipMillion, storage, durableModels: [...DURABLE_MODELS],
      clientCredentialsTtlSeconds: config.tokens.clientCredentialsSeconds,
    };
    console.log(`\n${resultsTable(results)}\n\n${cpuTable(results)}\n\n${verdictTable(results)}\n`);
    writeFileSync(DOC, renderMarkdown(results));
    const importSection = args.skipImport ? previousImportSection : await runImportBench(args, databaseUrl, command);
    if (importSection) writeImportSection(DOC, importSection);
    progress(`wrote ${DOC.pathname}`);
  } finally {
    await env.cleanup();
  }
}

runBenchmark(main);
