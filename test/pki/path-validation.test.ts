import t, { type Test } from 'tap';
import { parseCertificate } from '../../src/pki/certificate.ts';
import { validatePath } from '../../src/pki/path-validator.ts';
import type { ParsedCertificate, PathErrorCode, PathValidationInput, PathValidationResult } from '../../src/pki/types.ts';
import { createTestPki, type TestKeyType } from '../helpers/test-pki.ts';

const P_ROOT_A = '1.2.156.99999.10.1'; // policy of PKI A ("our L3")
const P_ROOT_B = '1.2.156.88888.20.1'; // policy of PKI B that the bridge maps to P_ROOT_A
const P_OTHER = '1.2.156.88888.20.9';

const subjects = (result: PathValidationResult): string[] =>
  result.ok ? result.path.map((c) => c.subjectAttributes.find((a) => a.type === '2.5.4.3')?.value ?? '') : [];

function expectFailure(t: Test, result: PathValidationResult, code: PathErrorCode, what: string): void {
  t.equal(result.ok, false, `${what}: refused`);
  if (!result.ok) {
    t.equal(result.code, code, `${what}: ${result.message}`);
    t.ok(result.message.length > 10, `${what}: has a message`);
  }
}

function expectValid(t: Test, result: PathValidationResult, what: string): void {
  t.equal(result.ok, true, result.ok ? what : `${what}: ${result.code} ${result.message}`);
}

/** Flips one byte inside `der` at the first occurrence of `needle` (+ offset): the DER still parses. */
function tamper(cert: ParsedCertificate, where: 'signature' | 'serial'): ParsedCertificate {
  const der = Buffer.from(cert.der);
  if (where === 'signature') {
    der[der.length - 3] ^= 0x01;
  } else {
    const serial = Buffer.from(cert.serialNumber, 'hex');
    const at = der.indexOf(serial);
    der[at + serial.length - 1] ^= 0x01;
  }
  return parseCertificate(new Uint8Array(der));
}

for (const keyType of ['rsa', 'ec', 'sm2'] as TestKeyType[]) {
  t.test(`${keyType}: root → issuing CA → leaf is valid`, async (t) => {
    const pki = createTestPki(t);
    const root = pki.root({ name: `${keyType} Root`, keyType });
    const issuing = root.intermediate({ name: `${keyType} Issuing CA` });
    const leaf = issuing.leaf({ name: `${keyType} Citizen`, policies: [P_ROOT_A] });
    const unrelated = pki.root({ name: `${keyType} Unrelated Root`, keyType });

    const result = await validatePath({
      leaf: leaf.cert, intermediates: [unrelated.cert, issuing.cert], anchors: [unrelated.cert, root.cert], at: new Date(),
    });
    expectValid(t, result, 'valid chain');
    t.same(subjects(result), [`${keyType} Root`, `${keyType} Issuing CA`, `${keyType} Citizen`], 'path is anchor first, leaf last');
    if (result.ok) {
      t.equal(result.path[0], root.cert, 'the anchor is the given object');
      t.same(result.policies, [P_ROOT_A], 'the leaf policy under an anyPolicy issuing CA');
    }

    const withoutPolicy = await validatePath({
      leaf: issuing.leaf().cert, intermediates: [issuing.cert], anchors: [root.cert], at: new Date(),
    });
    expectValid(t, withoutPolicy, 'a leaf without certificatePolicies');
    if (withoutPolicy.ok) t.same(withoutPolicy.policies, [], 'no policies');

    expectFailure(t, await validatePath({ leaf: leaf.cert, intermediates: [issuing.cert], anchors: [root.cert], at: new Date(), requireExplicitPolicy: true, acceptablePolicies: [P_OTHER] }),
      'policy', 'a policy the leaf does not assert');
    // The issuing CA asserts anyPolicy: RFC 5280 lets it match the leaf's policy even when an explicit policy is
    // required (pkijs' own policy step would refuse this path).
    const explicit = await validatePath({ leaf: leaf.cert, intermediates: [issuing.cert], anchors: [root.cert], at: new Date(), requireExplicitPolicy: true, acceptablePolicies: [P_ROOT_A] });
    expectValid(t, explicit, 'explicit policy through an anyPolicy issuing CA');
    if (explicit.ok) t.same(explicit.policies, [P_ROOT_A]);
    expectFailure(t, await validatePath({ leaf: leaf.cert, intermediates: [], anchors: [root.cert], at: new Date() }), 'untrusted', 'missing intermediate');
    expectFailure(t, await validatePath({ leaf: leaf.cert, intermediates: [issuing.cert], anchors: [unrelated.cert], at: new Date() }), 'untrusted', 'unknown CA');
    expectFailure(t, await validatePath({ leaf: leaf.cert, intermediates: [issuing.cert], anchors: [], at: new Date() }), 'untrusted', 'no anchors');
    expectFailure(t, await validatePath({ leaf: tamper(leaf.cert, 'signature'), intermediates: [issuing.cert], anchors: [root.cert], at: new Date() }),
      'bad_signature', 'flipped signature byte');
    expectFailure(t, await validatePath({ leaf: tamper(leaf.cert, 'serial'), intermediates: [issuing.cert], anchors: [root.cert], at: new Date() }),
      'bad_signature', 'flipped TBS byte');
    expectFailure(t, await validatePath({ leaf: leaf.cert, intermediates: [tamper(issuing.cert, 'signature')], anchors: [root.cert], at: new Date() }),
      'bad_signature', 'tampered intermediate');
  });
}

