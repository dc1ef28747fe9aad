// The machine description, the results table and docs/benchmarks.md.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { CpuBreakdown } from './cpu.ts';
import { bytes, cores, int, mib, ms, one, people, percent, table } from './format.ts';
import type { LoadResult } from './http-load.ts';
import type { PostgresSizes, RedisKeySize } from './storage.ts';

export type Machine = { cpus: number; cpuModel: string; memory: string; node: string; postgres: string; redis: string; sharedBuffers: string };

export function describeMachine(versions: { postgres: string; redis: string; sharedBuffers: string }): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const kib = Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0);
  return {
    cpus: availableParallelism(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    memory: `${(kib / 1024 / 1024).toFixed(1)} GiB (MemTotal ${kib} kB)`,
    node: process.version,
    ...versions,
  };
}

export type RunConditions = {
  cpu: CpuBreakdown;
  /** Cores busy on the machine in the second before the run, with this process idle. */
  backgroundCores: number;
  /** Share of the run during which the server's event loop (the main thread) was busy. */
  eventLoop: number;
  /** Which attempt is reported (disturbed runs are repeated). */
  attempts: number;
};

export type LoginSummary = RunConditions & {
  accounts: number;
  concurrency: number;
  loginsPerSecond: number;
  completed: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  errorSamples: string[];
  elapsedS: number;
  /** Busy time of the login loops' own thread (client side). */
  clientBusyMs: number;
  seedSeconds: number;
  vacuumSeconds: number;
  seededRows: number;
  /** accounts heap and index sizes after seeding (pg_relation_size, pg_indexes_size). */
  tableBytes: number;
  indexBytes: number;
};

export type TokenSummary = LoadResult & RunConditions;

export type BenchResults = {
  date: string;
  command: string;
  durationS: number;
  concurrency: number;
  machine: Machine;
  argon2VerifyMs: number;
  tokens: TokenSummary;
  bare: TokenSummary;
  logins: LoginSummary[];
  /** One loop, no queueing: the time a login takes on its own. */
  serialLogin: LoginSummary;
  millionSkipped: boolean;
  storage: { postgres: PostgresSizes; redis: RedisKeySize[]; refreshSampleLogins: number };
  durableModels: readonly string[];
  clientCredentialsTtlSeconds: number;
};

/** Nearest-rank percentile of an unsorted sample. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

// autocannon's latency histogram holds whole milliseconds.
const wholeMs = (n: number) => (n < 1 ? '< 1 ms' : `${n} ms`);

function loginRow(label: string, l: LoginSummary): string[] {
  return [label, `${one(l.loginsPerSecond)} logins/s (${l.completed} in ${l.elapsedS.toFixed(1)} s)`, ms(l.p50Ms), ms(l.p99Ms), `${l.errors} errors`];
}

export function resultsTable(r: BenchResults): string {
  const ratio = r.bare.okPerSecond > 0 ? r.tokens.okPerSecond / r.bare.okPerSecond : NaN;
  const rows: string[][] = [
    ['Client credentials, POST /token (this server)', `${int(r.tokens.okPerSecond)} tokens/s`, wholeMs(r.tokens.p50Ms), wholeMs(r.tokens.p99Ms),
      `${r.tokens.non2xx} non-2xx, ${r.tokens.errors} errors`],
    ['Client credentials, bare oidc-provider (ceiling)', `${int(r.bare.okPerSecond)} tokens/s`, wholeMs(r.bare.p50Ms), wholeMs(r.bare.p99Ms),
      `${r.bare.non2xx} non-2xx, ${r.bare.errors} errors`],
    ['This server as a share of the ceiling', `${one(ratio * 100)}%`, '', '', ''],
    ...r.logins.map((l) => loginRow(`Full password login, ${people(l.accounts)} accounts`, l)),
    loginRow(`Full password login, ${people(r.serialLogin.accounts)} accounts, 1 loop (no queueing)`, r.serialLogin),
  ];
  return table([`Measure (concurrency ${r.concurrency}, ${r.durationS} s)`, 'Throughput', 'p50', 'p99', 'Failures'], rows);
}

/** Where the CPU time went during each timed run, in cores of the machine's total. */
export function cpuTable(r: BenchResults): string {
  const row = (label: string, c: RunConditions) => [label, percent(c.eventLoop), cores(c.cpu.machine), cores(c.cpu.self), cores(c.cpu.postgres),
    cores(c.cpu.redis), cores(c.cpu.other), cores(c.backgroundCores), String(c.attempts)];
  return table(
    ['Run', 'Server event loop busy', `Machine busy (of ${r.machine.cpus})`, 'This process (server + load threads)', 'PostgreSQL', 'Redis',
      'Other processes', 'Background in the second before', 'Attempt reported'],
    [
      row('Client credentials, this server', r.tokens),
      row('Client credentials, bare oidc-provider', r.bare),
      ...r.logins.map((l) => row(`Password logins, ${people(l.accounts)} accounts`, l)),
      row('Password logins, 1 loop', r.serialLogin),
    ]);
}

