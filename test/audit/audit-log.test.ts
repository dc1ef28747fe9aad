import t from 'tap';
import { createTestRuntime } from '../helpers/runtime.ts';

t.test('audit trail: batched writes, append-only at the database', async (t) => {
  const runtime = await createTestRuntime(t);
  await Promise.all(Array.from({ length: 120 }, (_, i) => runtime.audit.record({
    event: 'token.issued', result: 'success', clientId: `c${i}`, ip: '127.0.0.1', detail: { i },
  })));
  t.equal((await runtime.audit.list({ event: 'token.issued', limit: 1000 })).length, 120, 'every record committed before record() resolved');
  await t.rejects(runtime.db.query("UPDATE audit_events SET result = 'failure'"), /append-only/, 'UPDATE refused');
  await t.rejects(runtime.db.query('DELETE FROM audit_events'), /append-only/, 'DELETE refused');
  await t.rejects(runtime.db.query('TRUNCATE audit_events'), /append-only/, 'TRUNCATE refused');
  t.equal((await runtime.audit.list({ limit: 1000 })).length, 120);
  await t.rejects(runtime.audit.record({ event: 'token.issued', result: 'maybe' as 'success' }), 'a record the table refuses rejects its caller');
});
