import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import t, { type Test } from 'tap';
import {
  CertificateError,
  isSigningCertificate,
  parseCertificate,
  parseCertificateChain,
  toPem,
} from '../../src/pki/certificate.ts';
import { createTestPki } from '../helpers/test-pki.ts';

const openssl = (...args: string[]): string => execFileSync('openssl', args, { encoding: 'utf8' });

const expectCertificateError = (t: Test, fn: () => unknown, code: CertificateError['code'], what: string) => {
  try {
    fn();
    t.fail(`${what}: expected CertificateError ${code}`);
  } catch (error) {
    t.ok(error instanceof CertificateError, `${what}: a CertificateError`);
    t.equal((error as CertificateError).code, code, what);
  }
};

t.test('parses every field of an SM2 leaf, checked against the OpenSSL CLI', async (t) => {
  const pki = createTestPki(t);
  const root = pki.root({ name: 'Cert Root', keyType: 'sm2' });
  const ca = root.intermediate({ name: 'Cert Issuing CA', pathLen: 0, policies: ['1.2.156.99999.1'] });
  const notBefore = new Date('2025-01-02T03:04:05Z');
  const notAfter = new Date('2035-06-07T08:09:10Z');
  const leaf = ca.leaf({
    subject: { C: 'CN', O: 'Test Gov', OU: 'Citizens', CN: '张三', serialNumber: 'ID:11010519491231002X' },
    policies: ['1.2.156.99999.1.2', '1.2.156.99999.1.3'],
    extendedKeyUsage: ['clientAuth', '1.3.6.1.4.1.99999.1'],
    crlUrl: 'http://crl.test.example/issuing.crl',
    extraExtensions: ['authorityInfoAccess = OCSP;URI:http://ocsp.test.example,caIssuers;URI:http://ca.test.example/issuing.cer'],
    notBefore,
    notAfter,
  });
  const cert = leaf.cert;

  const fingerprint = openssl('x509', '-in', leaf.certFile, '-noout', '-fingerprint', '-sha256').trim().split('=')[1].replace(/:/g, '').toLowerCase();
  t.equal(cert.fingerprint, fingerprint, 'SHA-256 fingerprint equals OpenSSL');
  const serial = openssl('x509', '-in', leaf.certFile, '-noout', '-serial').trim().split('=')[1].toLowerCase();
  t.equal(cert.serialNumber.replace(/^00/, ''), serial, 'serial equals OpenSSL');
  t.equal(cert.subject, 'C=CN, O=Test Gov, OU=Citizens, CN=张三, serialNumber=ID:11010519491231002X');
  t.equal(cert.issuer, 'C=CN, O=Test PKI, CN=Cert Issuing CA');
  t.same(cert.subjectAttributes, [
    { type: '2.5.4.6', value: 'CN' },
    { type: '2.5.4.10', value: 'Test Gov' },
    { type: '2.5.4.11', value: 'Citizens' },
    { type: '2.5.4.3', value: '张三' },
    { type: '2.5.4.5', value: 'ID:11010519491231002X' },
  ]);
  t.equal(cert.notBefore.toISOString(), notBefore.toISOString());
  t.equal(cert.notAfter.toISOString(), notAfter.toISOString());
  t.match(cert.subjectKeyIdentifier, /^[0-9a-f]{40}$/);
  t.equal(cert.authorityKeyIdentifier, ca.cert.subjectKeyIdentifier, 'AKI of the leaf is the SKI of its issuer');
  t.equal(cert.isCA, false);
  t.equal(cert.pathLengthConstraint, undefined);
  t.same(cert.keyUsage, ['digitalSignature', 'nonRepudiation']);
  t.same(cert.extendedKeyUsage, ['1.3.6.1.5.5.7.3.2', '1.3.6.1.4.1.99999.1']);
  t.same(cert.policies, ['1.2.156.99999.1.2', '1.2.156.99999.1.3']);
  t.same(cert.crlDistributionPoints, ['http://crl.test.example/issuing.crl']);
  t.same(cert.ocspUrls, ['http://ocsp.test.example']);
  t.same(cert.caIssuers, ['http://ca.test.example/issuing.cer']);
  t.equal(cert.keyAlgorithm, 'sm2');
  t.equal(cert.signatureAlgorithm, '1.2.156.10197.1.501');
  t.equal(cert.selfIssued, false);
  t.ok(cert.pkijs instanceof pkijs.Certificate);

  t.equal(ca.cert.isCA, true);
  t.equal(ca.cert.pathLengthConstraint, 0);
  t.same(ca.cert.keyUsage, ['keyCertSign', 'cRLSign']);
  t.same(ca.cert.policies, ['1.2.156.99999.1']);
  t.equal(root.cert.selfIssued, true);
  t.equal(root.cert.isCA, true);
  t.equal(root.cert.pathLengthConstraint, undefined);
  t.equal(leaf.cert.keyUsage?.includes('keyCertSign'), false);
});