function seedingTable(r: BenchResults): string {
  return table(['Accounts in table', 'Rows seeded for this step', 'Seeding time (generate, encrypt, COPY)', 'Rows/s', 'Then VACUUM ANALYZE', 'accounts heap', 'accounts indexes'],
    r.logins.map((l) => [people(l.accounts), people(l.seededRows), `${l.seedSeconds.toFixed(1)} s`, int(l.seededRows / l.seedSeconds),
      `${l.vacuumSeconds.toFixed(1)} s`, mib(l.tableBytes), mib(l.indexBytes)]));
}

export type Verdict = { target: string; measured: string; met: boolean };

export function targetsTable(concurrency: number, list: readonly Verdict[]): string {
  return table([`Target (concurrency ${concurrency})`, 'Measured', 'Status'], list.map((v) => [v.target, v.measured, v.met ? 'met' : '**not met**']));
}

export function verdicts(r: BenchResults): Verdict[] {
  const ratio = r.bare.okPerSecond > 0 ? r.tokens.okPerSecond / r.bare.okPerSecond : 0;
  const list: Verdict[] = [
    { target: 'Client credentials ≥ 5,000 tokens/s', measured: `${int(r.tokens.okPerSecond)} tokens/s`, met: r.tokens.okPerSecond >= 5000 },
    { target: 'Client credentials p99 < 25 ms', measured: wholeMs(r.tokens.p99Ms), met: r.tokens.p99Ms < 25 },
    { target: 'Client credentials ≥ 50% of bare oidc-provider', measured: `${one(ratio * 100)}% of ${int(r.bare.okPerSecond)} tokens/s`, met: ratio >= 0.5 },
  ];
  for (const l of r.logins) {
    list.push({ target: `Password logins ≥ 50/s (${people(l.accounts)} accounts)`, measured: `${one(l.loginsPerSecond)} logins/s`, met: l.loginsPerSecond >= 50 });
    list.push({ target: `Password login p99 < 300 ms (${people(l.accounts)} accounts)`, measured: ms(l.p99Ms), met: l.p99Ms < 300 });
  }
  return list;
}

export function verdictTable(r: BenchResults): string {
  return targetsTable(r.concurrency, verdicts(r));
}

/** The doc's machine and command sections. */
export function machineAndCommand(m: Machine, command: string): string {
  return `## Machine

| | |
|---|---|
| CPUs (nproc) | ${m.cpus} |
| CPU model | ${m.cpuModel} |
| Memory | ${m.memory} |
| Node.js | ${m.node} |
| PostgreSQL | ${m.postgres} (shared_buffers ${m.sharedBuffers}, same machine, 127.0.0.1) |
| Redis | ${m.redis} (same machine, 127.0.0.1) |

## Command

\`\`\`sh
${command}
\`\`\``;
}

