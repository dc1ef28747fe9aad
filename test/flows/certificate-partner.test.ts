import t from 'tap';
import { startTestServer } from '../helpers/app.ts';
import { buildUnregisteredIdNumber } from '../helpers/builders.ts';
import { registerCa, signAndPost } from '../helpers/certificates.ts';
import { authorizeUrl, registerPortal } from '../helpers/oidc.ts';
import { serveFiles } from '../helpers/revocation-fixtures.ts';
import { createTestPki } from '../helpers/test-pki.ts';
import { createUserAgent } from '../helpers/user-agent.ts';
import { createPartnerClient, type TrustApp } from '../trust/trust-kit.ts';

const POLICY = '1.2.156.99999.3.4';

t.test('a CA partner reports a suspension; once an admin approves it, the next certificate login is refused', async (t) => {
  const server = await startTestServer(t);
  const { runtime, app, issuer } = server;
  await registerPortal(runtime, { require_consent: false });
  const pki = createTestPki(t);
  const files = await serveFiles(t);
  const root = pki.root({ name: 'Partner SM2 Root', keyType: 'sm2' });
  files.set('/root.crl', root.crlDer({ nextUpdateHours: 1 }));
  const leaf = root.leaf({ name: '陈三', keyType: 'sm2', idNumber: buildUnregisteredIdNumber(), policies: [POLICY], crlUrl: files.url('/root.crl') });

  const partner = await createPartnerClient({ runtime, app } as unknown as TrustApp);
  const service = await registerCa(runtime, { name: 'Partner CA', anchors: [root], policyLevels: { [POLICY]: 'L4' }, revocationMode: 'crl' });
  const operator = await runtime.trust.registry.getOperator(service.operatorId);
  await runtime.trust.registry.updateOperator(operator.id, { name: operator.name, uscc: operator.uscc, partnerClientId: partner.clientId }, { name: 'test-admin' });

  const login = async () => {
    const ua = createUserAgent(issuer);
    const page = await ua.get(authorizeUrl(issuer));
    const certificatePage = await ua.get(/href="(\/interaction\/[^"]+\/certificate)"/.exec(page.html)![1]);
    return signAndPost(ua, certificatePage.html, leaf);
  };
  t.ok((await login()).redirectedTo, 'granted: the certificate signs in');

  const token = await partner.token();
  const submitted = await fetch(`${issuer}/trust/partner/submissions/suspension`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ serviceId: service.id, reason: 'issuing key compromise suspected' }),
  });
  t.equal(submitted.status, 201);
  const submission = await submitted.json() as { id: string; status: string };
  t.equal(submission.status, 'pending');
  t.ok((await login()).redirectedTo, 'pending: nothing changes before an admin approves');

  await runtime.trust.registry.approveSubmission(submission.id, { name: 'test-admin' });
  const refused = await login();
  t.equal(refused.redirectedTo, undefined);
  t.equal(refused.response.status, 401);
  t.match(refused.html, /已被暂停认可/, 'the next login is refused: the CA is suspended');
  await runtime.audit.flush();
  const { rows } = await runtime.db.query<{ event: string }>(
    "SELECT event FROM audit_events WHERE event LIKE 'trust.submission.%' OR event = 'trust.service.status_changed' ORDER BY id");
  t.same(rows.map((r) => r.event).filter((e) => e.startsWith('trust.submission')), ['trust.submission.received', 'trust.submission.approved'], 'every step audited');
});
