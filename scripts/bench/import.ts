// Bulk import of legacy accounts (src/accounts/legacy/importer.ts): a generated CSV of synthetic citizens into an
// empty accounts table of its own schema, timed end to end (file hash, parsing, validation, encryption, batches).
import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import bcrypt from 'bcryptjs';
import pg from 'pg';
import { DEFAULT_BATCH_SIZE, importLegacyAccounts } from '../../src/accounts/legacy/importer.ts';
import type { ImportCounts } from '../../src/accounts/legacy/repository.ts';
import { createAuditLog } from '../../src/audit/audit-log.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { createDatabase } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createDataProtector } from '../../src/identity/data-protection.ts';
import { syntheticCitizen } from '../seed-citizens.ts';
import { cpuBreakdown, cpuSnapshot, waitForQuiet, type CpuBreakdown } from './cpu.ts';

// Disjoint from the citizens the login benchmark seeds (indexes from 0).
const FIRST_INDEX = 5_000_000;
export const IMPORT_PASSWORD = 'Legacy-Bench-2019';

export type ImportBenchResult = {
  date: string;
  command: string;
  rows: number;
  fileBytes: number;
  generateSeconds: number;
  seconds: number;
  rowsPerSecond: number;
  batchSize: number;
  batches: number;
  counts: ImportCounts;
  cpu: CpuBreakdown;
  eventLoop: number;
  backgroundCores: number;
  tableBytes: number;
  indexBytes: number;
  postgres: string;
};

/**
 * `rows` lines of CSV, algorithms in rotation. bcrypt and PBKDF2 strings are computed once and repeated (the
 * import only parses them; their cost is paid at each person's first login); salted digests are per row.
 * One row in a thousand carries a wrong check digit, so the rejects path runs too.
 */
