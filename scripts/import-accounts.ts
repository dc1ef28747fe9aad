// Imports accounts exported by a legacy system (CSV or JSON lines); see the README, "Importing legacy accounts".
//
//   npm run import-accounts -- --source NAME FILE [--format csv|jsonl] [--rejects PATH] [--batch-size N] [--max-batches N]
//
// Uses DATABASE_URL (or the embedded database in DATA_DIR: stop the server first, PGlite serves one process) and
// the configured data-protection keys, exactly as the server would.
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { createAuditLog } from '../src/audit/audit-log.ts';
import { loadConfig } from '../src/config/load-config.ts';
import { createDatabase } from '../src/db/database.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { migrate } from '../src/db/migrate.ts';
import { createDataProtector } from '../src/identity/data-protection.ts';
import { formatImportSummary, IMPORT_USAGE, parseImportArgs } from '../src/accounts/legacy/import-command.ts';
import { ImportFileError } from '../src/accounts/legacy/import-file.ts';
import { importLegacyAccounts } from '../src/accounts/legacy/importer.ts';

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.length === 0 || argv.includes('--help')) {
    console.log(IMPORT_USAGE);
    return 0;
  }
  const options = parseImportArgs(argv);
  const config = loadConfig(process.env);
  let embedded: EmbeddedPostgres | undefined;
  if (!config.databaseUrl) embedded = await startEmbeddedPostgres({ dataDir: join(config.dataDir, 'pglite') });
  const db = createDatabase({ connectionString: config.databaseUrl ?? embedded!.connectionString, maxConnections: embedded ? 1 : 2 });
  const audit = createAuditLog({ db, clock: () => new Date() });
  try {
    await migrate(db);
    const protector = createDataProtector({ encryptionKeys: config.encryptionKeys, lookupKey: config.lookupKey });
    let lastReport = performance.now();
    const summary = await importLegacyAccounts({ db, protector, audit }, {
      ...options, operator: userInfo().username,
      onBatch: ({ counts, lineNumber }) => {
        if (performance.now() - lastReport < 5_000) return;
        lastReport = performance.now();
        process.stderr.write(`  line ${lineNumber.toLocaleString('en-US')}: ${counts.rows.toLocaleString('en-US')} rows, `
          + `${counts.created.toLocaleString('en-US')} created, ${counts.rejected.toLocaleString('en-US')} rejected\n`);
      },
    });
    console.log(formatImportSummary(summary));
    return 0;
  } finally {
    await audit.flush();
    await db.close();
    await embedded?.stop();
  }
}

main().then((code) => { process.exitCode = code; }, (error) => {
  const code = (error as { code?: string }).code;
  if (error instanceof ImportFileError) console.error(error.message);
  else if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') console.error(`cannot read ${(error as { path?: string }).path}: ${code}`);
  else console.error(error instanceof Error ? error.stack ?? error.message : error);
  process.exitCode = 1;
});
