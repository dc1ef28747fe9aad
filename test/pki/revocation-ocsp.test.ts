import * as pkijs from 'pkijs';
import t from 'tap';
import { buildOcspRequest } from '../../src/pki/revocation/ocsp-client.ts';
import { createRevocationChecker, type RevocationCheckInput } from '../../src/pki/revocation/revocation-checker.ts';
import type { ParsedCertificate, RevocationStatus } from '../../src/pki/types.ts';
import { serveFiles, startOcspResponder } from '../helpers/revocation-fixtures.ts';
import { createTestPki, type TestKeyType } from '../helpers/test-pki.ts';

function unknownReason(status: RevocationStatus): string {
  if (status.status !== 'unknown') throw new Error(`expected unknown, got ${JSON.stringify(status)}`);
  return status.reason;
}

async function post(url: string, body: Uint8Array): Promise<Uint8Array> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: new Uint8Array(body) });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** An OCSP request without the nonce extension, as old clients send it. */
async function requestWithoutNonce(certificate: ParsedCertificate, issuer: ParsedCertificate): Promise<Uint8Array> {
  const request = new pkijs.OCSPRequest();
  await request.createForCertificate(certificate.pkijs, { hashAlgorithm: 'SHA-1', issuerCertificate: issuer.pkijs });
  return new Uint8Array(request.toSchema(true).toBER(false));
}

const cases: { keyType: TestKeyType; signer: 'delegated' | 'ca' }[] = [
  { keyType: 'rsa', signer: 'delegated' },
  { keyType: 'sm2', signer: 'delegated' },
  { keyType: 'sm2', signer: 'ca' },
  { keyType: 'ec', signer: 'ca' },
];

