// Rotates the token signing keys: new RS256 and ES256 keys sign from each node's next start; the old ones
// stay in the JWKS for the grace period (default: the longest ID/access token lifetime + 10 minutes).
import { loadConfig } from '../src/config/load-config.ts';
import { createAuditLog } from '../src/audit/audit-log.ts';
import { createDatabase } from '../src/db/database.ts';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.ts';
import { migrate } from '../src/db/migrate.ts';
import { createDataProtector } from '../src/identity/data-protection.ts';
import { createSigningKeyStore } from '../src/oidc/signing-keys.ts';
import { join } from 'node:path';

const config = loadConfig(process.env);
const graceArg = process.argv.indexOf('--grace-seconds');
const graceSeconds = graceArg > 0 ? Number(process.argv[graceArg + 1])
  : Math.max(config.tokens.idTokenSeconds, config.tokens.accessTokenSeconds, config.tokens.clientCredentialsSeconds) + 600;
if (!Number.isInteger(graceSeconds) || graceSeconds < 0) {
  console.error('--grace-seconds must be a non-negative integer');
  process.exit(1);
}

const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres({ dataDir: join(config.dataDir, 'pglite') });
const db = createDatabase({ connectionString: config.databaseUrl ?? embedded!.connectionString, maxConnections: 1 });
try {
  await migrate(db);
  const store = createSigningKeyStore({
    db,
    protector: createDataProtector({ encryptionKeys: config.encryptionKeys, lookupKey: config.lookupKey }),
    origin: config.usesDevelopmentSecrets.includes('DATA_ENCRYPTION_KEYS') ? 'development' : 'production',
  });
  const { retired, created } = await store.rotate(graceSeconds);
  await createAuditLog({ db, clock: () => new Date() }).record({ event: 'keys.rotated', result: 'success', actor: 'cli', detail: { retired, created, graceSeconds } });
  console.log(`Rotated signing keys. New: ${created.join(', ')}. Retired (published for ${graceSeconds} s more): ${retired.join(', ') || 'none'}.`);
  console.log('Restart every node (rolling) so they sign with the new keys.');
} finally {
  await db.close();
  await embedded?.stop();
}
