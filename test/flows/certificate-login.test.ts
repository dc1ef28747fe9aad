import t from 'tap';
import * as client from 'openid-client';
import { createSelfService } from '../../src/self-service/service.ts';
import { startTestServer } from '../helpers/app.ts';
import { buildCitizen, buildUnregisteredIdNumber } from '../helpers/builders.ts';
import { base64, certificatePortal, challengeOf, registerCa, signAndPost } from '../helpers/certificates.ts';
import { RP_CALLBACK } from '../helpers/oidc.ts';
import { serveFiles, startOcspResponder } from '../helpers/revocation-fixtures.ts';
import { createTestPki } from '../helpers/test-pki.ts';
import { createUserAgent } from '../helpers/user-agent.ts';

const POLICY_HIGH = '1.2.156.99999.1.4';
const POLICY_MEDIUM = '1.2.156.99999.1.3';


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
  const rp = await certificatePortal(runtime, issuer, 'tax-l4', { minLevel: 'L4' });
  const accountsBefore = await count(runtime, 'accounts');

  const ua = createUserAgent(issuer);
  const { login: page, verifier } = await rp.start(ua);
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
  const view = await createSelfService(runtime, runtime.config.selfService).view(claims.sub);
  t.same(view?.proofings.map((p) => [p.proofing, p.certificateCa]), [['in_person', 'SM2 CA operator']], 'the account page names the CA that proved the identity');
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
  const rp = await certificatePortal(runtime, issuer, 'housing', { minLevel: 'L3' });

  const ua = createUserAgent(issuer);
  const { login: page, verifier } = await rp.start(ua);
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
  t.match(again.login.html, /CA 数字证书/, 'asked for a certificate that reaches L4');
});

t.test('cross-CA recognition: a person verified through one CA is recognised, not verified again, with another CA\'s certificate', async (t) => {
  const { runtime, issuer } = await startTestServer(t);
  const pki = createTestPki(t);
  const files = await serveFiles(t);
  const rootA = pki.root({ name: 'CA A Root', keyType: 'sm2' });
  const rootB = pki.root({ name: 'CA B Root', keyType: 'rsa' });
  files.set('/a.crl', rootA.crlDer({ nextUpdateHours: 1 }));
  files.set('/b.crl', rootB.crlDer({ nextUpdateHours: 1 }));
  await registerCa(runtime, { name: 'CA A', anchors: [rootA], policyLevels: { [POLICY_HIGH]: 'L4' }, revocationMode: 'crl' });
  await registerCa(runtime, { name: 'CA B', anchors: [rootB], policyLevels: { [POLICY_MEDIUM]: 'L3' }, revocationMode: 'crl', keyProtection: 'software' });
  const idNumber = buildUnregisteredIdNumber();
  const fromA = rootA.leaf({ name: '吴十', keyType: 'sm2', idNumber, policies: [POLICY_HIGH], crlUrl: files.url('/a.crl') });
  const fromB = rootB.leaf({ name: '吴十', keyType: 'rsa', idNumber, policies: [POLICY_MEDIUM], crlUrl: files.url('/b.crl') });
  const rp = await certificatePortal(runtime, issuer, 'social-security');

  const first = createUserAgent(issuer);
  const a = await rp.start(first);
  const doneA = await signAndPost(first, (await first.get(certificatePath(a.login.html))).html, fromA);
  const subA = (await rp.tokens(doneA.redirectedTo!, a.verifier)).claims()!.sub;
  const accounts = await count(runtime, 'accounts');
  const proofings = await count(runtime, 'account_proofings');

  const second = createUserAgent(issuer);
  const b = await rp.start(second);
  const doneB = await signAndPost(second, (await second.get(certificatePath(b.login.html))).html, fromB);
  const claimsB = (await rp.tokens(doneB.redirectedTo!, b.verifier)).claims()!;
  t.equal(claimsB.sub, subA, 'the same account');
  t.equal(claimsB.acr, `${issuer}/acr/L3`, 'at the level CA B\'s policy grants');
  t.equal(await count(runtime, 'accounts'), accounts, 'no second account');
  t.equal(await count(runtime, 'account_proofings'), proofings, 'no second proofing: CA A\'s stands');
  await runtime.audit.flush();
  const { rows } = await runtime.db.query<{ detail: { outcome: string; ca: string } }>(
    "SELECT detail FROM audit_events WHERE event = 'login.certificate' AND result = 'success' ORDER BY id");
  t.same(rows.map((r) => r.detail.outcome), ['created', 'linked'], 'the second CA\'s certificate was linked to the account');
  const links = await runtime.db.query<{ upstream: string }>('SELECT upstream FROM upstream_links ORDER BY linked_at');
  t.equal(links.rows.length, 2, 'bound on (CA service, identifier) for each CA');
  t.ok(links.rows.every((l) => l.upstream.startsWith('ca:')));
});

