// Password hashes exported by legacy systems, verified once at the person's first login and then replaced by argon2id.
//
// One unambiguous textual form per algorithm (the import file's `hash_algorithm` and `password_hash` columns):
//
//   bcrypt                 $2a$|$2b$|$2y$, two-digit cost 04–14, 53 characters of bcrypt base64 (salt + hash)
//   pbkdf2-sha256          pbkdf2_sha256$ITERATIONS$SALT$HASH_B64   (Django: SALT is used as its UTF-8 bytes, as is)
//                          ITERATIONS$SALT_B64$HASH_B64             (SALT_B64 is decoded to the salt bytes)
//                          ITERATIONS 1–10,000,000; HASH_B64 decodes to 16–64 bytes, the derived key length
//   sha256-salted          SALT_HEX$HASH_HEX   HASH = SHA-256(salt bytes ‖ UTF-8 password)
//   sha256-salted-suffix   SALT_HEX$HASH_HEX   HASH = SHA-256(UTF-8 password ‖ salt bytes)
//   sm3-salted             SALT_HEX$HASH_HEX   HASH = SM3(salt bytes ‖ UTF-8 password)      (GB/T 32905)
//   sm3-salted-suffix      SALT_HEX$HASH_HEX   HASH = SM3(UTF-8 password ‖ salt bytes)
//   md5                    HASH_HEX            HASH = MD5(UTF-8 password), unsalted
//
// SALT_HEX is 1–256 bytes; a textual salt is exported as the hex of its UTF-8 bytes. Hex is case-insensitive,
// base64 may be standard or URL-safe, with or without padding. Algorithm names are case-insensitive and `_` may
// stand for `-` (so Django's `pbkdf2_sha256` is accepted as a name too).
import { createHash, pbkdf2, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';

export const LEGACY_ALGORITHMS = [
  'bcrypt', 'pbkdf2-sha256', 'sha256-salted', 'sha256-salted-suffix', 'sm3-salted', 'sm3-salted-suffix', 'md5',
] as const;

export type LegacyAlgorithm = (typeof LEGACY_ALGORITHMS)[number];

export type LegacyHashProblem = 'unsupported_algorithm' | 'malformed_hash';

export type ParsedLegacyHash =
  | { ok: true; algorithm: LegacyAlgorithm; hash: string }
  | { ok: false; reason: LegacyHashProblem };

// A stored hash's cost is paid at login, in this process: the caps bound that (bcryptjs at cost 14 ≈ 1 s here).
export const MAX_BCRYPT_COST = 14;
export const MAX_PBKDF2_ITERATIONS = 10_000_000;
const MAX_SALT_BYTES = 256;
const MAX_STORED_LENGTH = 1024;

type Check =
  | { kind: 'bcrypt'; stored: string }
  | { kind: 'pbkdf2'; iterations: number; salt: Buffer; expected: Buffer }
  | { kind: 'digest'; digest: 'sha256' | 'sm3' | 'md5'; salt: Buffer; saltFirst: boolean; expected: Buffer };

const pbkdf2Async = promisify(pbkdf2);

export function normalizeAlgorithm(algorithm: string): string {
  return algorithm.trim().toLowerCase().replace(/_/g, '-');
}

export function isSupportedAlgorithm(algorithm: string): algorithm is LegacyAlgorithm {
  return (LEGACY_ALGORITHMS as readonly string[]).includes(normalizeAlgorithm(algorithm));
}

function hex(text: string, minBytes: number, maxBytes: number): Buffer | undefined {
  if (!/^[0-9a-fA-F]*$/.test(text) || text.length % 2 !== 0) return undefined;
  const bytes = Buffer.from(text, 'hex');
  return bytes.length >= minBytes && bytes.length <= maxBytes ? bytes : undefined;
}

function base64(text: string, minBytes: number, maxBytes: number): Buffer | undefined {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return undefined;
  const bare = text.replace(/=+$/, '');
  // A length of 1 mod 4 cannot come from any byte string: some other text was cut or mangled.
  if (bare.length % 4 === 1) return undefined;
  const bytes = Buffer.from(bare.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return bytes.length >= minBytes && bytes.length <= maxBytes ? bytes : undefined;
}

function iterations(text: string): number | undefined {
  if (!/^[1-9]\d{0,7}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_PBKDF2_ITERATIONS ? n : undefined;
}

function parsePbkdf2(stored: string): Check | undefined {
  const parts = stored.split('$');
  if (parts.length === 4 && parts[0] === 'pbkdf2_sha256') {
    const [, iter, salt, hash] = parts;
    const n = iterations(iter);
    const expected = base64(hash, 16, 64);
    if (n === undefined || expected === undefined || !/^[\x21-\x7e]{1,256}$/.test(salt)) return undefined;
    return { kind: 'pbkdf2', iterations: n, salt: Buffer.from(salt, 'utf8'), expected };
  }
  if (parts.length === 3) {
    const n = iterations(parts[0]);
    const salt = base64(parts[1], 1, MAX_SALT_BYTES);
    const expected = base64(parts[2], 16, 64);
    if (n === undefined || salt === undefined || expected === undefined) return undefined;
    return { kind: 'pbkdf2', iterations: n, salt, expected };
  }
  return undefined;
}

function parseSalted(stored: string, digest: 'sha256' | 'sm3', saltFirst: boolean): Check | undefined {
  const parts = stored.split('$');
  if (parts.length !== 2) return undefined;
  const salt = hex(parts[0], 1, MAX_SALT_BYTES);
  const expected = hex(parts[1], 32, 32);
  if (salt === undefined || expected === undefined) return undefined;
  return { kind: 'digest', digest, salt, saltFirst, expected };
}

function parseCheck(algorithm: LegacyAlgorithm, stored: string): Check | undefined {
  switch (algorithm) {
    case 'bcrypt': {
      const match = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/.exec(stored);
      if (!match) return undefined;
      const cost = Number(match[1]);
      return cost >= 4 && cost <= MAX_BCRYPT_COST ? { kind: 'bcrypt', stored } : undefined;
    }
    case 'pbkdf2-sha256':
      return parsePbkdf2(stored);
    case 'sha256-salted':
      return parseSalted(stored, 'sha256', true);
    case 'sha256-salted-suffix':
      return parseSalted(stored, 'sha256', false);
    case 'sm3-salted':
      return parseSalted(stored, 'sm3', true);
    case 'sm3-salted-suffix':
      return parseSalted(stored, 'sm3', false);
    case 'md5': {
      const expected = hex(stored, 16, 16);
      return expected ? { kind: 'digest', digest: 'md5', salt: Buffer.alloc(0), saltFirst: true, expected } : undefined;
    }
  }
}

/**
 * What the importer stores, or why it cannot: `hash` is the trimmed input, `algorithm` the canonical name.
 * Never echoes the hash in a reason.
 */
export function parseLegacyHash(algorithm: string, stored: string): ParsedLegacyHash {
  const name = normalizeAlgorithm(algorithm);
  if (!isSupportedAlgorithm(name)) return { ok: false, reason: 'unsupported_algorithm' };
  const hash = stored.trim();
  if (hash.length > MAX_STORED_LENGTH || parseCheck(name, hash) === undefined) return { ok: false, reason: 'malformed_hash' };
  return { ok: true, algorithm: name, hash };
}

function equal(actual: Buffer, expected: Buffer): boolean {
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** False for a wrong password, an unsupported algorithm or a malformed hash alike; never throws on bad input. */
export async function verifyLegacyPassword(algorithm: string, stored: string, password: string): Promise<boolean> {
  const parsed = parseLegacyHash(algorithm, stored);
  if (!parsed.ok) return false;
  const check = parseCheck(parsed.algorithm, parsed.hash)!;
  const secret = Buffer.from(password, 'utf8');
  switch (check.kind) {
    case 'bcrypt': {
      // Recompute with the stored salt and compare ourselves, so that the comparison is constant-time by construction.
      const recomputed = await bcrypt.hash(password, check.stored.slice(0, 29));
      return equal(Buffer.from(recomputed, 'utf8'), Buffer.from(check.stored, 'utf8'));
    }
    case 'pbkdf2':
      return equal(await pbkdf2Async(secret, check.salt, check.iterations, check.expected.length, 'sha256'), check.expected);
    case 'digest': {
      const input = check.saltFirst ? [check.salt, secret] : [secret, check.salt];
      const hash = createHash(check.digest);
      for (const part of input) hash.update(part);
      return equal(hash.digest(), check.expected);
    }
  }
}
