import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { verifySm2, SM2_DEFAULT_USER_ID } from './gm-engine.ts';
import { Sm2VerifierUnavailableError } from './sm2-verifier-pool.ts';
import type { ParsedCertificate } from './types.ts';

/**
 * Verifies a signature made with a certificate's key (the login challenge). Accepted: SM2-with-SM3 (Z over the
 * GM/T 0009 default ID unless `sm2UserId` says otherwise), ECDSA P-256/SHA-256 and P-384/SHA-384, RSA PKCS#1 v1.5
 * or PSS with SHA-256. SM2 and ECDSA signatures may be DER `SEQUENCE { r, s }` or raw r‖s.
 * Returns false, never throws, for a wrong, malformed or unsupported signature. Rejects with Sm2VerifierUnavailableError
 * when the SM2 verifier worker pool could not answer (a worker crashed, too many waiting): that says nothing about the signature.
 */
export async function verifySignature(input: {
  certificate: ParsedCertificate;
  message: Uint8Array;
  signature: Uint8Array;
  sm2UserId?: string;
}): Promise<boolean> {
  const { certificate, message, signature } = input;
  if (!(message instanceof Uint8Array) || !(signature instanceof Uint8Array) || signature.byteLength === 0) return false;
  try {
    switch (certificate.keyAlgorithm) {
      case 'sm2':
        return await verifySm2Any(certificate, message, signature, input.sm2UserId ?? SM2_DEFAULT_USER_ID);
      case 'ecdsa-p256':
        return verifyEcdsa(publicKey(certificate), 'sha256', 32, message, signature);
      case 'ecdsa-p384':
        return verifyEcdsa(publicKey(certificate), 'sha384', 48, message, signature);
      case 'rsa':
        return verifyRsa(publicKey(certificate), message, signature);
      default:
        return false;
    }
  } catch (error) {
    if (error instanceof Sm2VerifierUnavailableError) throw error;
    return false;
  }
}

function publicKey(certificate: ParsedCertificate): KeyObject {
  const spki = certificate.pkijs.subjectPublicKeyInfo.toSchema().toBER();
  return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
}

async function verifySm2Any(certificate: ParsedCertificate, message: Uint8Array, signature: Uint8Array, userId: string): Promise<boolean> {
  const spki = certificate.pkijs.subjectPublicKeyInfo;
  // A 64-byte value is normally raw r‖s, but can (very rarely) be a valid DER encoding too: try both.
  if (signature.byteLength === 64 && await verifySm2(message, rawToDer(signature), spki, userId)) return true;
  return verifySm2(message, signature, spki, userId);
}

function verifyEcdsa(key: KeyObject, hash: string, size: number, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.byteLength === 2 * size && verify(hash, message, { key, dsaEncoding: 'ieee-p1363' }, signature)) return true;
  return verify(hash, message, { key, dsaEncoding: 'der' }, signature);
}

function verifyRsa(key: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (key.asymmetricKeyType === 'rsa' && verify('sha256', message, { key, padding: constants.RSA_PKCS1_PADDING }, signature)) return true;
  return verify('sha256', message, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, signature);
}

/** r‖s (two 32-byte big-endian integers) → DER SEQUENCE { INTEGER r, INTEGER s }. */
function rawToDer(raw: Uint8Array): Uint8Array {
  const integer = (bytes: Uint8Array): Buffer => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    const trimmed = Buffer.from(bytes.subarray(start));
    const body = trimmed[0] & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
    return Buffer.concat([Buffer.from([0x02, body.length]), body]);
  };
  const content = Buffer.concat([integer(raw.subarray(0, 32)), integer(raw.subarray(32))]);
  return new Uint8Array(Buffer.concat([Buffer.from([0x30, content.length]), content]));
}