t.test('SM2 leaf in the GM/T 0015-2012 encoding (SPKI algorithm 1.2.156.10197.1.301, NULL parameters)', async (t) => {
  const pki = createTestPki(t);
  const root = pki.root({ name: 'GM Root', keyType: 'sm2' });
  const issuing = root.intermediate({ name: 'GM Issuing CA' });
  const leaf = issuing.leaf({ sm2Encoding: 'sm2-oid' });
  expectValid(t, await validatePath({ leaf: leaf.cert, intermediates: [issuing.cert], anchors: [root.cert], at: new Date() }), 'valid');
  expectFailure(t, await validatePath({ leaf: tamper(leaf.cert, 'signature'), intermediates: [issuing.cert], anchors: [root.cert], at: new Date() }),
    'bad_signature', 'tampered');
});

t.test('bridge CA with policy mapping: leaf → issuing CA B → root B → bridge → root A', async (t) => {
  const pki = createTestPki(t);
  const rootA = pki.root({ name: 'Root A', keyType: 'sm2' });
  const rootB = pki.root({ name: 'Root B', keyType: 'sm2' });
  const bridge = pki.root({ name: 'Bridge CA', keyType: 'sm2' });
  const issuingB = rootB.intermediate({ name: 'Issuing CA B', policies: [P_ROOT_B] });
  const leaf = issuingB.leaf({ name: 'Wang Wu', policies: [P_ROOT_B] });
  const aToBridge = rootA.crossCertify(bridge, { policies: [P_ROOT_A] });
  const bridgeToB = bridge.crossCertify(rootB, { policies: [P_ROOT_A], policyMappings: [[P_ROOT_A, P_ROOT_B]], requireExplicitPolicy: 0 });
  // The other directions and the self-signed roots: a realistic pool full of cycles.
  const bridgeToA = bridge.crossCertify(rootA, { policies: [P_ROOT_A] });
  const bToBridge = rootB.crossCertify(bridge, { policies: [P_ROOT_B], policyMappings: [[P_ROOT_B, P_ROOT_A]] });
  const pool = [bToBridge.cert, rootB.cert, bridge.cert, bridgeToA.cert, issuingB.cert, bridgeToB.cert, aToBridge.cert];
  const base: PathValidationInput = { leaf: leaf.cert, intermediates: pool, anchors: [rootA.cert], at: new Date() };

  const result = await validatePath(base);
  expectValid(t, result, 'the bridge path validates');
  t.same(subjects(result), ['Root A', 'Bridge CA', 'Root B', 'Issuing CA B', 'Wang Wu']);
  if (result.ok) t.same(result.policies, [P_ROOT_A], 'the policy is reported in root A’s domain');

  const explicit = await validatePath({ ...base, acceptablePolicies: [P_ROOT_A], requireExplicitPolicy: true });
  expectValid(t, explicit, 'requiring root A’s policy');
  if (explicit.ok) t.same(explicit.policies, [P_ROOT_A]);

  expectFailure(t, await validatePath({ ...base, acceptablePolicies: [P_ROOT_B], requireExplicitPolicy: true }),
    'policy', 'requiring the unmapped domain-B policy');
  expectFailure(t, await validatePath({ ...base, inhibitPolicyMapping: true }), 'policy', 'policy mapping inhibited by the caller');

  const inhibitingCross = rootA.crossCertify(bridge, { policies: [P_ROOT_A], inhibitPolicyMapping: 0 });
  expectFailure(t, await validatePath({ ...base, intermediates: [inhibitingCross.cert, bridgeToB.cert, issuingB.cert] }),
    'policy', 'policy mapping inhibited by root A’s cross-certificate');

  const otherLeaf = issuingB.leaf({ name: 'Zhao Liu', policies: [P_OTHER] });
  expectFailure(t, await validatePath({ ...base, leaf: otherLeaf.cert }), 'policy', 'a domain-B policy the bridge does not map');

  expectFailure(t, await validatePath({ ...base, intermediates: [issuingB.cert, bridgeToB.cert] }), 'untrusted', 'without root A’s cross-certificate');

  // Member CAs whose issuing CA asserts anyPolicy, below a cross-certificate that requires an explicit policy.
  const anyIssuingB = rootB.intermediate({ name: 'AnyPolicy Issuing CA B' });
  const anyLeaf = anyIssuingB.leaf({ name: 'Sun Qi', policies: [P_ROOT_B] });
  const viaAny = await validatePath({ ...base, leaf: anyLeaf.cert, intermediates: [...pool, anyIssuingB.cert], acceptablePolicies: [P_ROOT_A], requireExplicitPolicy: true });
  expectValid(t, viaAny, 'anyPolicy issuing CA under the bridge');
  if (viaAny.ok) t.same(viaAny.policies, [P_ROOT_A]);
});

