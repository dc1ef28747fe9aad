import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import t from 'tap';
import {
  isSupportedAlgorithm, LEGACY_ALGORITHMS, parseLegacyHash, verifyLegacyPassword,
} from '../../../src/accounts/legacy/legacy-hashes.ts';

// Published known answers, independent of this code and of node:crypto.
const RFC7914_PBKDF2 = Buffer.from(
  '55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783', 'hex');
const KNOWN: [string, string, string, string][] = [
  // John the Ripper / OpenBSD bcrypt test vector.
  ['bcrypt $2a$', 'bcrypt', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW', 'U*U'],
  ['bcrypt $2y$ (PHP)', 'bcrypt', '$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW', 'U*U'],
  ['bcrypt $2b$', 'bcrypt', '$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW', 'U*U'],
  // RFC 7914 §11: PBKDF2-HMAC-SHA256, P = "passwd", S = "salt", c = 1, dkLen = 64.
  ['pbkdf2 generic', 'pbkdf2-sha256', `1$c2FsdA==$${RFC7914_PBKDF2.toString('base64')}`, 'passwd'],
  ['pbkdf2 generic, URL-safe base64 unpadded', 'pbkdf2-sha256', `1$c2FsdA$${RFC7914_PBKDF2.toString('base64url')}`, 'passwd'],
  ['pbkdf2 Django form', 'pbkdf2_sha256', `pbkdf2_sha256$1$salt$${RFC7914_PBKDF2.toString('base64')}`, 'passwd'],
  // FIPS 180-2 SHA-256("abc") split as salt "a" + password "bc".
  ['sha256-salted', 'sha256-salted', '61$ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'bc'],
  ['sha256-salted-suffix', 'sha256-salted-suffix', '63$ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'ab'],
  // GB/T 32905-2016 Annex A: SM3("abc").
  ['sm3-salted', 'sm3-salted', '6162$66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0', 'c'],
  ['sm3-salted-suffix, upper-case hex', 'SM3-Salted-Suffix', '63$66C7F0F462EEEDD9D1F2D46BDC10E4E24167C4875CF2F7A2297DA02B8F4BA8E0', 'ab'],
  ['md5', 'md5', '5f4dcc3b5aa765d61d8327deb882cf99', 'password'],
];

t.test('published test vectors verify; a wrong password does not', async (t) => {
  for (const [label, algorithm, stored, password] of KNOWN) {
    t.equal(await verifyLegacyPassword(algorithm, stored, password), true, `${label}: right password`);
    t.equal(await verifyLegacyPassword(algorithm, stored, `${password}x`), false, `${label}: wrong password`);
    t.equal(await verifyLegacyPassword(algorithm, stored, ''), false, `${label}: empty password`);
    t.ok(parseLegacyHash(algorithm, stored).ok, `${label}: parses`);
  }
});

t.test('hashes computed here with node:crypto and bcryptjs, non-ASCII passwords as UTF-8', async (t) => {
  const password = '旧系统密码-Ünïcode-42';
  const salt = randomBytes(16);
  const utf8 = Buffer.from(password, 'utf8');
  const digest = (algorithm: string, ...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash(algorithm)).digest('hex');
  const cases: [string, string][] = [
    ['bcrypt', bcrypt.hashSync(password, 4)],
    ['pbkdf2-sha256', `1000$${salt.toString('base64')}$${pbkdf2Sync(utf8, salt, 1000, 32, 'sha256').toString('base64')}`],
    ['pbkdf2-sha256', `pbkdf2_sha256$1000$Ab3dEfGh$${pbkdf2Sync(utf8, 'Ab3dEfGh', 1000, 32, 'sha256').toString('base64')}`],
    ['sha256-salted', `${salt.toString('hex')}$${digest('sha256', salt, utf8)}`],
    ['sha256-salted-suffix', `${salt.toString('hex')}$${digest('sha256', utf8, salt)}`],
    ['sm3-salted', `${salt.toString('hex')}$${digest('sm3', salt, utf8)}`],
    ['sm3-salted-suffix', `${salt.toString('hex')}$${digest('sm3', utf8, salt)}`],
    ['md5', digest('md5', utf8)],
  ];
  t.same([...new Set(cases.map(([a]) => a))].sort(), [...LEGACY_ALGORITHMS].sort(), 'every supported algorithm is covered');
  for (const [algorithm, stored] of cases) {
    t.equal(await verifyLegacyPassword(algorithm, stored, password), true, `${algorithm}: right password`);
    t.equal(await verifyLegacyPassword(algorithm, stored, password.normalize('NFD')), false, `${algorithm}: bytes matter (NFD differs)`);
    t.equal(await verifyLegacyPassword(algorithm, stored, 'Correct-Horse-42'), false, `${algorithm}: wrong password`);
  }
  // The order of salt and password is part of the algorithm: the other order does not verify.
  const [, salted] = cases[3];
  t.equal(await verifyLegacyPassword('sha256-salted-suffix', salted, password), false, 'salt-first hash does not verify as salt-suffix');
});

t.test('algorithm names', async (t) => {
  for (const name of ['bcrypt', 'PBKDF2_SHA256', ' md5 ', 'sm3_salted']) t.ok(isSupportedAlgorithm(name), `${name} is supported`);
  for (const name of ['sha1', 'argon2id', 'crypt', '', 'md5-salted', 'pbkdf2-sha1']) {
    t.notOk(isSupportedAlgorithm(name), `${name || '(empty)'} is not`);
    t.same(parseLegacyHash(name, '5f4dcc3b5aa765d61d8327deb882cf99'), { ok: false, reason: 'unsupported_algorithm' });
    t.equal(await verifyLegacyPassword(name, '5f4dcc3b5aa765d61d8327deb882cf99', 'password'), false);
  }
  t.same(parseLegacyHash('PBKDF2_SHA256', ` 1$c2FsdA==$${RFC7914_PBKDF2.toString('base64')} `),
    { ok: true, algorithm: 'pbkdf2-sha256', hash: `1$c2FsdA==$${RFC7914_PBKDF2.toString('base64')}` }, 'canonical name, trimmed hash');
});

t.test('malformed hashes are refused by the parse check and never verify', async (t) => {
  const sha = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
  const malformed: [string, string][] = [
    ['bcrypt', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe'], // one character short
    ['bcrypt', '$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW'], // unknown minor version
    ['bcrypt', '$2a$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW'], // cost below 4
    ['bcrypt', '$2a$15$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW'], // cost above the cap
    ['bcrypt', '5f4dcc3b5aa765d61d8327deb882cf99'],
    ['pbkdf2-sha256', `0$c2FsdA==$${RFC7914_PBKDF2.toString('base64')}`],
    ['pbkdf2-sha256', `20000000$c2FsdA==$${RFC7914_PBKDF2.toString('base64')}`], // iterations above the cap
    ['pbkdf2-sha256', '1$c2FsdA==$c2hvcnQ='], // derived key of 5 bytes
    ['pbkdf2-sha256', '1$c2FsdA==$not base64!'],
    ['pbkdf2-sha256', `pbkdf2_sha1$1$salt$${RFC7914_PBKDF2.toString('base64')}`],
    ['pbkdf2-sha256', `pbkdf2_sha256$1$$${RFC7914_PBKDF2.toString('base64')}`], // empty salt
    ['sha256-salted', sha], // no salt
    ['sha256-salted', `$${sha}`],
    ['sha256-salted', `6$${sha}`], // odd-length hex
    ['sha256-salted', `61$${sha.slice(2)}`], // 31-byte hash
    ['sha256-salted', `zz$${sha}`],
    ['sm3-salted', `61$${sha}$extra`],
    ['md5', '5f4dcc3b5aa765d61d8327deb882cf9'],
    ['md5', '5f4dcc3b5aa765d61d8327deb882cf9g'],
    ['md5', ''],
  ];
  for (const [algorithm, stored] of malformed) {
    t.same(parseLegacyHash(algorithm, stored), { ok: false, reason: 'malformed_hash' }, `${algorithm} ${JSON.stringify(stored)}: malformed`);
    t.equal(await verifyLegacyPassword(algorithm, stored, 'U*U'), false);
  }
  t.same(parseLegacyHash('md5', 'a'.repeat(5000)), { ok: false, reason: 'malformed_hash' }, 'very long input');
});