t.test('key algorithms: RSA, ECDSA P-256 and P-384, both SM2 SPKI encodings', async (t) => {
  const pki = createTestPki(t);
  const rsa = pki.root({ name: 'RSA Root', keyType: 'rsa' });
  t.equal(rsa.cert.keyAlgorithm, 'rsa');
  t.equal(rsa.cert.signatureAlgorithm, '1.2.840.113549.1.1.11');
  const ec = pki.root({ name: 'EC Root', keyType: 'ec' });
  t.equal(ec.cert.keyAlgorithm, 'ecdsa-p256');
  t.equal(ec.leaf({ keyType: 'ec-p384' }).cert.keyAlgorithm, 'ecdsa-p384');
  const sm2 = pki.root({ name: 'SM2 Root', keyType: 'sm2' });
  const gmt2012 = sm2.leaf({ sm2Encoding: 'sm2-oid' }).cert;
  t.equal(gmt2012.pkijs.subjectPublicKeyInfo.algorithm.algorithmId, '1.2.156.10197.1.301', 'the SM2 OID is the SPKI algorithm');
  t.ok(gmt2012.pkijs.signatureAlgorithm.algorithmParams instanceof asn1js.Null, 'signatureAlgorithm parameters are NULL');
  t.equal(gmt2012.keyAlgorithm, 'sm2');
  t.equal(sm2.leaf().cert.pkijs.subjectPublicKeyInfo.algorithm.algorithmId, '1.2.840.10045.2.1', 'the usual encoding is id-ecPublicKey');
  t.equal(sm2.leaf().cert.keyAlgorithm, 'sm2');
});

t.test('accepts DER, PEM text, PEM bytes, base64 and base64url of the same certificate', async (t) => {
  const pki = createTestPki(t);
  const leaf = pki.root({ name: 'Input Root', keyType: 'ec' }).leaf();
  const der = leaf.certDer;
  const inputs: [string, Uint8Array | string][] = [
    ['DER', der],
    ['PEM', leaf.certPem],
    ['PEM with CRLF and surrounding blank lines', `\r\n${leaf.certPem.replace(/\n/g, '\r\n')}\r\n`],
    ['PEM bytes', new Uint8Array(Buffer.from(leaf.certPem))],
    ['base64', Buffer.from(der).toString('base64')],
    ['base64url', Buffer.from(der).toString('base64url')],
    ['toPem output', toPem(der)],
  ];
  for (const [label, input] of inputs) t.equal(parseCertificate(input).fingerprint, leaf.cert.fingerprint, label);

  const pemFile = join(pki.dir, 'to-pem.pem');
  writeFileSync(pemFile, toPem(der));
  t.match(openssl('x509', '-in', pemFile, '-noout', '-subject'), /CN = Test Subject/, 'OpenSSL reads toPem output');
  t.ok(toPem(der).split('\n').every((line) => line.length <= 64), 'PEM lines are at most 64 characters');
});

t.test('refuses malformed input with malformed_certificate', async (t) => {
  const pki = createTestPki(t);
  const ca = pki.root({ name: 'Malformed Root', keyType: 'rsa' });
  const leaf = ca.leaf();
  const der = leaf.certDer;
  const wrongOuterTag = Uint8Array.from(der);
  wrongOuterTag[0] = 0x31; // SET instead of SEQUENCE
  const crlDer = ca.crlDer();

  const cases: [string, Uint8Array | string][] = [
    ['empty bytes', new Uint8Array()],
    ['empty string', ''],
    ['random bytes', new Uint8Array(randomBytes(600))],
    ['trailing byte after the DER', Uint8Array.from([...der, 0])],
    ['truncated DER', der.subarray(0, der.length - 10)],
    ['wrong outer tag', wrongOuterTag],
    ['a CRL is not a certificate', crlDer],
    ['junk text before the PEM', `Certificate:\n  Data: ...\n${leaf.certPem}`],
    ['junk text after the PEM', `${leaf.certPem}trailing junk\n`],
    ['two certificates in one PEM', leaf.certPem + ca.certPem],
    ['a private key PEM', leaf.keyPem],
    ['PEM with a non-base64 character', leaf.certPem.replace(/^(-----BEGIN CERTIFICATE-----\n.{10})./, '$1*')],
    ['plain text', 'not a certificate at all'],
    ['base64 of garbage', Buffer.from('hello world, this is not DER').toString('base64')],
  ];
  for (const [label, input] of cases) expectCertificateError(t, () => parseCertificate(input), 'malformed_certificate', label);
});

