import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { verifySignature } from '../../src/pki/signature.ts';
import { createTestPki, type TestLeaf } from '../helpers/test-pki.ts';

const message = new TextEncoder().encode('login challenge 7f3a9c');

/** Signs `data` with the OpenSSL CLI: an implementation independent of the verifier. */
function opensslSign(dir: string, leaf: TestLeaf, data: Uint8Array, extra: string[] = []): Uint8Array {
  const input = join(dir, 'message.bin');
  const output = join(dir, 'signature.bin');
  writeFileSync(input, data);
  const args = leaf.keyType === 'sm2'
    ? ['pkeyutl', '-sign', '-inkey', leaf.keyFile, '-rawin', '-in', input, '-digest', 'sm3', ...extra, '-out', output]
    : ['dgst', leaf.keyType === 'ec-p384' ? '-sha384' : '-sha256', '-sign', leaf.keyFile, ...extra, '-out', output, input];
  execFileSync('openssl', args);
  return new Uint8Array(readFileSync(output));
}

const flip = (bytes: Uint8Array, index: number): Uint8Array => {
  const copy = Uint8Array.from(bytes);
  copy[index] ^= 0x01;
  return copy;
};

for (const keyType of ['sm2', 'ec', 'ec-p384', 'rsa'] as const) {
  t.test(`${keyType} signatures`, async (t) => {
    const pki = createTestPki(t);
    const ca = pki.root({ name: `${keyType} Signature Root`, keyType: keyType === 'ec-p384' ? 'ec' : keyType });
    const leaf = ca.leaf({ keyType });
    const other = ca.leaf({ keyType });
    const certificate = leaf.cert;
    const verify = (signature: Uint8Array, data = message, cert = certificate) => verifySignature({ certificate: cert, message: data, signature });

    const cliSignature = opensslSign(pki.dir, leaf, message, keyType === 'sm2' ? ['-pkeyopt', 'distid:1234567812345678'] : []);
    t.equal(await verify(cliSignature), true, 'a signature made by the OpenSSL CLI');
    const der = leaf.sign(message);
    t.equal(await verify(der), true, 'DER signature from the test helper');
    t.equal(await verify(der, new TextEncoder().encode('login challenge 7f3a9d')), false, 'another message');
    t.equal(await verify(flip(der, der.length - 1)), false, 'flipped last byte');
    t.equal(await verify(flip(der, 8)), false, 'flipped byte in r');
    t.equal(await verify(der, message, other.cert), false, 'another certificate’s key');
    t.equal(await verify(other.sign(message)), false, 'signed by another key');

    if (keyType !== 'rsa') {
      const raw = leaf.sign(message, { encoding: 'raw' });
      t.equal(raw.length, keyType === 'ec-p384' ? 96 : 64, 'raw r‖s length');
      t.equal(await verify(raw), true, 'raw r‖s');
      t.equal(await verify(flip(raw, 40)), false, 'flipped raw byte');
      t.equal(await verify(new Uint8Array(raw.length)), false, 'all-zero raw signature');
    }

    for (const [label, garbage] of [
      ['empty', new Uint8Array()],
      ['one byte', new Uint8Array([0x30])],
      ['random 71 bytes', new Uint8Array(randomBytes(71))],
      ['random 64 bytes', new Uint8Array(randomBytes(64))],
      ['random 512 bytes', new Uint8Array(randomBytes(512))],
      ['DER header with no content', new Uint8Array([0x30, 0x44, 0x02, 0x20])],
    ] as const) {
      t.equal(await verify(garbage), false, `garbage signature: ${label}`);
    }
    t.equal(await verifySignature({ certificate, message: 'not bytes' as unknown as Uint8Array, signature: der }), false, 'a message that is not bytes');
  });
}

t.test('SM2 user ID: the GM/T 0009 default unless another is given', async (t) => {
  const pki = createTestPki(t);
  const leaf = pki.root({ name: 'SM2 ID Root', keyType: 'sm2' }).leaf();
  const withDefault = opensslSign(pki.dir, leaf, message, ['-pkeyopt', 'distid:1234567812345678']);
  t.equal(await verifySignature({ certificate: leaf.cert, message, signature: withDefault, sm2UserId: 'alice@example.gov.cn' }), false,
    'a default-ID signature does not verify with another ID');

  const withAlice = opensslSign(pki.dir, leaf, message, ['-pkeyopt', 'distid:alice@example.gov.cn']);
  t.equal(await verifySignature({ certificate: leaf.cert, message, signature: withAlice, sm2UserId: 'alice@example.gov.cn' }), true, 'the same ID');
  t.equal(await verifySignature({ certificate: leaf.cert, message, signature: withAlice }), false, 'the default ID');

  const emptyId = opensslSign(pki.dir, leaf, message); // OpenSSL 3.0 signs with an empty ID when none is given
  t.equal(await verifySignature({ certificate: leaf.cert, message, signature: emptyId }), false, 'an empty-ID signature is not a GM/T 0009 signature');
});

t.test('SM2 certificate in the GM/T 0015-2012 encoding', async (t) => {
  const pki = createTestPki(t);
  const leaf = pki.root({ name: 'SM2 OID Root', keyType: 'sm2' }).leaf({ sm2Encoding: 'sm2-oid' });
  t.equal(leaf.cert.pkijs.subjectPublicKeyInfo.algorithm.algorithmId, '1.2.156.10197.1.301');
  t.equal(await verifySignature({ certificate: leaf.cert, message, signature: leaf.sign(message) }), true, 'DER');
  t.equal(await verifySignature({ certificate: leaf.cert, message, signature: leaf.sign(message, { encoding: 'raw' }) }), true, 'raw');
});

t.test('RSA-PSS with SHA-256', async (t) => {
  const pki = createTestPki(t);
  const leaf = pki.root({ name: 'PSS Root', keyType: 'rsa' }).leaf();
  const pss = opensslSign(pki.dir, leaf, message, ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32']);
  t.equal(await verifySignature({ certificate: leaf.cert, message, signature: pss }), true, 'PSS from the OpenSSL CLI');
  t.equal(await verifySignature({ certificate: leaf.cert, message, signature: leaf.sign(message, { rsaPss: true }) }), true, 'PSS from the helper');
  t.equal(await verifySignature({ certificate: leaf.cert, message, signature: flip(pss, 100) }), false, 'tampered PSS');
});