for (const { keyType, signer } of cases) {
  t.test(`OCSP with an ${keyType.toUpperCase()} CA, responses signed by the ${signer === 'ca' ? 'CA itself' : 'delegated responder'}`, async (t) => {
    const pki = createTestPki(t);
    const root = pki.root({ name: `OCSP Root ${keyType}`, keyType });
    const ca = root.intermediate({ name: `OCSP Issuing CA ${keyType}` });
    const good = ca.leaf({ name: 'Good Leaf' });
    const revoked = ca.leaf({ name: 'Revoked Leaf' });
    ca.revoke(revoked, 'keyCompromise');
    const responder = await startOcspResponder(t, ca, signer === 'delegated' ? { signer: ca.ocspSigner() } : {});
    const files = await serveFiles(t);
    const input = (certificate: ParsedCertificate, url = responder.url): RevocationCheckInput =>
      ({ certificate, issuer: ca.cert, ocspUrls: [url], crlUrls: [] });

    t.test('good and revoked, with SHA-1 and SM3 CertIDs', async (t) => {
      const checker = createRevocationChecker({ timeoutMs: 5000 });
      t.match(await checker.check(input(good.cert)), { status: 'good', source: 'ocsp', checkedAt: Date });
      const status = await checker.check(input(revoked.cert));
      t.match(status, { status: 'revoked', source: 'ocsp', reason: 'keyCompromise' });
      t.ok(Math.abs((status as { revokedAt: Date }).revokedAt.getTime() - Date.now()) < 10 * 60_000, 'revocation time from the response');
      for (const ocspHash of ['SM3', 'SHA-256'] as const) {
        const other = createRevocationChecker({ timeoutMs: 5000 });
        t.match(await other.check({ ...input(revoked.cert), ocspHash }), { status: 'revoked', source: 'ocsp' }, `${ocspHash} CertID`);
        t.match(await other.check({ ...input(good.cert), ocspHash }), { status: 'good', source: 'ocsp' }, `${ocspHash} CertID`);
      }
    });

    t.test('answers are cached until nextUpdate', async (t) => {
      const shortLived = await startOcspResponder(t, ca, { ...(signer === 'delegated' ? { signer: ca.ocspSigner() } : {}), nextUpdateMinutes: 1 });
      let now = new Date();
      let target = shortLived.url;
      files.set('/cached', (body) => post(target, body));
      const url = files.url('/cached');
      const checker = createRevocationChecker({ timeoutMs: 5000, clock: () => now });
      t.equal((await checker.check(input(good.cert, url))).status, 'good');
      t.equal((await checker.check(input(good.cert, url))).status, 'good');
      t.equal((await checker.check(input(revoked.cert, url))).status, 'revoked');
      t.equal((await checker.check(input(revoked.cert, url))).status, 'revoked');
      t.equal(files.count('/cached'), 2, 'one request per certificate');
      now = new Date(Date.now() + 2 * 60_000); // past the cached answers' nextUpdate (1 min), within the 5-min responder's
      target = responder.url;
      t.equal((await checker.check(input(good.cert, url))).status, 'good');
      t.equal(files.count('/cached'), 3, 'asked again after nextUpdate');
      t.equal((await checker.check(input(good.cert, url))).status, 'good');
      t.equal(files.count('/cached'), 3);
    });

    t.test('a response past nextUpdate or from the future is refused', async (t) => {
      const late = createRevocationChecker({ timeoutMs: 5000, clock: () => new Date(Date.now() + 6 * 60_000) });
      t.match(unknownReason(await late.check(input(good.cert))), /^ocsp http:\S+: expired \(the response nextUpdate .* has passed\)$/);
      const early = createRevocationChecker({ timeoutMs: 5000, clock: () => new Date(Date.now() - 60 * 60_000) });
      t.match(unknownReason(await early.check(input(good.cert))), /: not_yet_valid \(the response thisUpdate .* is in the future\)/);
    });

    t.test('a replayed response (another nonce) is refused; a response without nonce only when allowed', async (t) => {
      const earlier = await buildOcspRequest(revoked.cert, ca.cert);
      files.set('/replay', await post(responder.url, earlier.der));
      const checker = createRevocationChecker({ timeoutMs: 5000 });
      t.match(unknownReason(await checker.check(input(revoked.cert, files.url('/replay')))),
        /: nonce_mismatch \(the response nonce differs from the request nonce/);

      files.set('/no-nonce', await post(responder.url, await requestWithoutNonce(good.cert, ca.cert)));
      t.match(unknownReason(await checker.check(input(good.cert, files.url('/no-nonce')))), /: nonce_missing \(the response carries no nonce\)/);
      const lenient = createRevocationChecker({ timeoutMs: 5000, requireOcspNonce: false });
      t.match(await lenient.check(input(good.cert, files.url('/no-nonce'))), { status: 'good', source: 'ocsp' });
      t.match(unknownReason(await lenient.check(input(revoked.cert, files.url('/no-nonce')))), /: no_matching_response/,
        'a response about another certificate is never taken for this one');
    });

    t.test('a restart picks up new certificates; the responder of another CA may not answer', async (t) => {
      const stranger = ca.leaf({ name: 'Issued After Start' }); // not in the index the responder loaded
      await responder.restart();
      const checker = createRevocationChecker({ timeoutMs: 5000 });
      t.equal((await checker.check(input(stranger.cert))).status, 'good', 'known after a restart');
      const otherCa = root.intermediate({ name: `Unrelated CA ${keyType}` });
      const foreign = otherCa.leaf({ name: 'Foreign Leaf' });
      t.match(unknownReason(await checker.check({ certificate: foreign.cert, issuer: otherCa.cert, ocspUrls: [responder.url], crlUrls: [] })),
        /: unauthorized_responder \(/, 'the responder of another CA may not answer for this CA');
    });

    t.test('revoking after start needs a restart of openssl ocsp', async (t) => {
      const later = ca.leaf({ name: 'Revoked Later' });
      ca.revoke(later, 'superseded');
      await responder.restart();
      const checker = createRevocationChecker({ timeoutMs: 5000 });
      t.match(await checker.check(input(later.cert)), { status: 'revoked', reason: 'superseded' });
    });
  });
}

t.test('responder authorisation', async (t) => {
  const pki = createTestPki(t);
  for (const keyType of ['rsa', 'sm2'] as const) {
    const root = pki.root({ name: `Auth Root ${keyType}`, keyType });
    const ca = root.intermediate({ name: `Auth CA ${keyType}` });
    const leaf = ca.leaf({ name: 'Leaf' });
    const input = (url: string): RevocationCheckInput => ({ certificate: leaf.cert, issuer: ca.cert, ocspUrls: [url], crlUrls: [] });
    const checker = createRevocationChecker({ timeoutMs: 5000 });

    const noEku = ca.leaf({ name: 'Not An OCSP Signer', keyUsage: ['digitalSignature'] });
    const withoutEku = await startOcspResponder(t, ca, { signer: noEku });
    t.match(unknownReason(await checker.check(input(withoutEku.url))),
      /: unauthorized_responder \("C=CN, O=Test PKI, CN=Not An OCSP Signer" lacks the id-kp-OCSPSigning extended key usage\)/, `${keyType}: no OCSPSigning EKU`);

    const sibling = root.intermediate({ name: `Sibling CA ${keyType}` });
    const foreignSigner = await startOcspResponder(t, ca, { signer: sibling.ocspSigner() });
    t.match(unknownReason(await checker.check(input(foreignSigner.url))),
      /: unauthorized_responder \(.*was not issued by "C=CN, O=Test PKI, CN=Auth CA/, `${keyType}: an OCSP signer of another CA`);

    // Same issuer name as the CA, another key: the responder certificate is not signed by the CA.
    const impostor = pki.root({ name: 'Impostor', subject: ca.subject, keyType });
    const impostorSigner = await startOcspResponder(t, ca, { signer: impostor.ocspSigner() });
    t.match(unknownReason(await checker.check(input(impostorSigner.url))),
      /: unauthorized_responder \(the certificate of .* is not signed by the key of "C=CN, O=Test PKI, CN=Auth CA/, `${keyType}: responder certificate from an impostor CA`);

    const rootSigned = await startOcspResponder(t, ca, { signer: root });
    t.match(unknownReason(await checker.check(input(rootSigned.url))), /: unauthorized_responder \(/, `${keyType}: signed by the root, not by the issuer`);

    const expiredSigner = await startOcspResponder(t, ca, { signer: ca.ocspSigner({ expired: true }) });
    t.match(unknownReason(await checker.check(input(expiredSigner.url))), /: unauthorized_responder \(.*is not valid now\)/, `${keyType}: expired responder certificate`);

    // Genuine responses with one bit of the signature flipped.
    const files = await serveFiles(t);
    const lenient = createRevocationChecker({ timeoutMs: 5000, requireOcspNonce: false });
    for (const [label, options] of [['delegated', { signer: ca.ocspSigner() }], ['CA', {}]] as const) {
      const genuine = await startOcspResponder(t, ca, options);
      const response = await post(genuine.url, await requestWithoutNonce(leaf.cert, ca.cert));
      files.set(`/genuine-${label}`, response);
      t.equal((await lenient.check(input(files.url(`/genuine-${label}`)))).status, 'good', `${keyType}: genuine ${label}-signed response`);
      const tampered = new Uint8Array(response);
      const signatureAt = Buffer.from(response).lastIndexOf(Buffer.from((options as { signer?: { certDer: Uint8Array } }).signer?.certDer ?? ca.certDer));
      tampered[(signatureAt > 0 ? signatureAt : tampered.length) - 20] ^= 0x01; // inside the signature BIT STRING, before the certs
      files.set(`/tampered-${label}`, tampered);
      const fresh = createRevocationChecker({ timeoutMs: 5000, requireOcspNonce: false });
      t.match(unknownReason(await fresh.check(input(files.url(`/tampered-${label}`)))), /: bad_signature \(the response signature does not verify/,
        `${keyType}: tampered ${label}-signed response`);
    }

    const byKey = await startOcspResponder(t, ca, { signer: ca.ocspSigner(), extraArgs: ['-resp_key_id'] });
    t.equal((await checker.check(input(byKey.url))).status, 'good', `${keyType}: responderID byKey`);
  }
});
