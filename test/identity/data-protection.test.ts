import { randomBytes } from 'node:crypto';
import t from 'tap';
import { DataProtectionError, createDataProtector, parseKeyRing } from '../../src/identity/data-protection.ts';
import type { DataProtectionErrorCode, EncryptionKey } from '../../src/identity/data-protection.ts';

const k1: EncryptionKey = { id: 'k1', key: randomBytes(32) };
const k2: EncryptionKey = { id: 'k2', key: randomBytes(32) };
const lookupKey = randomBytes(32);
const PLAINTEXT = '11010519491231002X';
const CONTEXT = 'accounts.id_number';

type Assert = Pick<typeof t, 'ok' | 'equal' | 'notMatch' | 'fail'>;

function expectCode(t: Assert, fn: () => unknown, code: DataProtectionErrorCode, name: string): void {
  try {
    fn();
    t.fail(`${name}: expected DataProtectionError ${code}`);
  } catch (error) {
    t.ok(error instanceof DataProtectionError, `${name}: is a DataProtectionError`);
    t.equal((error as DataProtectionError).code, code, `${name}: code ${code}`);
    t.notMatch((error as Error).message, PLAINTEXT, `${name}: message does not contain the plaintext`);
  }
}

function tamper(ciphertext: string, part: number): string {
  const parts = ciphertext.split('.');
  const bytes = Buffer.from(parts[part], 'base64url');
  bytes[0] ^= 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

t.test('round trip', async (t) => {
  const p = createDataProtector({ encryptionKeys: [k1], lookupKey });
  const c = p.encrypt(PLAINTEXT, CONTEXT);
  t.match(c, /^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
  t.notMatch(c, PLAINTEXT);
  t.equal(p.decrypt(c, CONTEXT), PLAINTEXT);
  t.not(p.encrypt(PLAINTEXT, CONTEXT), c, 'random IV: two encryptions differ');
  for (const text of ['', '张三', '😀 emoji', 'a'.repeat(10_000)]) {
    t.equal(p.decrypt(p.encrypt(text, CONTEXT), CONTEXT), text, `round trip ${text.slice(0, 10)}`);
  }
  t.ok(p.isCurrent(c));
});

t.test('AAD mismatch fails with tampered', async (t) => {
  const p = createDataProtector({ encryptionKeys: [k1], lookupKey });
  const c = p.encrypt(PLAINTEXT, CONTEXT);
  expectCode(t, () => p.decrypt(c, 'accounts.phone'), 'tampered', 'moved to another column');
  t.throws(() => p.encrypt(PLAINTEXT, ''), TypeError, 'context is required');
  t.throws(() => p.decrypt(c, ''), TypeError, 'context is required');
});

t.test('tampered ciphertext fails', async (t) => {
  const p = createDataProtector({ encryptionKeys: [k1], lookupKey });
  const c = p.encrypt(PLAINTEXT, CONTEXT);
  expectCode(t, () => p.decrypt(tamper(c, 2), CONTEXT), 'tampered', 'iv flipped');
  expectCode(t, () => p.decrypt(tamper(c, 3), CONTEXT), 'tampered', 'ciphertext flipped');
  expectCode(t, () => p.decrypt(tamper(c, 4), CONTEXT), 'tampered', 'tag flipped');
  const parts = c.split('.');
  const truncated = [...parts.slice(0, 3), Buffer.from(parts[3], 'base64url').subarray(1).toString('base64url'), parts[4]];
  expectCode(t, () => p.decrypt(truncated.join('.'), CONTEXT), 'tampered', 'ciphertext truncated');
  // Same key id but a different key (e.g. a mis-provisioned ring) must not decrypt either.
  const impostor = createDataProtector({ encryptionKeys: [{ id: 'k1', key: randomBytes(32) }], lookupKey });
  expectCode(t, () => impostor.decrypt(c, CONTEXT), 'tampered', 'wrong key material');
});

t.test('key rotation', async (t) => {
  const before = createDataProtector({ encryptionKeys: [k1], lookupKey });
  const after = createDataProtector({ encryptionKeys: [k2, k1], lookupKey });
  const old = before.encrypt(PLAINTEXT, CONTEXT);
  t.equal(after.decrypt(old, CONTEXT), PLAINTEXT, 'old key still decrypts');
  t.equal(after.isCurrent(old), false, 'old ciphertext is not current');
  const fresh = after.encrypt(PLAINTEXT, CONTEXT);
  t.match(fresh, /^v1\.k2\./, 'new ciphertext uses the first (current) key');
  t.equal(after.isCurrent(fresh), true);
  t.equal(before.isCurrent(fresh), false);
  expectCode(t, () => before.decrypt(fresh, CONTEXT), 'unknown_key', 'the old ring does not know k2');
});

t.test('unknown key', async (t) => {
  const p = createDataProtector({ encryptionKeys: [k1], lookupKey });
  const other = createDataProtector({ encryptionKeys: [{ id: 'k9', key: randomBytes(32) }], lookupKey });
  const c = other.encrypt(PLAINTEXT, CONTEXT);
  expectCode(t, () => p.decrypt(c, CONTEXT), 'unknown_key', 'k9');
  t.equal(p.isCurrent(c), false);
});

t.test('malformed', async (t) => {
  const p = createDataProtector({ encryptionKeys: [k1], lookupKey });
  const c = p.encrypt(PLAINTEXT, CONTEXT);
  const parts = c.split('.');
  const cases: Record<string, string> = {
    empty: '',
    plaintext: PLAINTEXT,
    'too few parts': parts.slice(0, 4).join('.'),
    'too many parts': `${c}.AAAA`,
    'wrong version': ['v2', ...parts.slice(1)].join('.'),
    'bad key id': ['v1', 'k 1', ...parts.slice(2)].join('.'),
    'short iv': ['v1', 'k1', 'AAAA', parts[3], parts[4]].join('.'),
    'short tag': ['v1', 'k1', parts[2], parts[3], 'AAAA'].join('.'),
    'standard base64 chars': ['v1', 'k1', parts[2], `${parts[3]}+/`, parts[4]].join('.'),
    'padding': ['v1', 'k1', parts[2], parts[3], `${parts[4]}==`].join('.'),
  };
  for (const [name, value] of Object.entries(cases)) {
    expectCode(t, () => p.decrypt(value, CONTEXT), 'malformed', name);
    t.equal(p.isCurrent(value), false, `${name}: isCurrent false`);
  }
});

t.test('lookup hashes', async (t) => {
  const p = createDataProtector({ encryptionKeys: [k1], lookupKey });
  const h = p.lookupHash('id_number', PLAINTEXT);
  t.match(h, /^[0-9a-f]{64}$/);
  t.equal(p.lookupHash('id_number', PLAINTEXT), h, 'deterministic');
  t.not(p.lookupHash('phone', PLAINTEXT), h, 'domain separated by kind');
  t.not(p.lookupHash('id_numbe', `r\u0000${PLAINTEXT}`), h, 'kind/value boundary is unambiguous');
  t.not(p.lookupHash('id_number', '11010519491231002x'), h);
  const otherKey = createDataProtector({ encryptionKeys: [k1], lookupKey: randomBytes(32) });
  t.not(otherKey.lookupHash('id_number', PLAINTEXT), h, 'keyed');
  t.equal(p.secretHash('id_number', PLAINTEXT).toString('hex'), h, 'secretHash is the same HMAC, raw');
  t.throws(() => p.lookupHash('', PLAINTEXT), TypeError);
  t.throws(() => p.lookupHash('a\u0000b', PLAINTEXT), TypeError);
});

t.test('equalSecret', async (t) => {
  const p = createDataProtector({ encryptionKeys: [k1], lookupKey });
  const a = p.secretHash('otp', '123456');
  t.equal(p.equalSecret(a, p.secretHash('otp', '123456')), true);
  t.equal(p.equalSecret(a, p.secretHash('otp', '123457')), false);
  t.equal(p.equalSecret(a, a.subarray(0, 16)), false, 'length mismatch does not throw');
  t.equal(p.equalSecret('abc', 'abc'), true);
  t.equal(p.equalSecret('abc', Buffer.from('abc')), true);
  t.equal(p.equalSecret('abc', 'abcd'), false);
  t.equal(p.equalSecret('', ''), true);
});

t.test('createDataProtector rejects bad configuration', async (t) => {
  t.throws(() => createDataProtector({ encryptionKeys: [], lookupKey }), /At least one/);
  t.throws(() => createDataProtector({ encryptionKeys: [{ id: 'k1', key: randomBytes(16) }], lookupKey }), /32 bytes/);
  t.throws(() => createDataProtector({ encryptionKeys: [k1, { id: 'k1', key: randomBytes(32) }], lookupKey }), /Duplicate/);
  t.throws(() => createDataProtector({ encryptionKeys: [{ id: 'k.1', key: randomBytes(32) }], lookupKey }), /key id/);
  t.throws(() => createDataProtector({ encryptionKeys: [k1], lookupKey: randomBytes(16) }), /lookup key/);
  t.throws(() => createDataProtector({ encryptionKeys: [k1], lookupKey: Buffer.from(k1.key) }), /must differ/);
});

t.test('parseKeyRing', async (t) => {
  const a = randomBytes(32);
  const b = randomBytes(32);
  const ring = parseKeyRing(`kid1:${a.toString('base64')},kid_2-x:${b.toString('base64url')}`);
  t.equal(ring.length, 2);
  t.equal(ring[0].id, 'kid1');
  t.ok(ring[0].key.equals(a));
  t.equal(ring[1].id, 'kid_2-x');
  t.ok(ring[1].key.equals(b));
  t.same(parseKeyRing(` k1 : ${a.toString('base64')} `).map((k) => k.id), ['k1'], 'surrounding spaces tolerated');
  t.ok(parseKeyRing(`k1:${a.toString('base64').replace(/=+$/, '')}`)[0].key.equals(a), 'unpadded standard base64');

  const material = b.toString('base64');
  const errors: Array<[string, RegExp]> = [
    ['', /empty/],
    ['  ', /empty/],
    [`k1:${a.toString('base64')},`, /entry 2 is empty/],
    [material, /entry 1 is not of the form/],
    [`k1:${a.toString('base64')},${material}`, /entry 2 is not of the form/],
    [`:${material}`, /entry 1: key id/],
    [`bad.id:${material}`, /entry 1: key id/],
    [`${'a'.repeat(33)}:${material}`, /entry 1: key id/],
    [`k1:${randomBytes(16).toString('base64')}`, /entry 1 \(key id "k1"\): key must decode to exactly 32 bytes, got 16/],
    [`k1:${randomBytes(33).toString('base64')}`, /entry 1 \(key id "k1"\): key must decode to exactly 32 bytes/],
    ['k1:', /entry 1 \(key id "k1"\): key is not valid base64/],
    [`k1:${material.slice(0, 10)}!${material.slice(11)}`, /entry 1 \(key id "k1"\): key is not valid base64/],
    [`k1:${a.toString('base64')},k1:${material}`, /entry 2: duplicate key id "k1"/],
  ];
  for (const [spec, expected] of errors) {
    try {
      parseKeyRing(spec);
      t.fail(`expected an error for entry ${JSON.stringify(spec.slice(0, 8))}`);
    } catch (error) {
      const message = (error as Error).message;
      t.match(message, expected, message);
      t.notMatch(message, material, 'never echoes key material');
      t.notMatch(message, a.toString('base64'), 'never echoes key material');
    }
  }
});
