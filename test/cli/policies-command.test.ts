import t from 'tap';
import { createTestRuntime } from '../helpers/runtime.ts';
import { runPoliciesCommand } from '../../src/cli/policies-command.ts';

t.test('policies CLI: set, list, delete, with validation and audit of old and new value', async (t) => {
  const runtime = await createTestRuntime(t);
  await runtime.clients.create({ client_id: 'tax', redirect_uris: ['https://tax.example.gov.cn/cb'] });
  const levels = await runPoliciesCommand(runtime, ['levels'], 'ops') as { id: string }[];
  t.same(levels.map((l) => l.id), ['L1', 'L2', 'L3', 'L4']);
  await runPoliciesCommand(runtime, ['set', 'tax', 'L2'], 'ops');
  await runPoliciesCommand(runtime, ['set', 'tax', 'L3', '--scope', 'id_number', '--max-age', '900'], 'ops');
  t.same((await runPoliciesCommand(runtime, ['list'], 'ops') as { scope: string; minLevel: string; maxAuthAgeSeconds: number | null }[])
    .map((p) => [p.scope, p.minLevel, p.maxAuthAgeSeconds]), [['*', 'L2', null], ['id_number', 'L3', 900]]);
  t.same((await runtime.policies.requirementFor('tax', ['openid'])).level?.id, 'L2');
  t.same((await runtime.policies.requirementFor('tax', ['openid', 'id_number'])).level?.id, 'L3', 'a scope policy raises the level when that scope is asked');
  t.same((await runtime.policies.requirementFor('tax', ['openid', 'id_number'])).maxAge, 900);

  await t.rejects(runPoliciesCommand(runtime, ['set', 'tax', 'L7'], 'ops'), { code: 'invalid_input', message: /Unknown level "L7"/ });
  await t.rejects(runPoliciesCommand(runtime, ['set', 'tax', 'L2', '--max-age', 'soon'], 'ops'), { code: 'invalid_input' });
  await t.rejects(runPoliciesCommand(runtime, ['set', 'nobody', 'L2'], 'ops'), { code: 'not_found' });
  await t.rejects(runPoliciesCommand(runtime, ['delete', 'tax', '--scope', 'phone'], 'ops'), { code: 'not_found' });
  await runPoliciesCommand(runtime, ['set', 'tax', 'L1'], 'ops');
  await runPoliciesCommand(runtime, ['delete', 'tax', '--scope', 'id_number'], 'ops');

  const events = await runtime.audit.list({ event: 'admin.policy.updated' });
  t.equal(events.length, 3);
  t.same(events[0].detail, { scope: '*', before: { minLevel: 'L2', maxAuthAgeSeconds: null }, after: { minLevel: 'L1', maxAuthAgeSeconds: null } });
  t.equal(events[0].actor, 'cli:ops');
  t.same((await runtime.audit.list({ event: 'admin.policy.deleted' }))[0].detail?.before, { minLevel: 'L3', maxAuthAgeSeconds: 900 });
});
