import t from 'tap';
import { startTestServer } from '../helpers/app.ts';
import { buildUnregisteredIdNumber } from '../helpers/builders.ts';
import { base64, challengeOf, PRIVATE_USCC_RULE, GMT_0015_ID_RULE, registerCa, signAndPost } from '../helpers/certificates.ts';
import { authorizeUrl, registerPortal } from '../helpers/oidc.ts';
import { serveFiles, silentServer } from '../helpers/revocation-fixtures.ts';
import { createTestPki, type TestKeyHolder } from '../helpers/test-pki.ts';
import { createUserAgent } from '../helpers/user-agent.ts';

const POLICY_L4 = '1.2.156.99999.2.4';
const POLICY_L2 = '1.2.156.99999.2.2';
const POLICY_UNMAPPED = '1.2.156.99999.2.9';

type Server = Awaited<ReturnType<typeof startTestServer>>;

/** Row counts of everything a login could write besides the audit trail. */
async function footprint(runtime: Server['runtime']) {
  const { rows } = await runtime.db.query<Record<string, string>>(`SELECT
    (SELECT count(*) FROM accounts) AS accounts, (SELECT count(*) FROM upstream_links) AS links,
    (SELECT count(*) FROM account_proofings) AS proofings, (SELECT count(*) FROM enterprise_certificates) AS enterprise,
    (SELECT count(*) FROM session_factors) AS factors`);
  return rows[0];
}

async function lastRefusal(runtime: Server['runtime']) {
  await runtime.audit.flush();
  const { rows } = await runtime.db.query<{ result: string; detail: Record<string, unknown> }>(
    "SELECT result, detail FROM audit_events WHERE event = 'login.certificate' ORDER BY id DESC LIMIT 1");
  return rows[0];
}

