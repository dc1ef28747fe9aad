// Rotates the trust list's signing key (the key peers pin), in two announced steps:
//   npm run trust-list-keys -- list
//   npm run trust-list-keys -- next                          (new key published in /trust/jwks, not signing yet)
//   npm run trust-list-keys -- activate [--grace-seconds N]  (it signs; the old key stays published N s more)
// Between the two steps every peer platform adds the next key to its pin. No restart: nodes read the active key per list.
import { join } from 'node:path';
import { createAuditLog } from '../src/audit/audit-log.ts';
import { loadConfig } from '../src/config/load-config.ts';
import { createDatabase } from '../src/db/database.ts';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { migrate } from '../src/db/migrate.ts';
import { AppError } from '../src/http/errors.ts';
import { createDataProtector } from '../src/identity/data-protection.ts';
import { createListSigningKeys, DEFAULT_RETIRE_GRACE_SECONDS, type ListKeyInfo } from '../src/trust/list-signing-keys.ts';

const USAGE = 'usage: npm run trust-list-keys -- list | next | activate [--grace-seconds N]';
const [command, ...rest] = process.argv.slice(2);
if (!['list', 'next', 'activate'].includes(command ?? '')) {
  console.error(USAGE);
  process.exit(1);
}
let graceSeconds: number | undefined;
if (rest.length > 0) {
  if (command !== 'activate' || rest[0] !== '--grace-seconds' || rest.length !== 2 || !/^\d+$/.test(rest[1])) {
    console.error(USAGE);
    process.exit(1);
  }
  graceSeconds = Number(rest[1]);
}

const config = loadConfig(process.env);
const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres({ dataDir: join(config.dataDir, 'pglite') });
const db = createDatabase({ connectionString: config.databaseUrl ?? embedded!.connectionString, maxConnections: 1 });
const line = (k: ListKeyInfo) => [
  k.state.padEnd(7), k.kid, `created ${k.createdAt.toISOString()}`,
  k.activatedAt ? `activated ${k.activatedAt.toISOString()}` : '',
  k.retiredAt ? `retired ${k.retiredAt.toISOString()}` : '',
  k.state === 'retired' ? (k.published ? `published until ${k.publishUntil!.toISOString()}` : 'no longer published') : 'published',
].filter(Boolean).join('  ');

try {
  await migrate(db);
  const keys = createListSigningKeys({
    db,
    protector: createDataProtector({ encryptionKeys: config.encryptionKeys, lookupKey: config.lookupKey }),
    audit: createAuditLog({ db, clock: () => new Date() }),
  });
  const actor = { name: 'cli' };
  if (command === 'list') {
    for (const key of await keys.list()) console.log(line(key));
  } else if (command === 'next') {
    const next = await keys.prepareNext(actor);
    console.log(`Prepared next key ${next.kid}; it is published in /trust/jwks but does not sign yet.`);
    console.log('Have every peer platform pin it (add it to their JWKS for this platform), then run: npm run trust-list-keys -- activate');
  } else {
    const { activated, retired, sequenceNumber } = await keys.activateNext({ retireGraceSeconds: graceSeconds }, actor);
    console.log(`Key ${activated.kid} signs the list from now on (sequence number ${sequenceNumber}); every node uses it on its next request.`);
    console.log(retired
      ? `Retired ${retired.kid}; published until ${retired.publishUntil!.toISOString()} (${graceSeconds ?? DEFAULT_RETIRE_GRACE_SECONDS} s).`
      : 'No key was active before.');
  }
} catch (error) {
  if (!(error instanceof AppError)) throw error;
  console.error(`${error.code}: ${error.message}`);
  process.exitCode = 1;
} finally {
  await db.close();
  await embedded?.stop();
}