/** Names the runs during which other processes took noticeable CPU, or says there were none. */
export function otherWorkNote(runs: readonly (readonly [string, RunConditions])[]): string {
  const disturbed = runs.filter(([, c]) => c.cpu.other >= 0.1 || c.backgroundCores >= 0.25);
  return disturbed.length > 0
    ? `- **Other work on the machine** during ${disturbed.map(([name, c]) => `${name} (${cores(Math.max(c.cpu.other, c.backgroundCores))} cores)`).join(', ')}:`
      + ' other processes (for example test runs sharing this PostgreSQL and Redis) took CPU time from the benchmark, so these figures are pessimistic.'
    : '- No noticeable other work on the machine during the timed runs (under 0.1 core in every run).';
}

/** What one login leaves in Redis: the kinds a login writes, one key of each. */
function redisPerLogin(redis: readonly RedisKeySize[]): string {
  const sum = (prefix: string) => redis.filter((k) => k.kind.startsWith(prefix)).reduce((total, k) => total + k.avgBytes, 0);
  const access = sum('AccessToken');
  const code = sum('AuthorizationCode');
  return `- Per login in Redis: about ${bytes(access)} until the access token expires (the token and its per-grant id set) and`
    + ` ${bytes(code)} more until the authorization code expires (the code, its consumed marker and its per-grant id set);`
    + ' the Interaction itself is deleted when the login completes. A client-credentials token is one key.';
}

/** Opaque client-credentials tokens stay in Redis for their whole TTL, so memory grows with rate × TTL. */
function clientCredentialsNote(r: BenchResults): string {
  const key = r.storage.redis.find((k) => k.kind === 'ClientCredentials');
  if (!key) return '- No client-credentials token keys were found in Redis.';
  const atRate = (perSecond: number) => `${mib(perSecond * r.clientCredentialsTtlSeconds * key.avgBytes)} at ${int(perSecond)} tokens/s`;
  return `- Per client-credentials token in Redis: ${bytes(key.avgBytes)}, kept for its whole TTL (${r.clientCredentialsTtlSeconds} s) whether or not`
    + ` it is used again. Sustained issuance therefore holds rate × TTL keys: about ${atRate(5000)} (the target rate) and ${atRate(r.tokens.okPerSecond)}`
    + ' (the rate measured here).';
}

function storageTables(r: BenchResults): string {
  const pg = r.storage.postgres;
  const pgTable = table(['Model (PostgreSQL, oidc_payloads)', 'Live rows', 'payload (pg_column_size)', 'Heap tuple (pg_column_size(row))', 'Estimated per row incl. line pointer and index share'],
    pg.models.map((m) => [m.model, people(m.rows), bytes(m.payloadBytes), bytes(m.tupleBytes), bytes(m.estimatedBytes)]));
  const redisTable = table(['Key kind (Redis, bench prefix)', 'Keys', 'Sampled', 'Average MEMORY USAGE'],
    r.storage.redis.map((k) => [k.kind, people(k.keys), people(k.sampled), bytes(k.avgBytes)]));
  const session = pg.models.find((m) => m.model === 'Session');
  const grant = pg.models.find((m) => m.model === 'Grant');
  const refresh = pg.models.find((m) => m.model === 'RefreshToken');
  const lines = [
    `Durable in PostgreSQL (${r.durableModels.join(', ')}): an SSO session survives a Redis restart. Everything else oidc-provider stores`
      + ' (interactions, authorization codes, access and client-credentials tokens, consumed markers) and the rate-limit counters live in Redis with a TTL.',
    '',
    `- Per active session: about ${session ? bytes(session.estimatedBytes) : 'n/a'} in PostgreSQL`
      + (grant ? `, plus a Grant row of about ${bytes(grant.estimatedBytes)}` : '') + '.'
      + (grant && session && grant.rows >= session.rows
        ? ` There were ${people(grant.rows)} Grant rows for ${people(session.rows)} sessions: the grant is found through the session, so every login`
          + ' in a new browser writes a new Grant, which lives for the absolute session lifetime (Grant TTL) even after its session has idled out.'
        : ''),
    `- Per refresh token: about ${refresh ? bytes(refresh.estimatedBytes) : 'n/a (none issued)'} in PostgreSQL`
      + ` (from ${r.storage.refreshSampleLogins} extra logins with offline_access and prompt=consent; the timed logins ask for \`openid profile\` only).`,
    redisPerLogin(r.storage.redis),
    clientCredentialsNote(r),
    `- Index share: ${bytes(pg.indexBytesPerRow)} per row, pg_indexes_size('oidc_payloads') divided by all ${people(pg.totalRows)} rows of every model.`,
    '',
    pgTable,
    '',
    redisTable,
  ];
  return lines.join('\n');
}