t.test('every bad certificate login is refused with a clear error and leaves nothing but the audit entry', async (t) => {
  const { runtime, issuer } = await startTestServer(t, { env: { CERT_LOGIN_PER_IP_PER_MINUTE: '1000', CERT_REVOCATION_TIMEOUT_MS: '500' } });
  await registerPortal(runtime, { require_consent: false });
  const pki = createTestPki(t);
  const files = await serveFiles(t);
  const silent = await silentServer(t);

  const root = pki.root({ name: 'Refusal Root', keyType: 'sm2' });
  const issuing = root.intermediate({ name: 'Refusal Issuing CA', pathLen: 0 });
  const crlUrl = files.url('/issuing.crl');
  const person = (options: Parameters<typeof issuing.leaf>[0] = {}) =>
    issuing.leaf({ name: '李四', keyType: 'sm2', idNumber: buildUnregisteredIdNumber(), policies: [POLICY_L4], crlUrl, ...options });
  const good = person();
  const revoked = person();
  issuing.revoke(revoked, 'keyCompromise');
  files.set('/issuing.crl', issuing.crlDer({ nextUpdateHours: 1 }));
  const service = await registerCa(runtime, { name: 'Refusal CA', anchors: [root], intermediates: [issuing], policyLevels: { [POLICY_L4]: 'L4', [POLICY_L2]: 'L2' }, revocationMode: 'crl' });

  const stranger = pki.root({ name: 'Unknown Root', keyType: 'sm2' }).leaf({ name: '王五', idNumber: buildUnregisteredIdNumber(), policies: [POLICY_L4] });
  const notCa = root.intermediate({ name: 'Not a CA', ca: false });
  const underNotCa = notCa.leaf({ name: '赵六', idNumber: buildUnregisteredIdNumber(), policies: [POLICY_L4] });

  const ua = createUserAgent(issuer);
  const login = await ua.get(authorizeUrl(issuer));
  const certificatePage = async () => ua.get(/href="(\/interaction\/[^"]+\/certificate)"/.exec(login.html)![1]);
  const before = await footprint(runtime);

  const refusedWith = async (label: string, attempt: (page: string) => Promise<{ response: Response; html: string }>, reason: string, status: number, message: RegExp) => {
    const page = (await certificatePage()).html;
    const result = await attempt(page);
    t.equal(result.response.status, status, `${label}: status ${status}`);
    t.match(result.html, message, `${label}: the page says why`);
    const audit = await lastRefusal(runtime);
    t.equal(audit.result, 'failure', `${label}: audited as a failure`);
    t.equal(audit.detail.reason, reason, `${label}: audit reason ${reason}`);
    t.same(await footprint(runtime), before, `${label}: nothing else recorded`);
  };

  await refusedWith('garbage DER', (page) => signAndPost(ua, page, good, [], { chain: base64(new Uint8Array([0x30, 0x82, 0x01, 0x00, 0xde, 0xad])) }),
    'malformed_certificate', 400, /证书格式无法识别/);
  await refusedWith('oversized chain', (page) => signAndPost(ua, page, good, [issuing, issuing, issuing, issuing, issuing, issuing, root]),
    'chain_too_long', 400, /证书链过长/);
  await refusedWith('tampered signature', (page) => {
    const signature = good.sign(new TextEncoder().encode(challengeOf(page)));
    signature[signature.length - 3] ^= 0x01;
    return signAndPost(ua, page, good, [], { signature: base64(signature) });
  }, 'bad_signature', 401, /签名验证未通过/);
  await refusedWith('signature made by another key', (page) => signAndPost(ua, page, good, [], { signature: base64(revoked.sign(new TextEncoder().encode(challengeOf(page)))) }),
    'bad_signature', 401, /签名验证未通过/);
  await refusedWith('challenge of another interaction', async (page) => {
    const other = createUserAgent(issuer);
    const otherLogin = await other.get(authorizeUrl(issuer));
    const otherPage = await other.get(/href="(\/interaction\/[^"]+\/certificate)"/.exec(otherLogin.html)![1]);
    const foreign = challengeOf(otherPage.html);
    return signAndPost(ua, page, good, [], { challenge: foreign, signature: base64(good.sign(new TextEncoder().encode(foreign))) });
  }, 'challenge_mismatch', 400, /不匹配/);
  await refusedWith('invented nonce', (page) => {
    const invented = challengeOf(page).replace(/nonce=[A-Za-z0-9_-]{43}/, `nonce=${'A'.repeat(43)}`);
    return signAndPost(ua, page, good, [], { challenge: invented, signature: base64(good.sign(new TextEncoder().encode(invented))) });
  }, 'challenge_unknown', 400, /已过期或已使用/);
  await refusedWith('replayed signature', async (page) => {
    const challenge = challengeOf(page);
    const signature = base64(good.sign(new TextEncoder().encode(challenge)));
    // The first use fails for another reason (an unknown CA's chain) and uses the challenge up.
    await signAndPost(ua, page, good, [], { chain: base64(stranger.certDer), signature });
    return signAndPost(ua, page, good, [], { challenge, signature });
  }, 'challenge_unknown', 400, /已过期或已使用/);
  await refusedWith('unknown CA', (page) => signAndPost(ua, page, stranger), 'untrusted_ca', 401, /不是由本平台认可的 CA 签发/);
  await refusedWith('expired certificate', (page) => signAndPost(ua, page, person({ expired: true })), 'certificate_expired', 401, /证书已过期/);
  await refusedWith('revoked certificate', (page) => signAndPost(ua, page, revoked), 'certificate_revoked', 401, /证书已被吊销/);
  await refusedWith('encryption certificate of a dual pair', (page) => signAndPost(ua, page, person({ keyUsage: ['keyEncipherment', 'dataEncipherment'] })),
    'not_a_signing_certificate', 401, /签名证书/);
  await refusedWith('non-CA intermediate', (page) => signAndPost(ua, page, underNotCa, [notCa]), 'invalid_chain', 401, /证书链校验未通过/);
  await refusedWith('policy not mapped to a level', (page) => signAndPost(ua, page, person({ policies: [POLICY_UNMAPPED] })),
    'policy_not_recognised', 401, /证书策略未被本平台认可/);
  await refusedWith('ID number with a wrong check digit', (page) => {
    const id = buildUnregisteredIdNumber();
    const wrong = id.slice(0, 17) + (id[17] === '1' ? '2' : '1');
    return signAndPost(ua, page, person({ idNumber: wrong }));
  }, 'identity_invalid', 401, /身份证件号码无效/);
  await refusedWith('no identity number at all', (page) => signAndPost(ua, page, person({ idNumber: undefined })), 'identity_missing', 401, /没有可识别的身份证件号码/);

  // L4 fails closed when the revocation status cannot be learned (the CRL server never answers).
  const unreachable = person({ crlUrl: silent.url });
  await refusedWith('revocation unknown at L4', (page) => signAndPost(ua, page, unreachable), 'revocation_unknown', 401, /暂时无法确认证书状态/);

  // A suspended CA: the very next login is refused, naming the reason.
  await runtime.trust.registry.changeStatus(service.id, { status: 'suspended', reason: 'key compromise reported' }, { name: 'test-admin' });
  await refusedWith('suspended CA', (page) => signAndPost(ua, page, good), 'ca_suspended', 401, /已被暂停认可/);
  await runtime.trust.registry.changeStatus(service.id, { status: 'granted', reason: 'resolved' }, { name: 'test-admin' });
  const back = await signAndPost(ua, (await certificatePage()).html, good);
  t.ok(back.redirectedTo, 'granted again: the certificate signs in');
});

