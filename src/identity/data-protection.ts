// Protection of personal data at rest: AES-256-GCM column encryption with a key ring, and keyed lookup hashes.
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type EncryptionKey = { id: string; key: Buffer };

export type DataProtectionErrorCode = 'unknown_key' | 'malformed' | 'tampered';

export class DataProtectionError extends Error {
  readonly code: DataProtectionErrorCode;

  constructor(code: DataProtectionErrorCode, message: string) {
    super(message);
    this.name = 'DataProtectionError';
    this.code = code;
  }
}

export type DataProtector = {
  encrypt(plaintext: string, context: string): string;
  decrypt(ciphertext: string, context: string): string;
  isCurrent(ciphertext: string): boolean;
  lookupHash(kind: string, value: string): string;
  secretHash(kind: string, value: string): Buffer;
  equalSecret(a: Buffer | string, b: Buffer | string): boolean;
};

const VERSION = 'v1';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

type Envelope = { keyId: string; iv: Buffer; data: Buffer; tag: Buffer };

function decodeBase64url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  // Reject non-canonical encodings so that each ciphertext has exactly one textual form.
  return bytes.toString('base64url') === text ? bytes : undefined;
}

function parseEnvelope(ciphertext: string): Envelope | undefined {
  if (typeof ciphertext !== 'string') return undefined;
  const parts = ciphertext.split('.');
  if (parts.length !== 5 || parts[0] !== VERSION || !KEY_ID.test(parts[1])) return undefined;
  const iv = decodeBase64url(parts[2]);
  const data = decodeBase64url(parts[3]);
  const tag = decodeBase64url(parts[4]);
  if (iv === undefined || data === undefined || tag === undefined) return undefined;
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return undefined;
  return { keyId: parts[1], iv, data, tag };
}

function checkContext(context: string): void {
  if (typeof context !== 'string' || context === '') {
    throw new TypeError('A non-empty context (e.g. "accounts.id_number") is required');
  }
}

function checkKind(kind: string): void {
  // The kind is separated from the value by NUL, so a NUL inside the kind would make the input ambiguous.
  if (typeof kind !== 'string' || kind === '' || kind.includes('\u0000')) {
    throw new TypeError('The hash kind must be a non-empty string without NUL characters');
  }
}

export function createDataProtector(options: {
  encryptionKeys: readonly EncryptionKey[];
  lookupKey: Buffer;
}): DataProtector {
  const { encryptionKeys, lookupKey } = options;
  if (encryptionKeys.length === 0) throw new Error('At least one encryption key is required');
  const keys = new Map<string, Buffer>();
  for (const { id, key } of encryptionKeys) {
    if (!KEY_ID.test(id)) throw new Error(`Encryption key id must match ${KEY_ID.source}`);
    if (keys.has(id)) throw new Error(`Duplicate encryption key id "${id}"`);
    if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
      throw new Error(`Encryption key "${id}" must be exactly ${KEY_BYTES} bytes`);
    }
    keys.set(id, Buffer.from(key));
  }
  if (!Buffer.isBuffer(lookupKey) || lookupKey.length < KEY_BYTES) {
    throw new Error(`The lookup key must be at least ${KEY_BYTES} bytes`);
  }
  for (const [id, key] of keys) {
    if (key.equals(lookupKey)) throw new Error(`The lookup key must differ from encryption key "${id}"`);
  }
  const hmacKey = Buffer.from(lookupKey);
  const currentId = encryptionKeys[0].id;
  const currentKey = keys.get(currentId) as Buffer;

  function hmac(kind: string, value: string): Buffer {
    checkKind(kind);
    return createHmac('sha256', hmacKey).update(`${kind}\u0000${value}`, 'utf8').digest();
  }

  return {
    encrypt(plaintext, context) {
      if (typeof plaintext !== 'string') throw new TypeError('Plaintext must be a string');
      checkContext(context);
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv, { authTagLength: TAG_BYTES });
      // The context is authenticated so that a ciphertext copied into another column fails to decrypt.
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [VERSION, currentId, iv.toString('base64url'), data.toString('base64url'), tag.toString('base64url')].join(
        '.',
      );
    },

    decrypt(ciphertext, context) {
      checkContext(context);
      const envelope = parseEnvelope(ciphertext);
      if (envelope === undefined) throw new DataProtectionError('malformed', 'Ciphertext is malformed');
      const key = keys.get(envelope.keyId);
      if (key === undefined) {
        throw new DataProtectionError('unknown_key', `Ciphertext was written with unknown key "${envelope.keyId}"`);
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, envelope.iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(context, 'utf8'));
        decipher.setAuthTag(envelope.tag);
        return Buffer.concat([decipher.update(envelope.data), decipher.final()]).toString('utf8');
      } catch {
        throw new DataProtectionError(
          'tampered',
          `Ciphertext failed authentication for context "${context}" (modified, or written for another context)`,
        );
      }
    },

    isCurrent(ciphertext) {
      return parseEnvelope(ciphertext)?.keyId === currentId;
    },

    lookupHash(kind, value) {
      return hmac(kind, value).toString('hex');
    },

    secretHash(kind, value) {
      return hmac(kind, value);
    },

    equalSecret(a, b) {
      const left = typeof a === 'string' ? Buffer.from(a, 'utf8') : a;
      const right = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
      if (left.length !== right.length) return false;
      return timingSafeEqual(left, right);
    },
  };
}

/**
 * Parses `kid1:BASE64KEY,kid2:BASE64KEY` (first entry = current key). Keys are standard or URL-safe base64 of
 * exactly 32 bytes. Error messages name the entry by position (and id once it is known valid), never the key.
 */
export function parseKeyRing(spec: string): EncryptionKey[] {
  if (typeof spec !== 'string' || spec.trim() === '') throw new Error('Key ring is empty');
  const ring: EncryptionKey[] = [];
  const seen = new Set<string>();
  const entries = spec.split(',');
  for (let i = 0; i < entries.length; i++) {
    const where = `Key ring entry ${i + 1}`;
    const entry = entries[i].trim();
    if (entry === '') throw new Error(`${where} is empty`);
    const colon = entry.indexOf(':');
    if (colon === -1) throw new Error(`${where} is not of the form <key id>:<base64 key>`);
    const id = entry.slice(0, colon).trim();
    const material = entry.slice(colon + 1).trim();
    // The id is not echoed when invalid: a swapped or mistyped entry could put key material in its place.
    if (!KEY_ID.test(id)) throw new Error(`${where}: key id must be 1-32 characters of A-Z, a-z, 0-9, "_" or "-"`);
    if (seen.has(id)) throw new Error(`${where}: duplicate key id "${id}"`);
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(material)) {
      throw new Error(`${where} (key id "${id}"): key is not valid base64`);
    }
    const key = Buffer.from(material.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length !== KEY_BYTES) {
      throw new Error(`${where} (key id "${id}"): key must decode to exactly ${KEY_BYTES} bytes, got ${key.length}`);
    }
    seen.add(id);
    ring.push({ id, key });
  }
  return ring;
}
