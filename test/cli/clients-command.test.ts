import t from 'tap';
import { createTestRuntime } from '../helpers/runtime.ts';
import { runClientsCommand } from '../../src/cli/clients-command.ts';

t.test('clients CLI: create, list, update, delete, with validation and audit', async (t) => {
  const runtime = await createTestRuntime(t);
  const metadata = { client_id: 'hall-kiosk', client_name: '政务大厅自助机', redirect_uris: ['https://kiosk.example.gov.cn/cb'] };
  const created = await runClientsCommand(runtime, ['create', '--json', JSON.stringify(metadata)], 'alice') as { client_secret: string };
  t.match(created.client_secret, /^[A-Za-z0-9_-]{43}$/);
  const list = await runClientsCommand(runtime, ['list'], 'alice') as { client_id: string }[];
  t.same(list.map((c) => c.client_id), ['hall-kiosk']);
  t.notOk(JSON.stringify(list).includes(created.client_secret));

  await t.rejects(runClientsCommand(runtime, ['create', '--json', '{not json'], 'alice'), { code: 'invalid_input' });
  await t.rejects(runClientsCommand(runtime, ['create', '--json', JSON.stringify({ client_id: 'x1x', redirect_uris: ['ftp://x'] })], 'alice'), { code: 'invalid_client_metadata' });
  await t.rejects(runClientsCommand(runtime, ['frobnicate'], 'alice'), { code: 'invalid_input' });
  await t.rejects(runClientsCommand(runtime, ['delete', 'nobody'], 'alice'), { code: 'not_found' });

  await runClientsCommand(runtime, ['update', 'hall-kiosk', '--json', JSON.stringify({ ...metadata, client_name: '自助机' })], 'alice');
  t.equal((await runtime.clients.get('hall-kiosk')).client_name, '自助机');
  await runClientsCommand(runtime, ['delete', 'hall-kiosk'], 'alice');
  t.same(await runClientsCommand(runtime, ['list'], 'alice'), []);

  const events = (await runtime.audit.list()).map((e) => `${e.event}:${e.actor}`);
  t.same(events.filter((e) => e.startsWith('admin.client')).sort(), ['admin.client.created:cli:alice', 'admin.client.deleted:cli:alice', 'admin.client.updated:cli:alice']);
});