t.test('several candidate issuers: the first path fails, another succeeds', async (t) => {
  const pki = createTestPki(t);
  const rootA = pki.root({ name: 'Anchor', keyType: 'ec' });
  const rootB = pki.root({ name: 'Member Root', keyType: 'ec' });
  const issuing = rootB.intermediate({ name: 'Member Issuing CA' });
  const leaf = issuing.leaf();
  const expiredCross = rootA.crossCertify(rootB, { expired: true });
  const validCross = rootA.crossCertify(rootB);
  const base = { leaf: leaf.cert, anchors: [rootA.cert], at: new Date() };

  expectValid(t, await validatePath({ ...base, intermediates: [expiredCross.cert, validCross.cert, issuing.cert] }), 'expired cross-cert listed first');
  expectValid(t, await validatePath({ ...base, intermediates: [validCross.cert, expiredCross.cert, issuing.cert] }), 'expired cross-cert listed last');
  expectFailure(t, await validatePath({ ...base, intermediates: [expiredCross.cert, issuing.cert] }), 'expired', 'only the expired cross-cert');

  // Key rollover: two issuing CAs with the same name and different keys; AKI/SKI picks the right one.
  const oldIssuing = rootB.intermediate({ name: 'Member Issuing CA' });
  t.equal(oldIssuing.cert.subject, issuing.cert.subject);
  expectValid(t, await validatePath({ leaf: leaf.cert, anchors: [rootB.cert], intermediates: [oldIssuing.cert, issuing.cert], at: new Date() }),
    'same-name issuers');
});

t.test('validity dates', async (t) => {
  const pki = createTestPki(t);
  const root = pki.root({ name: 'Dates Root', keyType: 'sm2' });
  const issuing = root.intermediate({ name: 'Dates Issuing CA' });
  const now = new Date();
  const base = { intermediates: [issuing.cert], anchors: [root.cert] };

  expectFailure(t, await validatePath({ ...base, leaf: issuing.leaf({ expired: true }).cert, at: now }), 'expired', 'expired leaf');
  expectFailure(t, await validatePath({ ...base, leaf: issuing.leaf({ notYetValid: true }).cert, at: now }), 'not_yet_valid', 'leaf not yet valid');
  const leaf = issuing.leaf({ days: 30 });
  expectValid(t, await validatePath({ ...base, leaf: leaf.cert, at: now }), 'valid now');
  expectFailure(t, await validatePath({ ...base, leaf: leaf.cert, at: new Date(now.getTime() + 40 * 86_400_000) }), 'expired', 'checked 40 days later');
  expectFailure(t, await validatePath({ ...base, leaf: leaf.cert, at: new Date(now.getTime() - 2 * 86_400_000) }), 'not_yet_valid', 'checked 2 days earlier');

  const expiredIssuing = root.intermediate({ name: 'Expired Issuing CA', expired: true });
  const under = expiredIssuing.leaf({ notBefore: new Date(now.getTime() - 3600_000), notAfter: new Date(now.getTime() + 86_400_000) });
  expectFailure(t, await validatePath({ leaf: under.cert, intermediates: [expiredIssuing.cert], anchors: [root.cert], at: now }), 'expired', 'expired intermediate');
});

