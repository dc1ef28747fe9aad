import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createRevocationChecker, describeRevocation } from '../../src/pki/revocation/revocation-checker.ts';
import type { RevocationStatus } from '../../src/pki/types.ts';
import { serveFiles, silentServer, startOcspResponder } from '../helpers/revocation-fixtures.ts';
import { freePort } from '../helpers/runtime.ts';
import { createTestPki } from '../helpers/test-pki.ts';

function unknownReason(status: RevocationStatus): string {
  if (status.status !== 'unknown') throw new Error(`expected unknown, got ${JSON.stringify(status)}`);
  return status.reason;
}

t.test('OCSP first, CRL as fallback, all within one time budget', async (t) => {
  const pki = createTestPki(t);
  const ca = pki.root({ name: 'Checker Root', keyType: 'sm2' }).intermediate({ name: 'Checker CA' });
  const good = ca.leaf({ name: 'Good Leaf' });
  const revoked = ca.leaf({ name: 'Revoked Leaf' });
  ca.revoke(revoked, 'cessationOfOperation');
  const files = await serveFiles(t);
  files.set('/ca.crl', ca.crlDer());
  const responder = await startOcspResponder(t, ca, { signer: ca.ocspSigner() });
  files.set('/ocsp', async (body) => {
    const response = await fetch(responder.url, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: new Uint8Array(body) });
    return new Uint8Array(await response.arrayBuffer());
  });
  const silent = await silentServer(t);
  const crl = files.url('/ca.crl');
  const ocsp = files.url('/ocsp');

  t.test('OCSP is asked first; prefer crl reverses the order', async (t) => {
    const checker = createRevocationChecker({ timeoutMs: 5000 });
    t.match(await checker.check({ certificate: good.cert, issuer: ca.cert, ocspUrls: [ocsp], crlUrls: [crl] }), { status: 'good', source: 'ocsp' });
    t.equal(files.count('/ca.crl'), 0, 'the CRL was not needed');
    t.match(await checker.check({ certificate: revoked.cert, issuer: ca.cert, ocspUrls: [ocsp], crlUrls: [crl], prefer: 'crl' }),
      { status: 'revoked', source: 'crl', reason: 'cessationOfOperation' });
    t.equal(files.count('/ocsp'), 1, 'OCSP was not asked about the second certificate');
    t.equal(files.count('/ca.crl'), 1);
  });

  t.test('a cached answer from either source is used before any network access', async (t) => {
    const checker = createRevocationChecker({ timeoutMs: 5000 });
    await checker.check({ certificate: good.cert, issuer: ca.cert, ocspUrls: [], crlUrls: [crl] });
    const asked = files.count('/ocsp');
    t.match(await checker.check({ certificate: revoked.cert, issuer: ca.cert, ocspUrls: [ocsp], crlUrls: [crl] }), { status: 'revoked', source: 'crl' });
    t.equal(files.count('/ocsp'), asked, 'the cached CRL answered');
  });

  t.test('a responder that never answers: the CRL fallback still runs within the budget', async (t) => {
    const checker = createRevocationChecker({ timeoutMs: 2000 });
    const status = await checker.check({ certificate: revoked.cert, issuer: ca.cert, ocspUrls: [silent.url], crlUrls: [crl] });
    t.match(status, { status: 'revoked', source: 'crl' });
    t.ok(silent.connections() >= 1, 'the silent responder was asked');
  });

  t.test('a responder that never answers and no fallback: unknown with a timeout reason', async (t) => {
    const checker = createRevocationChecker({ timeoutMs: 1000 });
    t.match(unknownReason(await checker.check({ certificate: good.cert, issuer: ca.cert, ocspUrls: [silent.url], crlUrls: [] })),
      /^ocsp http:\/\/127\.0\.0\.1:\d+\/: timeout \(no answer within \d+ ms\)$/);
    const both = await checker.check({ certificate: good.cert, issuer: ca.cert, ocspUrls: [silent.url], crlUrls: [`${silent.url}ca.crl`] });
    // The CRL's share or the whole budget may run out first (a loaded machine): either way it is the CRL's timeout.
    t.match(unknownReason(both), /^ocsp \S+: timeout \(no answer within \d+ ms\); crl \S+ca\.crl: timeout \((no answer within \d+ ms|the \d+ ms budget ran out)\)$/);
  });

  t.test('every source failing: unknown, naming each failure', async (t) => {
    files.set('/garbage', new Uint8Array([1, 2, 3]));
    const closedPort = await freePort();
    const checker = createRevocationChecker({ timeoutMs: 5000 });
    const reason = unknownReason(await checker.check({
      certificate: good.cert, issuer: ca.cert, ocspUrls: [files.url('/garbage'), `http://127.0.0.1:${closedPort}/`], crlUrls: [files.url('/missing.crl'), 'ldap://x/'],
    }));
    const parts = reason.split('; ');
    t.equal(parts.length, 4);
    t.match(parts[0], /^ocsp \S+\/garbage: malformed \(/);
    t.match(parts[1], new RegExp(`^ocsp http://127\\.0\\.0\\.1:${closedPort}/: network \\(ECONNREFUSED\\)$`));
    t.match(parts[2], /^crl \S+\/missing\.crl: http_status \(HTTP 404\)$/);
    t.match(parts[3], /^crl ldap:\/\/x\/: unsupported_url \(/);
  });

  t.test('a responder that does not know the certificate: the CRL answers', async (t) => {
    const snapshot = join(ca.dir, 'index-snapshot.txt');
    copyFileSync(ca.indexFile, snapshot);
    const outdated = await startOcspResponder(t, ca, { indexFile: snapshot });
    const late = ca.leaf({ name: 'Issued After The Snapshot' });
    const checker = createRevocationChecker({ timeoutMs: 5000 });
    t.match(await checker.check({ certificate: late.cert, issuer: ca.cert, ocspUrls: [outdated.url], crlUrls: [] }),
      { status: 'unknown', reason: /^ocsp \S+: unknown_certificate \(the responder does not know the certificate\)$/ });
    t.match(await checker.check({ certificate: late.cert, issuer: ca.cert, ocspUrls: [outdated.url], crlUrls: [crl] }), { status: 'good', source: 'crl' });
  });

  t.test('nothing to ask, or the wrong issuer', async (t) => {
    const checker = createRevocationChecker({ timeoutMs: 5000 });
    t.same(await checker.check({ certificate: good.cert, issuer: ca.cert, ocspUrls: [], crlUrls: [] }),
      { status: 'unknown', reason: 'the certificate names no OCSP responder and no CRL distribution point' });
    t.match(unknownReason(await checker.check({ certificate: good.cert, issuer: good.cert, ocspUrls: [ocsp], crlUrls: [crl] })),
      /^"C=CN, O=Test PKI, CN=Good Leaf" is not the issuer of "C=CN, O=Test PKI, CN=Good Leaf"$/);
  });

  t.test('the URLs in the certificate are what the login passes', async (t) => {
    const located = ca.leaf({ name: 'Located Leaf', ocspUrl: ocsp, crlUrl: crl });
    await responder.restart();
    const checker = createRevocationChecker({ timeoutMs: 5000 });
    t.match(await checker.check({ certificate: located.cert, issuer: ca.cert, ocspUrls: located.cert.ocspUrls, crlUrls: located.cert.crlDistributionPoints }),
      { status: 'good', source: 'ocsp' });
  });
});

t.test('describeRevocation', async (t) => {
  const at = new Date('2026-01-02T03:04:05Z');
  t.equal(describeRevocation({ status: 'good', source: 'ocsp', checkedAt: at }), 'not revoked (ocsp, checked 2026-01-02T03:04:05.000Z)');
  t.equal(describeRevocation({ status: 'revoked', source: 'crl', revokedAt: at, reason: 'keyCompromise' }), 'revoked (crl, since 2026-01-02T03:04:05.000Z, keyCompromise)');
  t.equal(describeRevocation({ status: 'revoked', source: 'ocsp' }), 'revoked (ocsp)');
  t.equal(describeRevocation({ status: 'unknown', reason: 'crl x: expired' }), 'revocation status unknown: crl x: expired');
});