function accountCountNote(r: BenchResults): string {
  if (r.logins.length < 2) return '- **Account count**: only the 1,000-account run was made (`--skip-million`).';
  const [first, last] = [r.logins[0], r.logins.at(-1)!];
  const change = (last.loginsPerSecond - first.loginsPerSecond) / first.loginsPerSecond;
  const sizes = `accounts table ${mib(first.tableBytes)} heap + ${mib(first.indexBytes)} indexes with ${people(first.accounts)} rows, `
    + `${mib(last.tableBytes)} + ${mib(last.indexBytes)} with ${people(last.accounts)}; shared_buffers ${r.machine.sharedBuffers}`;
  return `- **Account count**: ${one(first.loginsPerSecond)} logins/s with ${people(first.accounts)} accounts, ${one(last.loginsPerSecond)} with`
    + ` ${people(last.accounts)} (${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)}%; p50 ${ms(first.p50Ms)} versus ${ms(last.p50Ms)}). A login finds its`
    + ` account with one equality probe of a unique B-tree index on the HMAC column (${sizes}).`
    + (Math.abs(change) < 0.1
      ? ' A difference this small is within run-to-run variation on this machine: the table size is not what bounds a login.'
      : ' Check the CPU table for other work during either run before attributing the difference to the table size.');
}

const cpuPerLogin = (l: LoginSummary) => (l.cpu.machine * 1000) / l.loginsPerSecond;
const loopMsPerLogin = (l: LoginSummary) => (l.eventLoop * l.elapsedS * 1000) / l.completed;

function latencyNote(r: BenchResults, l: LoginSummary, argonPerSecond: number): string {
  const mean = (r.concurrency * 1000) / l.loginsPerSecond;
  const shape = l.p99Ms / mean;
  const head = `- **Login latency at concurrency ${r.concurrency} is mostly queueing**: the loops are closed (each starts its next login when the last`
    + ` one ends), so by Little's law the mean latency is ${r.concurrency} / throughput = ${ms(mean)} at ${one(l.loginsPerSecond)} logins/s,`
    + ` against ${ms(r.serialLogin.p50Ms)} for a login on its own.`;
  if (l.p99Ms < 300) return head;
  // Keeping this run's ratio of p99 to mean, how fast would logins have to be for p99 < 300 ms?
  const needed = (r.concurrency * 1000 * shape) / 300;
  const budget = (r.machine.cpus * 1000) / needed;
  return head + ` This run's p99 was ${shape.toFixed(2)} × its mean; with that shape, p99 < 300 ms needs about ${int(needed)} logins/s,`
    + ` that is at most ${ms(budget)} of CPU per login on ${r.machine.cpus} cores, against ${ms(cpuPerLogin(l))} measured. `
    + (budget <= r.argon2VerifyMs
      ? `That is less than one argon2id verification (${ms(r.argon2VerifyMs)}; at most ${int(argonPerSecond)}/s here): not reachable on this machine with these argon2 parameters, whatever the request path does.`
      : `argon2id alone takes ${ms(r.argon2VerifyMs)} of that, leaving ${ms(budget - r.argon2VerifyMs)} for the request path, PostgreSQL, Redis and the`
        + ` in-process load generator together, which took ${ms(cpuPerLogin(l) - r.argon2VerifyMs)} here. With OWASP argon2 parameters the practical`
        + ' levers are a leaner request path, more cores for the libuv pool (argon2 runs there, 4 threads by default) and a load generator on another machine.');
}

