import t from 'tap';
import * as client from 'openid-client';
import { startTestServer } from '../helpers/app.ts';
import { buildCitizen, buildUnregisteredIdNumber } from '../helpers/builders.ts';
import { base64, challengeOf, registerCa, signAndPost } from '../helpers/certificates.ts';
import { RP_CALLBACK } from '../helpers/oidc.ts';
import { serveFiles, startOcspResponder } from '../helpers/revocation-fixtures.ts';
import { createTestPki } from '../helpers/test-pki.ts';
import { createUserAgent } from '../helpers/user-agent.ts';

const POLICY_HIGH = '1.2.156.99999.1.4';
const POLICY_MEDIUM = '1.2.156.99999.1.3';

async function portal(runtime: Awaited<ReturnType<typeof startTestServer>>['runtime'], issuer: string, clientId: string, minLevel?: string) {
  const registered = await runtime.clients.create({ client_id: clientId, client_name: `${clientId} portal`, redirect_uris: [RP_CALLBACK], grant_types: ['authorization_code'], require_consent: false });
  if (minLevel) await runtime.policies.set({ clientId, minLevel }, { name: 'test' });
  const config = await client.discovery(new URL(issuer), clientId, registered.client_secret!, client.ClientSecretBasic(registered.client_secret!), { execute: [client.allowInsecureRequests] });
  return {
    config,
    async start(ua: ReturnType<typeof createUserAgent>, extra: Record<string, string> = {}) {
      const verifier = client.randomPKCECodeVerifier();
      const page = await ua.get(client.buildAuthorizationUrl(config, {
        redirect_uri: RP_CALLBACK, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's', ...extra,
      }).toString());
      return { page, verifier };
    },
    async tokens(redirectedTo: string, verifier: string) {
      return client.authorizationCodeGrant(config, new URL(redirectedTo), { pkceCodeVerifier: verifier, expectedState: 's' });
    },
  };
}

const certificatePath = (html: string) => /href="(\/interaction\/[^"]+\/certificate)"/.exec(html)![1];
const count = async (runtime: { db: { query: (sql: string) => Promise<{ rows: { n: string }[] }> } }, table: string) =>
  Number((await runtime.db.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

t.test('SM2 certificate through the OIDC flow: a new person gets an account proofed by the CA, L4 with hwk + pin', async (t) => {
  const { runtime, issuer } = await startTestServer(t);
  const pki = createTestPki(t);
  const files = await serveFiles(t);
  const root = pki.root({ name: 'SM2 Root', keyType: 'sm2' });
  const issuing = root.intermediate({ name: 'SM2 Issuing CA', pathLen: 0 });
  const idNumber = buildUnregisteredIdNumber();
  const leaf = issuing.leaf({ name: '张三', keyType: 'sm2', idNumber, policies: [POLICY_HIGH], crlUrl: files.url('/issuing.crl') });
  files.set('/issuing.crl', issuing.crlDer({ nextUpdateHours: 1 }));
  await registerCa(runtime, {
    name: 'SM2 CA', anchors: [root], intermediates: [issuing], policyLevels: { [POLICY_HIGH]: 'L4' }, pinRequired: true, revocationMode: 'crl',
  });
  const rp = await portal(runtime, issuer, 'tax-l4', 'L4');
  const accountsBefore = await count(runtime, 'accounts');

  const ua = createUserAgent(issuer);
  const { page, verifier } = await rp.start(ua);
  t.match(page.html, /数字证书登录/, 'the login page offers the certificate');
  const certificatePage = await ua.get(certificatePath(page.html));
  t.equal(certificatePage.response.status, 200);
  t.match(certificatePage.response.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  t.match(challengeOf(certificatePage.html), new RegExp(`^GOV-IDP-CERT-LOGIN/1\\nissuer=${issuer}\\ninteraction=`));

  const done = await signAndPost(ua, certificatePage.html, leaf);
  t.ok(done.redirectedTo?.startsWith(RP_CALLBACK), 'back to the relying party');
  const tokens = await rp.tokens(done.redirectedTo!, verifier);
  const claims = tokens.claims()!;
  t.equal(claims.acr, `${issuer}/acr/L4`);
  t.same(claims.amr, ['hwk', 'pin']);
  t.equal(await count(runtime, 'accounts'), accountsBefore + 1, 'one account created');
  const account = await runtime.accounts.findById(claims.sub);
  t.equal(account?.idNumber, idNumber, 'keyed on the ID number from the certificate');
  t.equal(account?.name, '张三');
  t.equal(await runtime.proofing.best(claims.sub), 'in_person', 'proofed at the CA\'s level: not verified again');
  t.ok(files.count('/issuing.crl') >= 1, 'the CRL was fetched');
  await runtime.audit.flush();
  const { rows } = await runtime.db.query<{ event: string; result: string; detail: Record<string, unknown> }>(
    `SELECT event, result, detail FROM audit_events WHERE event IN ('login.certificate', 'account.registered', 'account.linked_certificate') ORDER BY id`);
  t.same(rows.map((r) => `${r.event}:${r.result}`), ['account.registered:success', 'account.linked_certificate:success', 'login.certificate:success']);
  t.equal(rows[2].detail.level, 'L4');
  t.equal(rows[2].detail.outcome, 'created');
});

t.test('RSA certificate with a real OCSP responder logs into the existing account at the CA\'s mapped level (L3, swk)', async (t) => {
  const { runtime, issuer } = await startTestServer(t);
  const pki = createTestPki(t);
  const root = pki.root({ name: 'RSA Root', keyType: 'rsa' });
  const issuing = root.intermediate({ name: 'RSA Issuing CA' });
  const responder = await startOcspResponder(t, issuing, { signer: issuing.ocspSigner() });
  // The root's CRL covers the (unregistered) issuing CA the client sends along.
  const files = await serveFiles(t);
  files.set('/root.crl', root.crlDer({ nextUpdateHours: 1 }));
  const citizen = await buildCitizen(runtime);
  const leaf = issuing.leaf({ name: citizen.name, keyType: 'rsa', idNumber: citizen.idNumber, policies: [POLICY_MEDIUM], ocspUrl: responder.url });
  await responder.restart();
  await registerCa(runtime, {
    name: 'RSA CA', anchors: [root], policyLevels: { [POLICY_MEDIUM]: 'L3' }, keyProtection: 'software', revocationMode: 'ocsp_or_crl', crlUrls: [files.url('/root.crl')],
  });
  const rp = await portal(runtime, issuer, 'housing', 'L3');

  const ua = createUserAgent(issuer);
  const { page, verifier } = await rp.start(ua);
  const certificatePage = await ua.get(certificatePath(page.html));
  // The issuing CA is not registered: the client sends it with the leaf.
  const done = await signAndPost(ua, certificatePage.html, leaf, [issuing]);
  t.ok(done.redirectedTo?.startsWith(RP_CALLBACK), done.html.match(/role="alert">([^<]*)/)?.[1] ?? 'redirected');
  const claims = (await rp.tokens(done.redirectedTo!, verifier)).claims()!;
  t.equal(claims.sub, citizen.account.id, 'the existing account');
  t.equal(claims.acr, `${issuer}/acr/L3`);
  t.same(claims.amr, ['swk']);

  // The same portal asking for L4 gets a step-up: the certificate counts only up to its CA's L3.
  const again = await rp.start(ua, { acr_values: `${issuer}/acr/L4` });
  t.match(again.page.html, /CA 数字证书/, 'asked for a certificate that reaches L4');
});