t.test('CA constraints: non-CA intermediate, keyUsage, pathLenConstraint', async (t) => {
  const pki = createTestPki(t);
  const root = pki.root({ name: 'Constraints Root', keyType: 'ec' });
  const at = new Date();

  const notCa = root.intermediate({ name: 'Not A CA', ca: false });
  t.equal(notCa.cert.isCA, false);
  expectFailure(t, await validatePath({ leaf: notCa.leaf().cert, intermediates: [notCa.cert], anchors: [root.cert], at }), 'not_a_ca', 'non-CA intermediate');

  const noCertSign = root.intermediate({ name: 'No keyCertSign', keyUsage: ['digitalSignature', 'cRLSign'] });
  expectFailure(t, await validatePath({ leaf: noCertSign.leaf().cert, intermediates: [noCertSign.cert], anchors: [root.cert], at }), 'key_usage', 'no keyCertSign');

  const zero = root.intermediate({ name: 'PathLen 0', pathLen: 0 });
  const sub = zero.intermediate({ name: 'Under PathLen 0' });
  expectValid(t, await validatePath({ leaf: zero.leaf().cert, intermediates: [zero.cert], anchors: [root.cert], at }), 'pathLen 0 may issue leaves');
  expectFailure(t, await validatePath({ leaf: sub.leaf().cert, intermediates: [zero.cert, sub.cert], anchors: [root.cert], at }), 'path_length', 'pathLen 0 with a sub-CA');

  const one = root.intermediate({ name: 'PathLen 1', pathLen: 1 });
  const oneSub = one.intermediate({ name: 'Under PathLen 1' });
  const oneSubSub = oneSub.intermediate({ name: 'Two Below PathLen 1' });
  expectValid(t, await validatePath({ leaf: oneSub.leaf().cert, intermediates: [one.cert, oneSub.cert], anchors: [root.cert], at }), 'pathLen 1 with one sub-CA');
  expectFailure(t, await validatePath({ leaf: oneSubSub.leaf().cert, intermediates: [one.cert, oneSub.cert, oneSubSub.cert], anchors: [root.cert], at }),
    'path_length', 'pathLen 1 with two sub-CAs');

  const limitedRoot = pki.root({ name: 'Root PathLen 0', keyType: 'ec', pathLen: 0 });
  const belowLimitedRoot = limitedRoot.intermediate({ name: 'Below Root PathLen 0' });
  expectFailure(t, await validatePath({ leaf: belowLimitedRoot.leaf().cert, intermediates: [belowLimitedRoot.cert], anchors: [limitedRoot.cert], at }),
    'path_length', 'the anchor’s own pathLenConstraint');

  const critical = root.leaf({ extraExtensions: ['1.2.3.4.5.6.7 = critical,ASN1:NULL'] });
  expectFailure(t, await validatePath({ leaf: critical.cert, intermediates: [], anchors: [root.cert], at }), 'invalid', 'unknown critical extension');
});

