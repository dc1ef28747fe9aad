import t from 'tap';
import { createDatabase } from '../../src/db/database.ts';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.ts';
import { migrate } from '../../src/db/migrate.ts';

// Always the embedded PostgreSQL, whatever DATABASE_URL says: this is what `npm start` runs on a fresh machine.
t.test('embedded PostgreSQL: migrations, errors do not poison the connection, transactions roll back', async (t) => {
  const embedded = await startEmbeddedPostgres();
  t.teardown(() => embedded.stop());
  const db = createDatabase({ connectionString: embedded.connectionString, maxConnections: 1 });
  t.teardown(() => db.close());

  const applied = await migrate(db);
  t.ok(applied.length >= 4, `migrations applied: ${applied.join(', ')}`);
  t.same(await migrate(db), [], 'migrations are applied once');

  await db.query("INSERT INTO audit_events (occurred_at, event, result) VALUES (now(), 'logout', 'success')");
  // Several errors in a row (the socket server mishandles errors, see src/db/database.ts).
  for (const sql of ["UPDATE audit_events SET result = 'x'", 'DELETE FROM audit_events', 'SELECT 1/0', 'SELECT * FROM missing_table']) {
    await t.rejects(db.query(sql), `${sql} fails`);
  }
  t.same((await db.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'the database still answers after errors');

  await t.rejects(db.transaction(async (tx) => {
    await tx.query("INSERT INTO hot_entries (key, value, expires_at) VALUES ('k', 'v', now() + interval '1 minute')");
    await tx.query('SELECT 1/0');
  }), /division by zero/);
  t.same((await db.query("SELECT count(*)::int AS n FROM hot_entries WHERE key = 'k'")).rows, [{ n: 0 }], 'nothing half-written');
  await db.transaction(async (tx) => {
    await tx.query("INSERT INTO hot_entries (key, value, expires_at) VALUES ('k', 'v', now() + interval '1 minute')");
  });
  t.same((await db.query("SELECT count(*)::int AS n FROM hot_entries WHERE key = 'k'")).rows, [{ n: 1 }]);
});