t.test('a bridge CA: leaf → issuing CA → root B → bridge → root A validates with RFC 5280 policy mapping', async (t) => {
  const { runtime, issuer } = await startTestServer(t);
  const pki = createTestPki(t);
  const files = await serveFiles(t);
  const platformPolicy = '1.2.156.99999.9.3';
  const domainBPolicy = '1.2.156.88888.1.1';
  const rootA = pki.root({ name: 'Platform Root A', keyType: 'rsa' });
  const bridge = pki.root({ name: 'Bridge CA', keyType: 'rsa' });
  const rootB = pki.root({ name: 'Province B Root', keyType: 'rsa' });
  const bridgeCert = rootA.crossCertify(bridge, { policies: [platformPolicy] });
  const rootBCert = bridge.crossCertify(rootB, { policies: [platformPolicy], policyMappings: [[platformPolicy, domainBPolicy]], requireExplicitPolicy: 0 });
  const issuingB = rootB.intermediate({ name: 'Province B Issuing CA', policies: [domainBPolicy] });
  files.set('/b-root.crl', rootB.crlDer({ nextUpdateHours: 1 }));
  files.set('/b-issuing.crl', issuingB.crlDer({ nextUpdateHours: 1 }));
  const leaf = issuingB.leaf({ name: '郑一', keyType: 'rsa', idNumber: buildUnregisteredIdNumber(), policies: [domainBPolicy], crlUrl: files.url('/b-issuing.crl') });
  // Only root A is an anchor; the bridge's cross-certificates are registered; province B's own hierarchy is not.
  await registerCa(runtime, {
    name: 'Platform bridge', anchors: [rootA], cross: [bridgeCert, rootBCert], policyLevels: { [platformPolicy]: 'L3' },
    revocationMode: 'crl', crlUrls: [files.url('/b-root.crl')],
  });
  const rp = await certificatePortal(runtime, issuer, 'cross-province');
  const ua = createUserAgent(issuer);
  const { login: page, verifier } = await rp.start(ua);
  const done = await signAndPost(ua, (await ua.get(certificatePath(page.html))).html, leaf, [issuingB]);
  t.ok(done.redirectedTo, done.html.match(/role="alert">([^<]*)/)?.[1] ?? 'signed in');
  const claims = (await rp.tokens(done.redirectedTo!, verifier)).claims()!;
  t.equal(claims.acr, `${issuer}/acr/L3`, 'province B\'s policy, mapped through the bridge to the platform\'s L3 policy');

  // Without the policy mapping nothing maps: the same chain under a bridge that does not map B's policy is refused.
  const { runtime: other, issuer: otherIssuer } = await startTestServer(t);
  const plainRootB = bridge.crossCertify(rootB, { policies: [platformPolicy], requireExplicitPolicy: 0 });
  await registerCa(other, {
    name: 'Platform bridge without mapping', anchors: [rootA], cross: [bridgeCert, plainRootB], policyLevels: { [platformPolicy]: 'L3' },
    revocationMode: 'crl', crlUrls: [files.url('/b-root.crl')],
  });
  const otherRp = await certificatePortal(other, otherIssuer, 'cross-province');
  const ua2 = createUserAgent(otherIssuer);
  const second = await otherRp.start(ua2);
  const refused = await signAndPost(ua2, (await ua2.get(certificatePath(second.login.html))).html, leaf, [issuingB]);
  t.equal(refused.redirectedTo, undefined);
  t.match(refused.html, /证书策略未被本平台认可|证书链校验未通过/, 'refused without the mapping');
});

t.test('certificate step-up: the session\'s own certificate raises the level in place; another person\'s is refused', async (t) => {
  const { runtime, issuer } = await startTestServer(t);
  const pki = createTestPki(t);
  const files = await serveFiles(t);
  const root = pki.root({ name: 'Step-up Root', keyType: 'sm2' });
  files.set('/root.crl', root.crlDer({ nextUpdateHours: 1 }));
  await registerCa(runtime, { name: 'Step-up CA', anchors: [root], policyLevels: { [POLICY_HIGH]: 'L4' }, revocationMode: 'crl' });
  const citizen = await buildCitizen(runtime);
  const own = root.leaf({ name: citizen.name, keyType: 'sm2', idNumber: citizen.idNumber, policies: [POLICY_HIGH], crlUrl: files.url('/root.crl') });
  const someoneElse = root.leaf({ name: '冯二', keyType: 'sm2', idNumber: buildUnregisteredIdNumber(), policies: [POLICY_HIGH], crlUrl: files.url('/root.crl') });
  const basic = await certificatePortal(runtime, issuer, 'basic-services');
  const l4 = await certificatePortal(runtime, issuer, 'property-registry', { minLevel: 'L4' });

  const ua = createUserAgent(issuer);
  const first = await basic.start(ua);
  const { formOf } = await import('../helpers/user-agent.ts');
  const form = formOf(first.login.html, '/login');
  const signedIn = await ua.post(form.action, { csrf: form.csrf, identifier: citizen.idNumber, password: citizen.password });
  const sub = (await basic.tokens(signedIn.redirectedTo!, first.verifier)).claims()!.sub;

  const second = await l4.start(ua);
  t.match(second.login.html, /id="certificate-start"/, 'the step-up page offers the certificate');
  const stepUpPath = /href="(\/interaction\/[^"]+\/certificate)"/.exec(second.login.html)![1];
  const wrong = await signAndPost(ua, (await ua.get(stepUpPath)).html, someoneElse);
  t.equal(wrong.response.status, 401);
  t.match(wrong.html, /该证书属于其他人/);
  const accounts = await count(runtime, 'accounts');
  const done = await signAndPost(ua, (await ua.get(stepUpPath)).html, own);
  const claims = (await l4.tokens(done.redirectedTo!, second.verifier)).claims()!;
  t.equal(claims.sub, sub, 'the same person');
  t.equal(claims.acr, `${issuer}/acr/L4`);
  t.same(claims.amr, ['pwd', 'hwk', 'mfa'], 'the certificate is added to what the session did');
  t.equal(await count(runtime, 'accounts'), accounts, 'no account for the other person\'s certificate');
});