t.test('name constraints', async (t) => {
  const pki = createTestPki(t);
  const root = pki.root({ name: 'NC Root', keyType: 'sm2' });
  const at = new Date();
  const permitted = root.intermediate({ name: 'Gov Only CA', nameConstraints: { permitted: [{ directoryName: '/C=CN/O=Test PKI' }] } });
  expectValid(t, await validatePath({ leaf: permitted.leaf({ subject: { C: 'CN', O: 'Test PKI', CN: 'Inside' } }).cert, intermediates: [permitted.cert], anchors: [root.cert], at }),
    'subject inside the permitted subtree');
  expectFailure(t, await validatePath({ leaf: permitted.leaf({ subject: { C: 'CN', O: 'Other Org', CN: 'Outside' } }).cert, intermediates: [permitted.cert], anchors: [root.cert], at }),
    'name_constraints', 'subject outside the permitted subtree');

  const excluded = root.intermediate({ name: 'Excluding CA', nameConstraints: { excluded: [{ directoryName: '/C=CN/O=Banned Org' }, 'email:banned.example'] } });
  expectFailure(t, await validatePath({ leaf: excluded.leaf({ subject: { C: 'CN', O: 'Banned Org', CN: 'X' } }).cert, intermediates: [excluded.cert], anchors: [root.cert], at }),
    'name_constraints', 'subject in an excluded subtree');
  expectFailure(t, await validatePath({ leaf: excluded.leaf({ extraExtensions: ['subjectAltName = email:someone@banned.example'] }).cert, intermediates: [excluded.cert], anchors: [root.cert], at }),
    'name_constraints', 'e-mail in an excluded subtree');
  expectValid(t, await validatePath({ leaf: excluded.leaf({ extraExtensions: ['subjectAltName = email:someone@fine.example'] }).cert, intermediates: [excluded.cert], anchors: [root.cert], at }),
    'e-mail outside the excluded subtree');

  const dns = root.intermediate({ name: 'DNS CA', nameConstraints: { permitted: ['DNS:gov.example', 'IP:10.0.0.0/255.0.0.0'] } });
  const dnsLeaf = (san: string) => dns.leaf({ extraExtensions: [`subjectAltName = ${san}`] }).cert;
  expectValid(t, await validatePath({ leaf: dnsLeaf('DNS:www.gov.example'), intermediates: [dns.cert], anchors: [root.cert], at }), 'DNS name in the permitted domain');
  expectFailure(t, await validatePath({ leaf: dnsLeaf('DNS:evilgov.example'), intermediates: [dns.cert], anchors: [root.cert], at }), 'name_constraints', 'DNS name that only ends alike');
  expectValid(t, await validatePath({ leaf: dnsLeaf('IP:10.1.2.3'), intermediates: [dns.cert], anchors: [root.cert], at }), 'IP address in the permitted range');
  expectFailure(t, await validatePath({ leaf: dnsLeaf('IP:192.168.1.1'), intermediates: [dns.cert], anchors: [root.cert], at }), 'name_constraints', 'IP address outside the range');

  const constrainedRoot = pki.root({ name: 'Constrained Root', keyType: 'sm2', subject: '/C=CN/O=Test PKI/CN=Constrained Root',
    nameConstraints: { permitted: [{ directoryName: '/C=CN/O=Test PKI' }] } });
  expectFailure(t, await validatePath({ leaf: constrainedRoot.leaf({ subject: { C: 'CN', O: 'Elsewhere', CN: 'X' } }).cert, intermediates: [], anchors: [constrainedRoot.cert], at }),
    'name_constraints', 'the anchor’s own name constraints');
});

t.test('weak algorithms are refused below the anchor', async (t) => {
  const pki = createTestPki(t);
  const root = pki.root({ name: 'Weak Root', keyType: 'rsa' });
  const at = new Date();
  const sha1Issuing = root.intermediate({ name: 'SHA-1 Issuing CA', digest: 'sha1' });
  t.equal(sha1Issuing.cert.signatureAlgorithm, '1.2.840.113549.1.1.5');
  expectFailure(t, await validatePath({ leaf: sha1Issuing.leaf().cert, intermediates: [sha1Issuing.cert], anchors: [root.cert], at }), 'unsupported_algorithm', 'SHA-1 intermediate');
  const md5Leaf = root.leaf({ digest: 'md5' });
  expectFailure(t, await validatePath({ leaf: md5Leaf.cert, intermediates: [], anchors: [root.cert], at }), 'unsupported_algorithm', 'MD5 leaf');
  const smallKey = root.leaf({ keyType: 'rsa', rsaBits: 1024 });
  expectFailure(t, await validatePath({ leaf: smallKey.cert, intermediates: [], anchors: [root.cert], at }), 'unsupported_algorithm', '1024-bit RSA leaf');
  expectValid(t, await validatePath({ leaf: root.leaf().cert, intermediates: [], anchors: [root.cert], at }), 'SHA-256 with RSA-2048');
  const pss = root.leaf({ pss: true });
  t.equal(pss.cert.signatureAlgorithm, '1.2.840.113549.1.1.10');
  expectValid(t, await validatePath({ leaf: pss.cert, intermediates: [], anchors: [root.cert], at }), 'RSA-PSS with SHA-256');
  const pssSha1 = root.leaf({ pss: true, digest: 'sha1' });
  expectFailure(t, await validatePath({ leaf: pssSha1.cert, intermediates: [], anchors: [root.cert], at }), 'unsupported_algorithm', 'RSA-PSS with SHA-1');
});

