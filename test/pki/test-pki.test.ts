import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import t from 'tap';
import { installGmEngine } from '../../src/pki/gm-engine.ts';
import { createTestPki, SM2_SIGN_OPTIONS } from '../helpers/test-pki.ts';

// Checks that the helper's revocation material is what src/pki/revocation needs: a CLI-signed CRL and OCSP
// response that pkijs (with the GM engine for SM2) verifies, for the CA's own index.txt.

installGmEngine();

for (const keyType of ['rsa', 'sm2'] as const) {
  t.test(`${keyType}: revoke, CRL and OCSP from the CA database`, async (t) => {
    const pki = createTestPki(t);
    const root = pki.root({ name: `${keyType} Revocation Root`, keyType });
    const ca = root.intermediate({ name: `${keyType} Revocation CA` });
    const good = ca.leaf({ name: 'Good' });
    const revoked = ca.leaf({ name: 'Revoked' });
    ca.revoke(revoked, 'keyCompromise');
    t.match(readFileSync(ca.indexFile, 'utf8'), /^R\t.*keyCompromise/m, 'index.txt records the revocation');

    const crlDer = ca.crlDer({ nextUpdateHours: 2 });
    const crl = pkijs.CertificateRevocationList.fromBER(crlDer);
    t.equal(await crl.verify({ issuerCertificate: ca.cert.pkijs }), true, 'the CRL signature verifies with the CA key');
    t.equal(await crl.verify({ issuerCertificate: root.cert.pkijs }), false, 'and not with another key');
    t.equal(crl.isCertificateRevoked(revoked.cert.pkijs), true, 'the revoked leaf is listed');
    t.equal(crl.isCertificateRevoked(good.cert.pkijs), false, 'the good leaf is not');
    const hours = (crl.nextUpdate!.value.getTime() - crl.thisUpdate.value.getTime()) / 3_600_000;
    t.ok(hours > 1.9 && hours < 2.1, `nextUpdate about 2 hours after thisUpdate (${hours})`);
    const stale = pkijs.CertificateRevocationList.fromBER(ca.crlDer({ lastUpdate: new Date(Date.now() - 48 * 3_600_000), nextUpdate: new Date(Date.now() - 24 * 3_600_000) }));
    t.ok(stale.nextUpdate!.value < new Date(), 'a CRL can be made already stale');

    const responder = ca.ocspSigner();
    t.same(responder.cert.extendedKeyUsage, ['1.3.6.1.5.5.7.3.9'], 'responder EKU OCSPSigning');
    t.ok(responder.cert.pkijs.extensions?.some((e) => e.extnID === '1.3.6.1.5.5.7.48.1.5'), 'responder has ocspNoCheck');
    t.equal(responder.cert.issuer, ca.cert.subject, 'issued by the CA');

    for (const [leaf, expected] of [[good, 'good'], [revoked, 'revoked']] as const) {
      const request = join(pki.dir, `${expected}-req.der`);
      const response = join(pki.dir, `${expected}-resp.der`);
      execFileSync('openssl', ['ocsp', '-issuer', ca.certFile, '-cert', leaf.certFile, '-reqout', request, '-no_nonce']);
      execFileSync('openssl', ['ocsp', '-index', ca.indexFile, '-CA', ca.certFile, '-rsigner', responder.certFile, '-rkey', responder.keyFile,
        '-reqin', request, '-respout', response, '-ndays', '1',
        ...(keyType === 'sm2' ? ['-rmd', 'sm3', '-rsigopt', SM2_SIGN_OPTIONS[1]] : [])]);
      const ocsp = pkijs.OCSPResponse.fromBER(new Uint8Array(readFileSync(response)));
      const basic = pkijs.BasicOCSPResponse.fromBER(new Uint8Array(ocsp.responseBytes!.response.valueBlock.valueHexView));
      t.equal(await basic.verify({ trustedCerts: [ca.cert.pkijs] }), true, `${expected}: the OCSP response verifies`);
      const status = await basic.getCertificateStatus(leaf.cert.pkijs, ca.cert.pkijs);
      t.equal(status.isForCertificate, true, `${expected}: response is for the leaf`);
      t.equal(status.status, expected === 'good' ? 0 : 1, `${expected}: status`);
    }
  });
}

t.test('leaves carry the requested extensions and validity', async (t) => {
  const pki = createTestPki(t);
  const ca = pki.root({ name: 'Helper Root', keyType: 'sm2' });
  const leaf = ca.leaf({ name: '身份', idNumber: '11010519491231002X', crlUrl: 'http://crl.example/ca.crl', ocspUrl: 'http://ocsp.example' });
  const identify = leaf.cert.pkijs.extensions?.find((e) => e.extnID === '1.2.156.10260.4.1.1');
  const element = asn1js.fromBER(identify!.extnValue.valueBlock.valueHexView).result;
  t.equal(element.idBlock.tagClass, 3, 'IdentifyCode is context-tagged');
  t.equal(element.idBlock.tagNumber, 0, 'with tag [0]');
  t.same(leaf.cert.crlDistributionPoints, ['http://crl.example/ca.crl']);
  t.same(leaf.cert.ocspUrls, ['http://ocsp.example']);
  t.equal(leaf.cert.subjectAttributes.find((a) => a.type === '2.5.4.3')?.value, '身份', 'UTF-8 common name');

  const expired = ca.leaf({ expired: true });
  t.ok(expired.cert.notAfter < new Date(), 'expired: true ends in the past');
  const future = ca.leaf({ notYetValid: true });
  t.ok(future.cert.notBefore > new Date(), 'notYetValid: true starts in the future');
});
