import t from 'tap';
import { createTestRuntime } from '../helpers/runtime.ts';
import { buildCitizen } from '../helpers/builders.ts';
import { runAccountsCommand } from '../../src/cli/accounts-command.ts';

t.test('accounts CLI: search, roles, freeze, with reasons and audit', async (t) => {
  const runtime = await createTestRuntime(t);
  const citizen = await buildCitizen(runtime);
  const found = await runAccountsCommand(runtime, ['search', '--id-number', citizen.idNumber], 'ops') as { id: string }[];
  t.same(found.map((a) => a.id), [citizen.account.id]);
  await t.rejects(runAccountsCommand(runtime, ['grant-role', citizen.account.id, 'policy_admin'], 'ops'), { code: 'invalid_input' }, 'a reason is required');
  await t.rejects(runAccountsCommand(runtime, ['grant-role', citizen.account.id, 'emperor', '--reason', '任命'], 'ops'), { code: 'invalid_input' });
  t.same(await runAccountsCommand(runtime, ['grant-role', citizen.account.id, 'policy_admin', '--reason', '任命文件 2026-17'], 'ops'), { roles: ['policy_admin'] });
  t.same(await runAccountsCommand(runtime, ['revoke-role', citizen.account.id, 'policy_admin', '--reason', '岗位调整'], 'ops'), { roles: [] });
  t.same(await runAccountsCommand(runtime, ['freeze', citizen.account.id, '--reason', '司法协查'], 'ops'), { before: 'active', after: 'frozen' });
  await t.rejects(runAccountsCommand(runtime, ['freeze', '00000000-0000-0000-0000-000000000000', '--reason', 'x y'], 'ops'), { code: 'not_found' });
  await t.rejects(runAccountsCommand(runtime, ['reset-proofing', citizen.account.id, '--to', 'in_person', '--reason', 'x y'], 'ops'), { code: 'invalid_input' });
  const roles = await runtime.audit.list({ event: 'admin.account.roles_changed' });
  t.same(roles.map((e) => [e.actor, e.detail?.reason]), [['cli:ops', '岗位调整'], ['cli:ops', '任命文件 2026-17']]);
});
