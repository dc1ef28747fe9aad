import t from 'tap';
import * as client from 'openid-client';
import { startTestServer } from '../helpers/app.ts';
import { buildCitizen } from '../helpers/builders.ts';
import { latestCode, RP_CALLBACK } from '../helpers/oidc.ts';
import { createUserAgent, formOf } from '../helpers/user-agent.ts';

t.test('the admin API accepts a person\'s token by role, only at the console level', async (t) => {
  const { runtime, issuer } = await startTestServer(t, { env: { ADMIN_CONSOLE_LEVEL: 'L2', SMS_COOLDOWN_SECONDS: '1' } });
  const tool = await runtime.clients.create({ client_id: 'ops-tool', redirect_uris: [RP_CALLBACK], grant_types: ['authorization_code'], require_consent: false });
  await runtime.clients.create({ client_id: 'tax', redirect_uris: ['https://tax.example.gov.cn/cb'] });
  const config = await client.discovery(new URL(issuer), 'ops-tool', tool.client_secret!, client.ClientSecretBasic(tool.client_secret!), { execute: [client.allowInsecureRequests] });

  async function tokenFor(citizen: { idNumber: string; password: string; phone: string }, acr?: string) {
    const verifier = client.randomPKCECodeVerifier();
    const ua = createUserAgent(issuer);
    const page = await ua.get(client.buildAuthorizationUrl(config, {
      redirect_uri: RP_CALLBACK, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's',
      ...(acr ? { acr_values: acr } : {}),
    }).toString());
    const form = formOf(page.html, '/login');
    let back = await ua.post(form.action, { csrf: form.csrf, identifier: citizen.idNumber, password: citizen.password });
    if (!back.redirectedTo) {
      const send = formOf(back.html, '/step-up/sms/send');
      const sent = await ua.post(send.action, { csrf: send.csrf });
      const verify = formOf(sent.html, '/step-up/sms/verify');
      back = await ua.post(verify.action, { csrf: verify.csrf, code: latestCode(runtime, citizen.phone) });
    }
    return (await client.authorizationCodeGrant(config, new URL(back.redirectedTo!), { pkceCodeVerifier: verifier, expectedState: 's' })).access_token;
  }
  const put = (token: string) => fetch(`${issuer}/admin/policies/tax`, {
    method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ min_level: 'L2' }),
  });

  const admin = await buildCitizen(runtime);
  await runtime.db.query("UPDATE accounts SET roles = '{policy_admin}' WHERE id = $1", [admin.account.id]);
  const atL1 = await put(await tokenFor(admin));
  t.equal(atL1.status, 401, 'an L1 login cannot act as admin');
  t.equal((await atL1.json()).code, 'insufficient_user_authentication');
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const atL2 = await put(await tokenFor(admin, `${issuer}/acr/L2`));
  t.equal(atL2.status, 200, 'a policy admin at L2 changes the policy');
  t.equal((await atL2.json()).after.updatedBy, `account:${admin.account.idNumberMasked}`);

  const auditor = await buildCitizen(runtime);
  await runtime.db.query("UPDATE accounts SET roles = '{auditor}' WHERE id = $1", [auditor.account.id]);
  const auditorToken = await tokenFor(auditor, `${issuer}/acr/L2`);
  t.equal((await put(auditorToken)).status, 403, 'the auditor cannot change policies');
  t.equal((await fetch(`${issuer}/admin/audit`, { headers: { authorization: `Bearer ${auditorToken}` } })).status, 200, 'but reads the audit trail');

  const citizen = await buildCitizen(runtime);
  t.equal((await put(await tokenFor(citizen, `${issuer}/acr/L2`))).status, 403, 'an account without an admin role gets nothing');
});