t.test('soft-fail is possible below L4 only where the CA entry allows it', async (t) => {
  const { runtime, issuer } = await startTestServer(t, { env: { CERT_REVOCATION_TIMEOUT_MS: '300' } });
  await registerPortal(runtime, { require_consent: false });
  const pki = createTestPki(t);
  const silent = await silentServer(t);
  const root = pki.root({ name: 'Soft Root', keyType: 'ec' });
  await registerCa(runtime, { name: 'Soft CA', anchors: [root], policyLevels: { [POLICY_L2]: 'L2' }, revocationMode: 'crl', softFailMaxLevel: 'L2', keyProtection: 'software' });
  const leaf = root.leaf({ name: '钱七', keyType: 'ec', idNumber: buildUnregisteredIdNumber(), policies: [POLICY_L2], crlUrl: silent.url });
  const ua = createUserAgent(issuer);
  const login = await ua.get(authorizeUrl(issuer));
  const page = await ua.get(/href="(\/interaction\/[^"]+\/certificate)"/.exec(login.html)![1]);
  const result = await signAndPost(ua, page.html, leaf);
  t.ok(result.redirectedTo, 'accepted at L2 despite the unknown status');
  const { rows } = await runtime.db.query<{ detail: { revocation: { softFailed: boolean } } }>(
    "SELECT detail FROM audit_events WHERE event = 'login.certificate' AND result = 'success'");
  t.equal(rows[0]?.detail.revocation.softFailed, true, 'the soft-fail is on the audit record');
  t.rejects(runtime.trust.registry.createService((await runtime.trust.registry.listOperators())[0].id, {
    type: 'ca_individual', name: 'Bad', crlUrls: [], ocspUrls: [], policyLevels: { [POLICY_L4]: 'L4' }, keyUsages: ['digitalSignature'],
    extractionRules: [GMT_0015_ID_RULE], revocationMode: 'crl', softFailMaxLevel: 'L4', keyProtection: 'hardware', pinRequired: false,
    certificates: [{ certificate: pki.root({ name: 'Other', keyType: 'ec' }).certPem, role: 'anchor' }],
  }, { name: 'test-admin' }), 'the registry refuses soft-fail at L4');
});

t.test('an organisation certificate is recorded for the enterprise work; an operator certificate also logs the person in', async (t) => {
  const { runtime, issuer } = await startTestServer(t);
  await registerPortal(runtime, { require_consent: false });
  const pki = createTestPki(t);
  const root = pki.root({ name: 'Org Root', keyType: 'sm2' });
  await registerCa(runtime, {
    name: 'Org CA', type: 'ca_organisation', anchors: [root], policyLevels: { [POLICY_L2]: 'L2' }, revocationMode: 'crl', softFailMaxLevel: 'L2',
    extractionRules: [GMT_0015_ID_RULE, PRIVATE_USCC_RULE],
  });
  const uscc = '91350100M000100Y43';
  const orgOnly = root.leaf({ name: '某某科技有限公司', policies: [POLICY_L2], extraExtensions: [`1.2.156.112570.11.210=ASN1:UTF8String:${uscc}`] });
  const operator = root.leaf({ name: '孙八', idNumber: buildUnregisteredIdNumber(), policies: [POLICY_L2], extraExtensions: [`1.2.156.112570.11.210=ASN1:UTF8String:${uscc}`] });

  const ua = createUserAgent(issuer);
  const login = await ua.get(authorizeUrl(issuer));
  const path = /href="(\/interaction\/[^"]+\/certificate)"/.exec(login.html)![1];
  const refused = await signAndPost(ua, (await ua.get(path)).html, orgOnly);
  t.equal(refused.response.status, 403);
  t.match(refused.html, /法人证书已记录/);
  const recorded = await runtime.db.query<{ uscc_masked: string; uscc_enc: string; holder_account_id: string | null }>('SELECT uscc_masked, uscc_enc, holder_account_id FROM enterprise_certificates');
  t.equal(recorded.rows.length, 1);
  t.not(recorded.rows[0].uscc_enc, uscc, 'the code is encrypted at rest');
  t.notMatch(recorded.rows[0].uscc_masked, uscc);
  t.equal(recorded.rows[0].holder_account_id, null);

  const ok = await signAndPost(ua, (await ua.get(path)).html, operator);
  t.ok(ok.redirectedTo, 'the operator signs in as a person');
  const holders = await runtime.db.query<{ holder_account_id: string | null }>('SELECT holder_account_id FROM enterprise_certificates ORDER BY first_seen_at');
  t.equal(holders.rows.length, 2);
  t.ok(holders.rows[1].holder_account_id, 'the operator certificate names its holder');
});

t.test('certificate attempts are rate limited per address', async (t) => {
  const { runtime, issuer } = await startTestServer(t, { env: { CERT_LOGIN_PER_IP_PER_MINUTE: '2' } });
  await registerPortal(runtime, { require_consent: false });
  const pki = createTestPki(t);
  const leaf: TestKeyHolder = pki.root({ name: 'Limit Root', keyType: 'ec' }).leaf({ name: '周九', idNumber: buildUnregisteredIdNumber() });
  const ua = createUserAgent(issuer);
  const login = await ua.get(authorizeUrl(issuer));
  const path = /href="(\/interaction\/[^"]+\/certificate)"/.exec(login.html)![1];
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) statuses.push((await signAndPost(ua, (await ua.get(path)).html, leaf)).response.status);
  t.same(statuses, [401, 401, 429], 'the third attempt within a minute is refused before any work');
});
