import t from 'tap';
import { createTestRuntime } from '../helpers/runtime.ts';
import { DEMO_CITIZENS, DEMO_PASSWORD, seedDemoData } from '../../src/bootstrap/demo-data.ts';

t.test('demo data: idempotent, follows the issuer, demo citizens can sign in', async (t) => {
  const runtime = await createTestRuntime(t, { env: { DEMO_DATA: 'true' } });
  await seedDemoData(runtime);
  // As if the previous start ran on another port: the demo client's URIs point elsewhere.
  await runtime.clients.update('demo-portal', { redirect_uris: ['http://localhost:9999/demo/callback'], grant_types: ['authorization_code'] });
  await seedDemoData(runtime);
  const portal = await runtime.clients.find('demo-portal') as { redirect_uris: string[]; client_secret: string; backchannel_logout_uri: string };
  t.same(portal.redirect_uris, ['http://localhost:3000/demo/callback'], 'URIs follow the current issuer');
  t.equal(portal.client_secret, 'demo-portal-secret', 'the documented secret is kept');
  t.equal(await runtime.accounts.count(), DEMO_CITIZENS.length, 'citizens are not duplicated');
  const zhang = await runtime.password.verify({ identifier: DEMO_CITIZENS[0].idNumber, password: DEMO_PASSWORD }, { ip: '127.0.0.1', interactionId: 'x' });
  t.same((await runtime.accounts.findById(zhang.accountId))!.roles, ['policy_admin', 'client_admin']);
});