function boundsNotes(r: BenchResults): string {
  const argonPerSecond = (r.machine.cpus * 1000) / r.argon2VerifyMs;
  const ratio = r.bare.okPerSecond > 0 ? r.tokens.okPerSecond / r.bare.okPerSecond : NaN;
  const t = r.tokens.cpu;
  const first = r.logins[0];
  const runs: [string, RunConditions][] = [
    ['client credentials (this server)', r.tokens], ['client credentials (bare)', r.bare],
    ...r.logins.map((l): [string, RunConditions] => [`logins with ${people(l.accounts)} accounts`, l]), ['serial logins', r.serialLogin],
  ];
  const loopUsPerToken = (c: TokenSummary) => (c.eventLoop * c.durationS * 1e6) / c.ok;
  const notes = [
    `- **Everything shares ${r.machine.cpus} CPUs**: the server (one Node.js event loop on the main thread plus libuv threads, where argon2 runs),`
      + ' PostgreSQL, Redis and the load generator (autocannon, or the login loops, in worker threads of the same process). The CPU table shows'
      + ' which of them was the limit: an event loop busy close to 100% means the single JavaScript thread is the bound; a machine busy close'
      + ` to ${r.machine.cpus} cores means the CPUs are.`,
    otherWorkNote(runs),
    `- **Client credentials**: ${int(r.tokens.okPerSecond)} tokens/s is ${one(ratio * 100)}% of the bare`
      + ` provider's ${int(r.bare.okPerSecond)}. The server's event loop was busy ${percent(r.tokens.eventLoop)} of the run`
      + ` (bare: ${percent(r.bare.eventLoop)}), which is ${Math.round(loopUsPerToken(r.tokens))} µs of main-thread time per token against`
      + ` ${Math.round(loopUsPerToken(r.bare))} µs for the bare provider. The difference is what we add per token: fastify in front of`
      + ' oidc-provider\'s Koa app, the client lookup (cached 2 s in process, secret decrypted on a miss), one Redis SET of the opaque token'
      + ' (ioredis) instead of an in-memory map, and a share of a batched audit INSERT (`token.issued`, up to 500 rows per statement);'
      + ` PostgreSQL used ${cores(t.postgres)} cores and Redis ${cores(t.redis)} cores for it.`,
    `- **Password logins**: one argon2id verification (m = 19 MiB, t = 2, p = 1) took ${ms(r.argon2VerifyMs)} of one core here, so`
      + ` ${r.machine.cpus} cores could do at most about ${int(argonPerSecond)} verifications/s with nothing else running. A login on its own (1 loop)`
      + ` took ${ms(r.serialLogin.p50Ms)} (p50): 6 HTTP requests, an RS256 ID token, a Session and a Grant row in PostgreSQL, several Redis writes,`
      + ` ${ms(loopMsPerLogin(r.serialLogin))} of it on the server's event loop. At concurrency ${r.concurrency} the machine was busy`
      + ` ${cores(first.cpu.machine)} of ${r.machine.cpus} cores, so throughput is CPU-bound: ${ms(cpuPerLogin(first))} of CPU per login in total,`
      + ` about ${ms(r.argon2VerifyMs)} argon2id, ${ms(loopMsPerLogin(first))} on the server's event loop (including time stretched by sharing a core),`
      + ` ${ms((first.cpu.postgres * 1000) / first.loginsPerSecond)} PostgreSQL, ${ms((first.cpu.redis * 1000) / first.loginsPerSecond)} Redis and`
      + ` ${ms(first.clientBusyMs / first.completed)} for the load generator's own thread. These parts add up to more than the total because`
      + ' event-loop busy time is wall-clock time, which stretches while a thread waits for a core.',
    latencyNote(r, first, argonPerSecond),
    accountCountNote(r),
  ];
  return notes.join('\n');
}

