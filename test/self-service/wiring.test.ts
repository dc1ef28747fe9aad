import t from 'tap';
import { startTestServer } from '../helpers/app.ts';
import { buildCitizen, buildPhone } from '../helpers/builders.ts';
import { authorizeUrl, registerPortal, RP_CALLBACK } from '../helpers/oidc.ts';
import { createUserAgent, formOf } from '../helpers/user-agent.ts';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

t.test('as wired in the application: signing in cancels a deregistration; staff record a new phone (in-person path)', async (t) => {
  const { runtime, issuer } = await startTestServer(t);
  await registerPortal(runtime, { require_consent: false });
  const citizen = await buildCitizen(runtime);

  // In the cooling-off period (set as the deregistration request leaves it).
  await runtime.db.query("UPDATE accounts SET status = 'closing', closes_at = now() + interval '15 days' WHERE id = $1", [citizen.account.id]);
  const ua = createUserAgent(issuer);
  const page = await ua.get(authorizeUrl(issuer));
  const form = formOf(page.html, '/login');
  t.match(page.html, /href="\/account\/reset"/, 'the login page links to the password reset');
  const back = await ua.post(form.action, { csrf: form.csrf, identifier: citizen.idNumber, password: citizen.password });
  t.ok(back.redirectedTo?.startsWith(RP_CALLBACK), 'a closing account may still sign in');
  t.equal((await runtime.accounts.findById(citizen.account.id))!.status, 'active', 'and that cancels the deregistration');
  t.equal((await runtime.audit.list({ event: 'account.deregistration_cancelled', accountId: citizen.account.id })).length, 1);

  // After the cooling-off period the account can no longer sign in.
  await runtime.db.query("UPDATE accounts SET status = 'closing', closes_at = now() - interval '1 minute' WHERE id = $1", [citizen.account.id]);
  const late = createUserAgent(issuer);
  const latePage = await late.get(authorizeUrl(issuer));
  const lateForm = formOf(latePage.html, '/login');
  t.equal((await late.post(lateForm.action, { csrf: lateForm.csrf, identifier: citizen.idNumber, password: citizen.password })).response.status, 403);
  await runtime.db.query("UPDATE accounts SET status = 'active', closes_at = NULL WHERE id = $1", [citizen.account.id]);

  // Staff record a new phone through the admin API after an in-person check.
  const ops = await runtime.clients.create({ client_id: 'hall-staff', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'admin:accounts' });
  const token = (await (await fetch(`${issuer}/token`, {
    method: 'POST', headers: { authorization: basic('hall-staff', ops.client_secret!), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=admin%3Aaccounts',
  })).json()).access_token;
  const newPhone = buildPhone();
  const change = (body: unknown) => fetch(`${issuer}/admin/accounts/${citizen.account.id}/phone`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  t.equal((await change({ phone: newPhone })).status, 400, 'a reason is required');
  t.equal((await change({ phone: '+1 415 555 2671', reason: '本人持身份证到大厅办理' })).status, 400, 'only mainland mobiles');
  t.equal((await change({ phone: newPhone, reason: '本人持身份证到大厅办理' })).status, 200);
  t.equal((await runtime.accounts.findById(citizen.account.id))!.phone, newPhone);
  t.ok((await runtime.audit.list({ accountId: citizen.account.id, limit: 100 })).some((e) => e.event === 'admin.account.phone_changed' || e.event === 'account.phone_changed'), 'audited');
});