t.test('refuses a certificate whose outer signatureAlgorithm differs from the one inside the TBS', async (t) => {
  const pki = createTestPki(t);
  const certificate = pki.root({ name: 'Alg Root', keyType: 'rsa' }).leaf().cert.pkijs;
  certificate.signatureAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: '1.2.840.113549.1.1.12', algorithmParams: new asn1js.Null() });
  const der = new Uint8Array(certificate.toSchema(false).toBER());
  expectCertificateError(t, () => parseCertificate(der), 'malformed_certificate', 'mismatched algorithms');
});

t.test('size and chain limits', async (t) => {
  const pki = createTestPki(t);
  const ca = pki.root({ name: 'Limits Root', keyType: 'ec' });
  const big = ca.leaf({ extraExtensions: [`1.2.3.4.5.6 = ASN1:UTF8String:${'x'.repeat(17 * 1024)}`] });
  t.ok(big.certDer.length > 16 * 1024, 'the test certificate is over 16 KiB');
  expectCertificateError(t, () => parseCertificate(big.certDer), 'certificate_too_large', 'oversized DER');
  expectCertificateError(t, () => parseCertificate(big.certPem), 'certificate_too_large', 'oversized PEM');
  t.equal(parseCertificate(big.certDer, { maxBytes: 32 * 1024 }).fingerprint, big.cert.fingerprint, 'a larger explicit limit accepts it');
  const small = ca.leaf();
  expectCertificateError(t, () => parseCertificate(small.certDer, { maxBytes: 100 }), 'certificate_too_large', 'a tighter limit');

  expectCertificateError(t, () => parseCertificateChain([]), 'empty_chain', 'no certificates');
  const nine = Array.from({ length: 9 }, () => small.certPem);
  expectCertificateError(t, () => parseCertificateChain(nine), 'chain_too_long', 'nine certificates (default limit 8)');
  t.equal(parseCertificateChain(nine.slice(0, 8)).length, 8, 'eight are accepted');
  expectCertificateError(t, () => parseCertificateChain([small.certPem, ca.certPem], { maxCertificates: 1 }), 'chain_too_long', 'custom limit');
  expectCertificateError(t, () => parseCertificateChain([small.certPem, big.certDer]), 'certificate_too_large', 'one oversized member');
  expectCertificateError(t, () => parseCertificateChain([small.certPem, 'junk']), 'malformed_certificate', 'one malformed member');
  const chain = parseCertificateChain([small.certDer, ca.certPem]);
  t.same(chain.map((c) => c.fingerprint), [small.cert.fingerprint, ca.cert.fingerprint], 'order is kept');
});

t.test('isSigningCertificate: only end-entity certificates whose keyUsage allows signing', async (t) => {
  const pki = createTestPki(t);
  const ca = pki.root({ name: 'Usage Root', keyType: 'sm2' });
  t.equal(isSigningCertificate(ca.leaf().cert), true, 'digitalSignature + nonRepudiation');
  t.equal(isSigningCertificate(ca.leaf({ keyUsage: ['nonRepudiation'] }).cert), true, 'nonRepudiation only');
  t.equal(isSigningCertificate(ca.leaf({ keyUsage: ['digitalSignature', 'keyEncipherment'] }).cert), true, 'signing and encipherment');
  t.equal(isSigningCertificate(ca.leaf({ keyUsage: ['keyEncipherment'] }).cert), false, 'encryption certificate of a dual pair');
  t.equal(isSigningCertificate(ca.leaf({ keyUsage: ['keyEncipherment', 'dataEncipherment', 'keyAgreement'] }).cert), false, 'encipherment only');
  t.equal(isSigningCertificate(ca.leaf({ keyUsage: [] }).cert), false, 'no keyUsage extension');
  t.equal(isSigningCertificate(ca.cert), false, 'a CA certificate');
});