export function renderMarkdown(r: BenchResults): string {
  const loginErrors = r.logins.filter((l) => l.errors > 0)
    .map((l) => `- ${people(l.accounts)} accounts: ${l.errors} failed logins, e.g. ${l.errorSamples.map((s) => `\`${s}\``).join('; ')}`);
  return `# Benchmarks

Produced by \`scripts/bench.ts\` (${r.date}); re-run it rather than editing the numbers. Figures are single runs on the machine below,
not averages of several runs.

${machineAndCommand(r.machine, r.command)}

## Results

${resultsTable(r)}

CPU used during each timed run, in cores (CPU-seconds per second, from /proc; "other" is the machine total minus this process, PostgreSQL and Redis):

${cpuTable(r)}
${r.millionSkipped ? '\nThe 1,000,000-account run was skipped (`--skip-million`).\n' : ''}
${loginErrors.length > 0 ? `Failed logins:\n\n${loginErrors.join('\n')}\n` : ''}
Seeding (scripts/seed-citizens.ts, one COPY FROM STDIN per step, appending to the rows already there):

${seedingTable(r)}

## Targets

${verdictTable(r)}

## What bounds each figure

${boundsNotes(r)}

## Storage per session and per refresh token

${storageTables(r)}

## Method

- One process: the server (\`createRuntime\` + \`buildApp\`, listening on 127.0.0.1), in a schema of its own created and dropped by the
  script, with its own Redis key prefix (deleted afterwards). Configuration: \`NODE_ENV=development\` (production refuses an http:// issuer),
  \`DEMO_DATA=false\`, \`LOG_LEVEL=silent\`, sandbox SMS gateway and population register (not on any measured path), and rate limits raised
  so that they do not distort the numbers: \`LOGIN_PER_IP_PER_MINUTE=1000000\` (all traffic comes from one IP), \`SMS_PER_IP_PER_HOUR=100000\`,
  \`SMS_GLOBAL_PER_MINUTE=1000000\`, \`SMS_DAILY_CAP_PER_PHONE=1000\`. The per-identifier lockout is unchanged; no login fails, so it never triggers.
- Client credentials: autocannon (programmatic, one worker thread), ${r.concurrency} keep-alive connections, each sending the next request when
  the previous answer arrives, for ${r.durationS} s after a warm-up run that is not counted. client_secret_basic, no scope. Throughput counts
  2xx responses only; latencies are autocannon's (2xx only, 1 ms resolution).
- The ceiling: \`new Provider(issuer, { clients: [one static client], features: { clientCredentials: { enabled: true } } })\` with its default
  in-memory adapter on \`http.createServer(provider.callback())\`, same process, same load.
- Password logins: ${r.concurrency} loops in a worker thread, each running complete logins back to back with \`fetch\` for ${r.durationS} s (after a
  warm-up), a fresh cookie jar per login and citizens disjoint between loops (loop w only uses citizen indexes ≡ w mod ${r.concurrency}), so
  no two concurrent logins share an account. A login = GET /auth (PKCE S256) → login page → POST identifier (ID number) and password →
  303s to the callback → POST /token (authorization_code) → GET /me. Latency is the whole sequence; logins/s is completed logins divided by
  the time until the last loop finished. The client has \`require_consent: false\`, so no consent page.
- Accounts are synthetic citizens from \`scripts/seed-citizens.ts\` (valid GB 11643 ID numbers and mobile numbers, encrypted and hashed
  exactly as the application writes them). They all share one argon2id hash of the same password: a million argon2 hashes would take
  hours and the look-up cost being measured does not depend on hash diversity; every login still performs a full argon2id verification.
- Before each timed run the script waits (at most 60 s) until the machine is quiet; a run during which other processes used
  0.15 cores or more is repeated, at most 3 attempts, and the least disturbed attempt is reported whatever its result.
- Storage: PostgreSQL sizes from \`pg_column_size\` over live \`oidc_payloads\` rows; Redis sizes from \`MEMORY USAGE … SAMPLES 0\`
  over up to 500 keys of each kind, after all runs (so the client-credentials tokens of the first run are still there until their TTL).
`;
}