t.test('policy constraints in CA certificates', async (t) => {
  const pki = createTestPki(t);
  const root = pki.root({ name: 'Policy Root', keyType: 'ec' });
  const at = new Date();

  const explicitCa = root.intermediate({ name: 'Explicit Policy CA', requireExplicitPolicy: 0 });
  expectFailure(t, await validatePath({ leaf: explicitCa.leaf().cert, intermediates: [explicitCa.cert], anchors: [root.cert], at }),
    'policy', 'requireExplicitPolicy in the CA and a leaf without policies');
  const withPolicy = await validatePath({ leaf: explicitCa.leaf({ policies: [P_ROOT_A] }).cert, intermediates: [explicitCa.cert], anchors: [root.cert], at });
  expectValid(t, withPolicy, 'requireExplicitPolicy and a leaf with a policy');
  if (withPolicy.ok) t.same(withPolicy.policies, [P_ROOT_A]);

  // RFC 5280 counts the leaf too (§6.1.5 (a)); PKITS 4.8.3: skipCerts equal to the certificates that follow is too few.
  const skipOne = root.intermediate({ name: 'Explicit After One', requireExplicitPolicy: 1 });
  expectFailure(t, await validatePath({ leaf: skipOne.leaf().cert, intermediates: [skipOne.cert], anchors: [root.cert], at }),
    'policy', 'requireExplicitPolicy: 1 reaches the leaf issued directly');
  const skipTwo = root.intermediate({ name: 'Explicit After Two', requireExplicitPolicy: 2 });
  expectValid(t, await validatePath({ leaf: skipTwo.leaf().cert, intermediates: [skipTwo.cert], anchors: [root.cert], at }),
    'requireExplicitPolicy: 2 does not reach a leaf issued directly');
  const belowTwo = skipTwo.intermediate({ name: 'Below Explicit After Two' });
  expectFailure(t, await validatePath({ leaf: belowTwo.leaf().cert, intermediates: [skipTwo.cert, belowTwo.cert], anchors: [root.cert], at }),
    'policy', 'requireExplicitPolicy: 2 reaches a leaf two levels down');

  const inhibitAny = root.intermediate({ name: 'Inhibit AnyPolicy CA', inhibitAnyPolicy: 0 });
  const anyBelow = inhibitAny.intermediate({ name: 'AnyPolicy Below Inhibit' });
  const leaf = anyBelow.leaf({ policies: [P_ROOT_A] });
  const lenient = await validatePath({ leaf: leaf.cert, intermediates: [inhibitAny.cert, anyBelow.cert], anchors: [root.cert], at });
  expectValid(t, lenient, 'inhibitAnyPolicy without an explicit-policy requirement');
  if (lenient.ok) t.same(lenient.policies, [], 'but no valid policy remains');
  expectFailure(t, await validatePath({ leaf: leaf.cert, intermediates: [inhibitAny.cert, anyBelow.cert], anchors: [root.cert], at, requireExplicitPolicy: true }),
    'policy', 'inhibitAnyPolicy with an explicit-policy requirement');
  const direct = await validatePath({ leaf: leaf.cert, intermediates: [anyBelow.cert], anchors: [inhibitAny.cert], at, requireExplicitPolicy: true, acceptablePolicies: [P_ROOT_A] });
  expectValid(t, direct, 'the same leaf when anchored below the inhibiting CA');
  if (direct.ok) t.same(direct.policies, [P_ROOT_A]);
});
