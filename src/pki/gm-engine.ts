import { createHash, webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { sharedSm2VerifierPool } from './sm2-verifier-pool.ts';

/** Object identifiers of the Chinese commercial-cryptography algorithms (GM/T 0006, standards §2.2). */
export const GM_OID = {
  SM2_WITH_SM3: '1.2.156.10197.1.501',
  SM2_CURVE: '1.2.156.10197.1.301',
  SM3: '1.2.156.10197.1.401',
  EC_PUBLIC_KEY: '1.2.840.10045.2.1',
} as const;

/** GM/T 0009 default signer ID: every certificate, CRL and OCSP signature from a Chinese CA uses it. */
export const SM2_DEFAULT_USER_ID = '1234567812345678';

/** True for both SM2 key encodings: `id-ecPublicKey` with the SM2 curve, or the SM2 OID as the algorithm itself. */
export function isSm2PublicKey(spki: pkijs.PublicKeyInfo): boolean {
  const algorithm = spki.algorithm.algorithmId;
  if (algorithm === GM_OID.SM2_CURVE) return true;
  const params = spki.algorithm.algorithmParams;
  return algorithm === GM_OID.EC_PUBLIC_KEY && params instanceof asn1js.ObjectIdentifier && params.valueBlock.toString() === GM_OID.SM2_CURVE;
}

/**
 * Verifies an SM2 signature (DER `SEQUENCE { r, s }`) over `data` with Z computed from `userId`, in a worker thread of
 * the shared SM2 verifier pool (src/pki/sm2-verifier-pool.ts). False for a wrong or malformed signature or key;
 * rejects with Sm2VerifierUnavailableError only when the verifier itself failed.
 */
export async function verifySm2(data: Uint8Array, derSignature: Uint8Array, spki: pkijs.PublicKeyInfo, userId = SM2_DEFAULT_USER_ID): Promise<boolean> {
  if (!isSm2PublicKey(spki)) return false; // never fall back to ECDSA on the SM2 curve
  const point = new Uint8Array(spki.subjectPublicKey.valueBlock.valueHexView);
  // Uncompressed (04‖x‖y) or compressed (02/03‖x) points; sm-crypto-v2 decodes both.
  if (!/^(04[0-9a-f]{128}|0[23][0-9a-f]{64})$/.test(Buffer.from(point).toString('hex'))) return false;
  return sharedSm2VerifierPool().verify({ data, signature: derSignature, publicKey: point, userId });
}

const VERIFIED_MEMO_SIZE = 20_000;

const toBytes = (data: BufferSource): Uint8Array =>
  ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);

/**
 * pkijs' crypto engine with SM2-with-SM3 signatures and SM3 digests added (standards §2.6). Node's own crypto
 * cannot verify GM/T signatures: OpenSSL 3.0 uses an empty SM2 ID instead of the GM/T 0009 default.
 */
export class GmCryptoEngine extends pkijs.CryptoEngine {
  /**
   * Whether a signature verifies is a fixed fact of its bytes, so answers are remembered (bounded, oldest out):
   * a login re-checks the same CA certificates every time, and path building and pkijs' second opinion check
   * each edge twice. An SM2 verification costs ~3 ms; the digest that keys the memo, microseconds.
   */
  private readonly verified = new Map<string, boolean>();

  override async verifyWithPublicKey(data: BufferSource, signature: asn1js.BitString | asn1js.OctetString,
    publicKeyInfo: pkijs.PublicKeyInfo, signatureAlgorithm: pkijs.AlgorithmIdentifier, shaAlgorithm?: string): Promise<boolean> {
    // Each field is length-prefixed, so no two different inputs share a key by moving bytes across a boundary.
    const hash = createHash('sha256');
    for (const field of [new TextEncoder().encode(signatureAlgorithm.algorithmId), new Uint8Array(publicKeyInfo.toSchema().toBER()),
      new Uint8Array(signature.valueBlock.valueHexView), toBytes(data), new TextEncoder().encode(shaAlgorithm ?? '')]) {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(field.byteLength);
      hash.update(length).update(field);
    }
    const key = hash
      .digest('base64');
    const known = this.verified.get(key);
    if (known !== undefined) return known;
    const result = await this.verifyUncached(data, signature, publicKeyInfo, signatureAlgorithm, shaAlgorithm);
    if (this.verified.size >= VERIFIED_MEMO_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(key, result);
    return result;
  }

  private async verifyUncached(data: BufferSource, signature: asn1js.BitString | asn1js.OctetString,
    publicKeyInfo: pkijs.PublicKeyInfo, signatureAlgorithm: pkijs.AlgorithmIdentifier, shaAlgorithm?: string): Promise<boolean> {
    if (signatureAlgorithm.algorithmId !== GM_OID.SM2_WITH_SM3) {
      if (isSm2PublicKey(publicKeyInfo)) return false;
      return super.verifyWithPublicKey(data, signature, publicKeyInfo, signatureAlgorithm, shaAlgorithm);
    }
    return verifySm2(toBytes(data), new Uint8Array(signature.valueBlock.valueHexView), publicKeyInfo);
  }

  override async digest(algorithm: AlgorithmIdentifier, data: BufferSource): Promise<ArrayBuffer> {
    const name = typeof algorithm === 'string' ? algorithm : algorithm.name;
    if (/^sm3$/i.test(name)) return new Uint8Array(createHash('sm3').update(toBytes(data)).digest()).buffer;
    return super.digest(algorithm, data);
  }

  override getAlgorithmByOID(oid: string, safety?: boolean, target?: string): any {
    return oid === GM_OID.SM3 ? { name: 'SM3' } : super.getAlgorithmByOID(oid, safety as boolean, target);
  }

  override getOIDByAlgorithm(algorithm: Algorithm, safety?: boolean, target?: string): string {
    return /^sm3$/i.test(algorithm.name) ? GM_OID.SM3 : super.getOIDByAlgorithm(algorithm, safety, target);
  }
}

let installed = false;

/** Makes pkijs use the GM engine process-wide; every module that validates certificates calls this first. */
export function installGmEngine(): void {
  if (installed) return;
  pkijs.setEngine('gm', new GmCryptoEngine({ name: 'gm', crypto: webcrypto as unknown as Crypto }));
  installed = true;
}
