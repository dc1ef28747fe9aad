import t from 'tap';
import { createRevocationChecker, type RevocationCheckInput } from '../../src/pki/revocation/revocation-checker.ts';
import type { RevocationStatus } from '../../src/pki/types.ts';
import { crlWithExtensions, serveFiles } from '../helpers/revocation-fixtures.ts';
import { createTestPki, type TestCa, type TestKeyType } from '../helpers/test-pki.ts';

const HOUR = 60 * 60 * 1000;

function unknownReason(status: RevocationStatus): string {
  if (status.status !== 'unknown') throw new Error(`expected unknown, got ${JSON.stringify(status)}`);
  return status.reason;
}

const tamper = (bytes: Uint8Array, index: number): Uint8Array => {
  const copy = new Uint8Array(bytes);
  copy[index < 0 ? copy.length + index : index] ^= 0x01;
  return copy;
};

for (const keyType of ['rsa', 'sm2'] as const satisfies readonly TestKeyType[]) {
  t.test(`CRL checks with an ${keyType.toUpperCase()} CA`, async (t) => {
    const pki = createTestPki(t);
    const root = pki.root({ name: `CRL Root ${keyType}`, keyType });
    const ca = root.intermediate({ name: `CRL Issuing CA ${keyType}` });
    const good = ca.leaf({ name: 'Good Leaf' });
    const revoked = ca.leaf({ name: 'Revoked Leaf' });
    ca.revoke(revoked, 'keyCompromise');
    const files = await serveFiles(t);
    const crlDer = ca.crlDer({ nextUpdateHours: 1 });
    files.set('/ca.crl', crlDer);
    const input = (leaf: { cert: RevocationCheckInput['certificate'] }, path = '/ca.crl', issuer: TestCa = ca): RevocationCheckInput =>
      ({ certificate: leaf.cert, issuer: issuer.cert, ocspUrls: [], crlUrls: [files.url(path)] });

    t.test('good and revoked leaves; the CRL is downloaded once and cached', async (t) => {
      const checker = createRevocationChecker({ timeoutMs: 5000 });
      const before = Date.now();
      const goodStatus = await checker.check(input(good));
      t.equal(goodStatus.status, 'good');
      t.match(goodStatus, { source: 'crl', checkedAt: Date });
      const revokedStatus = await checker.check(input(revoked));
      t.match(revokedStatus, { status: 'revoked', source: 'crl', reason: 'keyCompromise' });
      const revokedAt = (revokedStatus as { revokedAt: Date }).revokedAt.getTime();
      t.ok(revokedAt > before - 2 * 60_000 && revokedAt <= Date.now(), 'revocation date from the CRL entry');
      t.equal(files.count('/ca.crl'), 1, 'the second check used the cached CRL');
      t.equal((await checker.check(input(good))).status, 'good');
      t.equal(files.count('/ca.crl'), 1);

      const other = createRevocationChecker({ timeoutMs: 5000 });
      await other.check(input(good));
      t.equal(files.count('/ca.crl'), 2, 'another checker has its own cache (and the counter counts)');
    });

    t.test('concurrent checks share one download', async (t) => {
      files.set('/concurrent.crl', crlDer);
      const checker = createRevocationChecker({ timeoutMs: 5000 });
      const results = await Promise.all([good, revoked, good, revoked, good].map((leaf) => checker.check(input(leaf, '/concurrent.crl'))));
      t.same(results.map((r) => r.status), ['good', 'revoked', 'good', 'revoked', 'good']);
      t.equal(files.count('/concurrent.crl'), 1);
    });

    t.test('a CRL past its nextUpdate is not used: it is fetched again, and unknown when the new one is stale too', async (t) => {
      let now = new Date();
      const checker = createRevocationChecker({ timeoutMs: 5000, clock: () => now });
      files.set('/rolling.crl', crlDer);
      t.equal((await checker.check(input(good, '/rolling.crl'))).status, 'good');
      t.equal(files.count('/rolling.crl'), 1);

      now = new Date(Date.now() + 2 * HOUR); // past the first CRL's nextUpdate (1 h)
      files.set('/rolling.crl', ca.crlDer({ nextUpdateHours: 24 }));
      t.match(await checker.check(input(revoked, '/rolling.crl')), { status: 'revoked', source: 'crl' });
      t.equal(files.count('/rolling.crl'), 2, 'fetched again after nextUpdate');
      t.equal((await checker.check(input(good, '/rolling.crl'))).status, 'good');
      t.equal(files.count('/rolling.crl'), 2, 'the new CRL is cached');

      now = new Date(Date.now() + 48 * HOUR); // past the new CRL's nextUpdate; the server still has only that one
      t.match(unknownReason(await checker.check(input(good, '/rolling.crl'))), /^crl http:\S+\/rolling\.crl: expired \(the CRL nextUpdate .* has passed\)$/);
      t.equal(files.count('/rolling.crl'), 3);

      files.set('/gone.crl', crlDer);
      now = new Date();
      t.equal((await checker.check(input(good, '/gone.crl'))).status, 'good');
      now = new Date(Date.now() + 2 * HOUR);
      files.set('/gone.crl', () => { throw new Error('down'); });
      t.match(unknownReason(await checker.check(input(good, '/gone.crl'))), /: http_status \(HTTP 502\)$/, 'a failed re-fetch is unknown, not the stale CRL');
    });

    t.test('a CRL from the future is refused', async (t) => {
      const checker = createRevocationChecker({ timeoutMs: 5000, clock: () => new Date(Date.now() - 24 * HOUR) });
      t.match(unknownReason(await checker.check(input(good))), /: not_yet_valid \(the CRL thisUpdate .* is in the future\)/);
    });

    t.test('a tampered CRL is refused', async (t) => {
      const checker = createRevocationChecker({ timeoutMs: 5000 });
      files.set('/tampered-signature.crl', tamper(crlDer, -1));
      t.match(unknownReason(await checker.check(input(good, '/tampered-signature.crl'))), /: bad_signature \(the CRL signature does not verify with the key of ".*CRL Issuing CA/);
      // The revoked serial changed by one bit: without the signature check the revoked leaf would read as good.
      const serial = Buffer.from(revoked.cert.pkijs.serialNumber.valueBlock.valueHexView);
      const at = Buffer.from(crlDer).indexOf(serial);
      t.ok(at > 0, 'the serial is in the CRL');
      files.set('/tampered-entry.crl', tamper(crlDer, at + serial.length - 1));
      t.match(unknownReason(await checker.check(input(revoked, '/tampered-entry.crl'))), /: bad_signature/);
      t.equal(files.count('/tampered-entry.crl'), 1);
      t.match(unknownReason(await checker.check(input(revoked, '/tampered-entry.crl'))), /: bad_signature/);
      t.equal(files.count('/tampered-entry.crl'), 2, 'a refused CRL is not cached');
    });

    t.test('a CRL signed by another CA is refused', async (t) => {
      const checker = createRevocationChecker({ timeoutMs: 5000 });
      const otherCa = root.intermediate({ name: `Other CA ${keyType}` });
      files.set('/other.crl', otherCa.crlDer());
      t.match(unknownReason(await checker.check(input(good, '/other.crl'))), /: wrong_issuer \(the CRL was issued by another CA, not ".*CRL Issuing CA/);
      // Same name, another key: the CRL claims to come from our CA.
      const impostor = pki.root({ name: 'Impostor', subject: ca.subject, keyType });
      t.equal(impostor.cert.subject, ca.cert.subject);
      files.set('/impostor.crl', impostor.crlDer());
      t.match(unknownReason(await checker.check(input(good, '/impostor.crl'))), /: (wrong_issuer|bad_signature) /);
      // The issuer given must be the certificate's issuer.
      t.match(unknownReason(await checker.check(input(good, '/ca.crl', otherCa))), /is not the issuer of/);
    });

    t.test('garbage, oversized, missing and unsupported CRL locations are unknown', async (t) => {
      const checker = createRevocationChecker({ timeoutMs: 5000 });
      files.set('/garbage.crl', new TextEncoder().encode('<html>not a CRL</html>'));
      t.match(unknownReason(await checker.check(input(good, '/garbage.crl'))), /: malformed \(/);
      files.set('/truncated.crl', crlDer.subarray(0, crlDer.length - 10));
      t.match(unknownReason(await checker.check(input(good, '/truncated.crl'))), /: malformed \(/);
      files.set('/certificate.crl', ca.certDer);
      t.match(unknownReason(await checker.check(input(good, '/certificate.crl'))), /: malformed \(the DER is not an X\.509 CRL\)/);
      t.match(unknownReason(await checker.check(input(good, '/missing.crl'))), /: http_status \(HTTP 404\)/);
      const small = createRevocationChecker({ timeoutMs: 5000, maxCrlBytes: crlDer.length - 1 });
      t.match(unknownReason(await small.check(input(good))), new RegExp(`: too_large \\(.*${crlDer.length - 1}-byte limit\\)`));
      const ldap = await checker.check({ ...input(good), crlUrls: ['ldap://ldap.example.cn/cn=CA?certificateRevocationList'] });
      t.match(unknownReason(ldap), /unsupported_url \(ldap: URLs are not supported/);
    });

    t.test('delta, partial and out-of-scope CRLs and unknown critical extensions are refused', async (t) => {
      const checker = createRevocationChecker({ timeoutMs: 5000 });
      const refused = async (path: string, der: Uint8Array) => {
        files.set(path, der);
        return unknownReason(await checker.check(input(good, path)));
      };
      t.match(await refused('/delta.crl', crlWithExtensions(ca, ['2.5.29.27 = critical, ASN1:INTEGER:999'])), /: not_applicable \(a delta CRL is not a complete CRL\)/);
      t.match(await refused('/ca-only.crl', crlWithExtensions(ca, ['issuingDistributionPoint = critical, @idp', '[ idp ]', 'onlyCA = TRUE'])),
        /: not_applicable \(the CRL covers only CA certificates\)/);
      t.match(await refused('/some-reasons.crl', crlWithExtensions(ca, ['issuingDistributionPoint = critical, @idp', '[ idp ]', 'onlysomereasons = keyCompromise'])),
        /: not_applicable \(the CRL covers only some revocation reasons\)/);
      t.match(await refused('/unknown-critical.crl', crlWithExtensions(ca, ['1.2.3.4.5 = critical, ASN1:NULL'])), /: unsupported \(the CRL has an unknown critical extension 1\.2\.3\.4\.5\)/);
      files.set('/user-only.crl', crlWithExtensions(ca, ['issuingDistributionPoint = critical, @idp', '[ idp ]', 'onlyuser = TRUE']));
      t.match(await checker.check(input(revoked, '/user-only.crl')), { status: 'revoked', source: 'crl' }, 'a user-certificates-only CRL covers leaves');
      files.set('/root-user-only.crl', crlWithExtensions(root, ['issuingDistributionPoint = critical, @idp', '[ idp ]', 'onlyuser = TRUE']));
      t.match(unknownReason(await checker.check({ certificate: ca.cert, issuer: root.cert, ocspUrls: [], crlUrls: [files.url('/root-user-only.crl')] })),
        /: not_applicable \(the CRL covers only end-entity certificates\)/, 'but not CA certificates');
    });

    t.test('PEM CRLs are accepted', async (t) => {
      const pem = `-----BEGIN X509 CRL-----\n${Buffer.from(crlDer).toString('base64').replace(/.{1,64}/g, '$&\n')}-----END X509 CRL-----\n`;
      files.set('/pem.crl', new TextEncoder().encode(pem));
      const checker = createRevocationChecker({ timeoutMs: 5000 });
      t.match(await checker.check(input(revoked, '/pem.crl')), { status: 'revoked', reason: 'keyCompromise' });
    });
  });
}