export async function generateImportCsv(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  const bcryptHash = bcrypt.hashSync(IMPORT_PASSWORD, 10);
  const pbkdf2Hash = `pbkdf2_sha256$600000$BenchSalt1$${pbkdf2Sync(IMPORT_PASSWORD, 'BenchSalt1', 600_000, 32, 'sha256').toString('base64')}`;
  const password = Buffer.from(IMPORT_PASSWORD, 'utf8');
  const salted = (digest: string) => {
    const salt = randomBytes(8);
    return `${salt.toString('hex')}$${createHash(digest).update(salt).update(password).digest('hex')}`;
  };
  let chunk = 'id_number,name,phone,password_hash,hash_algorithm,legacy_user_id\n';
  for (let i = 0; i < rows; i++) {
    const c = syntheticCitizen(FIRST_INDEX + i);
    const id = i % 1000 === 999 ? c.idNumber.slice(0, 17) + (c.idNumber[17] === '1' ? '2' : '1') : c.idNumber;
    let hash: string;
    let algorithm: string;
    switch (i % 5) {
      case 0: [hash, algorithm] = [bcryptHash, 'bcrypt']; break;
      case 1: [hash, algorithm] = [pbkdf2Hash, 'pbkdf2-sha256']; break;
      case 2: [hash, algorithm] = [salted('sha256'), 'sha256-salted']; break;
      case 3: [hash, algorithm] = [salted('sm3'), 'sm3-salted']; break;
      default: [hash, algorithm] = [createHash('md5').update(password).digest('hex'), 'md5'];
    }
    chunk += `${id},${c.name},${c.phone.slice(3)},${hash},${algorithm},u${i}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

/** Generates the file, imports it into a schema of its own (dropped afterwards) and measures. */
export async function benchImport(options: {
  databaseUrl: string; rows: number; command: string; progress: (line: string) => void;
}): Promise<ImportBenchResult> {
  const { progress } = options;
  const dir = mkdtempSync(join(tmpdir(), 'bench-import-'));
  const schema = `bench_import_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: options.databaseUrl });
  await admin.connect();
  const db = createDatabase({ connectionString: options.databaseUrl, maxConnections: 2, schema });
  try {
    const file = join(dir, 'legacy.csv');
    progress(`import: generating ${options.rows.toLocaleString('en-US')} CSV rows`);
    const generateStarted = performance.now();
    await generateImportCsv(file, options.rows);
    const generateSeconds = (performance.now() - generateStarted) / 1000;
    const fileBytes = statSync(file).size;
    progress(`  ${(fileBytes / 1024 / 1024).toFixed(1)} MiB in ${generateSeconds.toFixed(1)} s`);

    await admin.query(`CREATE SCHEMA ${schema}`);
    await migrate(db);
    // The configuration the CLI would load, with the development keys: the cost of AES-GCM and HMAC does not depend on them.
    const config = loadConfig({ NODE_ENV: 'development', DATABASE_URL: options.databaseUrl });
    const protector = createDataProtector({ encryptionKeys: config.encryptionKeys, lookupKey: config.lookupKey });
    const audit = createAuditLog({ db, clock: () => new Date() });

    const backgroundCores = await waitForQuiet({ onWait: (busy) => progress(`  waiting for the machine to settle (${busy.toFixed(2)} cores busy elsewhere)`) });
    progress('import: running');
    const before = cpuSnapshot();
    const loopBefore = performance.eventLoopUtilization();
    const started = performance.now();
    let lastReport = started;
    const summary = await importLegacyAccounts({ db, protector, audit }, {
      file, source: 'bench-legacy', operator: 'bench',
      onBatch: ({ counts }) => {
        const now = performance.now();
        if (now - lastReport < 10_000) return;
        lastReport = now;
        const rate = counts.rows / ((now - started) / 1000);
        progress(`  ${counts.rows.toLocaleString('en-US')} rows, ${Math.round(rate)} rows/s, about ${Math.round((options.rows - counts.rows) / rate)} s to go`);
      },
    });
    const seconds = (performance.now() - started) / 1000;
    const eventLoop = performance.eventLoopUtilization(loopBefore).utilization;
    const cpu = cpuBreakdown(before, cpuSnapshot());
    await audit.flush();
    if (summary.status !== 'completed' || summary.counts.rows !== options.rows) throw new Error(`import ended ${summary.status} after ${summary.counts.rows} rows`);
    const sizes = (await db.query<{ heap: string; indexes: string }>(
      "SELECT pg_relation_size('accounts')::text AS heap, pg_indexes_size('accounts')::text AS indexes")).rows[0];
    const postgres = (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0].v.split(' ')[0];
    return {
      date: new Date().toISOString(), command: options.command, rows: options.rows, fileBytes, generateSeconds, seconds,
      rowsPerSecond: options.rows / seconds, batchSize: DEFAULT_BATCH_SIZE, batches: summary.batches, counts: summary.counts,
      cpu, eventLoop, backgroundCores, tableBytes: Number(sizes.heap), indexBytes: Number(sizes.indexes), postgres,
    };
  } finally {
    await db.close().catch(() => {});
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch((error) => progress(`could not drop ${schema}: ${error.message}`));
    await admin.end().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

const n = (v: number) => Math.round(v).toLocaleString('en-US');
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export function renderImportSection(r: ImportBenchResult): string {
  const c = r.counts;
  return `## Account import

Produced by \`scripts/bench/import.ts\` (${r.date}, \`${r.command}\`), a single run on the machine above. The import CLI's
code path (\`importLegacyAccounts\`) on a generated CSV of synthetic citizens into an empty accounts table (a schema of its
own, PostgreSQL ${r.postgres} on 127.0.0.1), batches of ${n(r.batchSize)} rows, one transaction each.

| Rows | File | Import time | Rows/s | Created | Rejected | Batches | accounts heap + indexes after |
|---|---|---|---|---|---|---|---|
| ${n(r.rows)} | ${mib(r.fileBytes)} | ${r.seconds.toFixed(1)} s (${(r.seconds / 60).toFixed(1)} min) | ${n(r.rowsPerSecond)} | ${n(c.created)} | ${n(c.rejected)} | ${n(r.batches)} | ${mib(r.tableBytes)} + ${mib(r.indexBytes)} |

CPU during the import, in cores: machine ${r.cpu.machine.toFixed(2)} of 2, this process ${r.cpu.self.toFixed(2)} (event loop busy
${Math.round(r.eventLoop * 100)}%), PostgreSQL ${r.cpu.postgres.toFixed(2)}, other processes ${r.cpu.other.toFixed(2)} (${r.backgroundCores.toFixed(2)} in the second before).

- The time covers everything the CLI does after start-up: the file's SHA-256, streaming and parsing, ID-number and phone
  validation, the legacy-hash parse check, three HMAC look-up hashes and up to three AES-256-GCM encryptions per row,
  and per batch the look-ups (existing accounts, legacy user ids, phones), the INSERTs through \`unnest\`, the
  \`account_sources\` rows, one \`account.imported\` audit row and the progress row. Generating the file
  (${r.generateSeconds.toFixed(1)} s) is not counted.
- Rows rotate through bcrypt, PBKDF2-SHA256, salted SHA-256, salted SM3 and MD5; one in a thousand has a wrong check
  digit and goes to the rejects file. Legacy hashes are only parsed at import; they are verified (and replaced by
  argon2id) at each person's first login, so their cost does not show here.
- Batches commit one after the other; the next batch is validated, hashed and encrypted (in slices, yielding to the
  event loop) while the current one's statements run. The importer's single JavaScript thread is the bound when its
  event loop is busy close to 100% (${Math.round(r.eventLoop * 100)}% here); PostgreSQL used ${r.cpu.postgres.toFixed(2)} cores.${r.cpu.other >= 0.15 ? `
- **Other work on the machine**: other processes (for example test runs sharing this PostgreSQL) used ${r.cpu.other.toFixed(2)} cores
  during the import, so this figure is pessimistic.` : ''}
`;
}

/** Puts the section in docs/benchmarks.md, replacing an earlier one, before "## Method"; other sections untouched. */
export function writeImportSection(doc: URL, section: string): void {
  const text = readFileSync(doc, 'utf8');
  const start = text.indexOf('\n## Account import\n');
  let rest: string;
  let head: string;
  if (start !== -1) {
    const next = text.indexOf('\n## ', start + 1);
    head = text.slice(0, start + 1);
    rest = next === -1 ? '' : text.slice(next + 1);
  } else {
    const method = text.indexOf('\n## Method\n');
    head = method === -1 ? `${text.trimEnd()}\n\n` : text.slice(0, method + 1);
    rest = method === -1 ? '' : text.slice(method + 1);
  }
  writeFileSync(doc, `${head}${section}${rest ? `\n${rest}` : ''}`);
}
