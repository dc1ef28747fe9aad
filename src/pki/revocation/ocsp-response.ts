import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { parseCertificate } from '../certificate.ts';
import type { ParsedCertificate } from '../types.ts';
import { RevocationSourceError } from './revocation-error.ts';
import { crlReasonName } from './revocation-names.ts';
import type { RevocationAnswer } from './crl-cache.ts';

export const OCSP_OID = {
  BASIC: '1.3.6.1.5.5.7.48.1.1',
  NONCE: '1.3.6.1.5.5.7.48.1.2',
  KP_OCSP_SIGNING: '1.3.6.1.5.5.7.3.9',
} as const;

const RESPONSE_STATUS: Readonly<Record<number, string>> = {
  1: 'malformedRequest', 2: 'internalError', 3: 'tryLater', 5: 'sigRequired', 6: 'unauthorized',
};

export type OcspExpectation = {
  /** The CertID sent in the request; the answer must carry a SingleResponse for exactly this CertID. */
  certId: pkijs.CertID;
  issuer: ParsedCertificate;
  /** The nonce extension's extnValue as sent (DER of the OCTET STRING). */
  nonce: Uint8Array;
  requireNonce: boolean;
  now: Date;
  skewMs: number;
};

export type VerifiedOcspAnswer = RevocationAnswer & {
  thisUpdate: Date;
  nextUpdate?: Date;
  signer: 'issuer' | 'delegated';
};

const equalBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

function decodeBasicResponse(bytes: Uint8Array): pkijs.BasicOCSPResponse {
  const asn1 = asn1js.fromBER(bytes);
  if (asn1.offset === -1 || asn1.offset !== bytes.byteLength) throw new RevocationSourceError('malformed', 'the answer is not a single DER element');
  let response: pkijs.OCSPResponse;
  try {
    response = new pkijs.OCSPResponse({ schema: asn1.result });
  } catch {
    throw new RevocationSourceError('malformed', 'the DER is not an OCSPResponse');
  }
  const status = response.responseStatus.valueBlock.valueDec;
  if (status !== 0) {
    throw new RevocationSourceError('responder_error', `the responder answered ${RESPONSE_STATUS[status] ?? `status ${status}`}`);
  }
  if (!response.responseBytes || response.responseBytes.responseType !== OCSP_OID.BASIC) {
    throw new RevocationSourceError('unsupported', 'the response is not a BasicOCSPResponse');
  }
  const inner = response.responseBytes.response.valueBlock.valueHexView;
  const basic = asn1js.fromBER(inner);
  try {
    if (basic.offset === -1 || basic.offset !== inner.byteLength) throw new Error('bad DER');
    return new pkijs.BasicOCSPResponse({ schema: basic.result });
  } catch {
    throw new RevocationSourceError('malformed', 'the BasicOCSPResponse cannot be decoded');
  }
}

function matchesResponderId(basic: pkijs.BasicOCSPResponse, certificate: pkijs.Certificate): boolean {
  const id: unknown = basic.tbsResponseData.responderID;
  if (id instanceof pkijs.RelativeDistinguishedNames) return certificate.subject.isEqual(id);
  if (id instanceof asn1js.OctetString) {
    // byKey: SHA-1 of the subjectPublicKey BIT STRING value (RFC 6960 §4.2.1), whatever the CertID hash.
    const keyHash = createHash('sha1').update(certificate.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView).digest();
    return equalBytes(keyHash, id.valueBlock.valueHexView);
  }
  return false;
}

async function signatureValid(basic: pkijs.BasicOCSPResponse, spki: pkijs.PublicKeyInfo): Promise<boolean> {
  try {
    return await pkijs.getCrypto(true).verifyWithPublicKey(basic.tbsResponseData.tbsView as Uint8Array<ArrayBuffer>, basic.signature, spki, basic.signatureAlgorithm);
  } catch {
    return false;
  }
}

/** Why `candidate` may not answer for the CA's certificates (RFC 6960 §4.2.2.2), or undefined when it may. */
async function delegationProblem(candidate: pkijs.Certificate, issuer: ParsedCertificate, now: Date): Promise<string | undefined> {
  let responder: ParsedCertificate;
  try {
    responder = parseCertificate(new Uint8Array(candidate.toSchema().toBER(false)));
  } catch (error) {
    return `its certificate is unreadable (${(error as Error).message})`;
  }
  if (!candidate.issuer.isEqual(issuer.pkijs.subject)) return `"${responder.subject}" was not issued by "${issuer.subject}"`;
  let issuedByCa = false;
  try {
    issuedByCa = await candidate.verify(issuer.pkijs);
  } catch {
    issuedByCa = false;
  }
  if (!issuedByCa) return `the certificate of "${responder.subject}" is not signed by the key of "${issuer.subject}"`;
  if (!responder.extendedKeyUsage?.includes(OCSP_OID.KP_OCSP_SIGNING)) return `"${responder.subject}" lacks the id-kp-OCSPSigning extended key usage`;
  if (responder.keyUsage && !responder.keyUsage.includes('digitalSignature')) return `the keyUsage of "${responder.subject}" excludes digitalSignature`;
  if (now < responder.notBefore || now > responder.notAfter) return `the certificate of "${responder.subject}" is not valid now`;
  return undefined;
}

/** Checks that the response is signed by the CA itself or by a responder the CA delegated to; returns which. */
async function authenticate(basic: pkijs.BasicOCSPResponse, issuer: ParsedCertificate, now: Date): Promise<'issuer' | 'delegated'> {
  if (matchesResponderId(basic, issuer.pkijs)) {
    if (await signatureValid(basic, issuer.pkijs.subjectPublicKeyInfo)) return 'issuer';
    throw new RevocationSourceError('bad_signature', `the response signature does not verify with the key of "${issuer.subject}"`);
  }
  const candidates = (basic.certs ?? []).filter((c) => matchesResponderId(basic, c));
  if (candidates.length === 0) {
    throw new RevocationSourceError('unauthorized_responder', `the response is signed neither by "${issuer.subject}" nor by a responder certificate it includes`);
  }
  const problems: string[] = [];
  for (const candidate of candidates) {
    const problem = await delegationProblem(candidate, issuer, now);
    if (problem) {
      problems.push(problem);
      continue;
    }
    if (await signatureValid(basic, candidate.subjectPublicKeyInfo)) return 'delegated';
    throw new RevocationSourceError('bad_signature', 'the response signature does not verify with the delegated responder key');
  }
  throw new RevocationSourceError('unauthorized_responder', problems.join('; '));
}

function readStatus(single: pkijs.SingleResponse): RevocationAnswer {
  const status = single.certStatus as asn1js.BaseBlock;
  const tag = status.idBlock.tagNumber;
  if (status.idBlock.tagClass === 3 && tag === 0) return { status: 'good' };
  if (status.idBlock.tagClass === 3 && tag === 1 && status instanceof asn1js.Constructed) {
    const [time, reasonBlock] = status.valueBlock.value;
    if (!(time instanceof asn1js.GeneralizedTime)) throw new RevocationSourceError('malformed', 'the RevokedInfo has no revocationTime');
    const code = reasonBlock instanceof asn1js.Constructed ? reasonBlock.valueBlock.value[0] : undefined;
    return { status: 'revoked', revokedAt: time.toDate(), reason: code instanceof asn1js.Enumerated ? crlReasonName(code.valueBlock.valueDec) : undefined };
  }
  if (status.idBlock.tagClass === 3 && tag === 2) {
    throw new RevocationSourceError('unknown_certificate', 'the responder does not know the certificate');
  }
  throw new RevocationSourceError('malformed', 'the certStatus cannot be decoded');
}

/**
 * Verifies an OCSP response for the request described by `expected`: a successful BasicOCSPResponse signed by
 * the issuing CA or by its delegated OCSP signer, with a SingleResponse for our CertID, our nonce echoed (or
 * absent only when nonces are not required), current at `now`. Throws RevocationSourceError.
 */
export async function verifyOcspResponse(bytes: Uint8Array, expected: OcspExpectation): Promise<VerifiedOcspAnswer> {
  const basic = decodeBasicResponse(bytes);
  const signer = await authenticate(basic, expected.issuer, expected.now);

  const single = basic.tbsResponseData.responses.find((r) => r.certID.isEqual(expected.certId));
  if (!single) throw new RevocationSourceError('no_matching_response', 'the response is about other certificates');

  const nonce = basic.tbsResponseData.responseExtensions?.find((e) => e.extnID === OCSP_OID.NONCE);
  if (nonce && !equalBytes(nonce.extnValue.valueBlock.valueHexView, expected.nonce)) {
    throw new RevocationSourceError('nonce_mismatch', 'the response nonce differs from the request nonce (a replayed response?)');
  }
  if (!nonce && expected.requireNonce) throw new RevocationSourceError('nonce_missing', 'the response carries no nonce');

  if (single.thisUpdate.getTime() > expected.now.getTime() + expected.skewMs) {
    throw new RevocationSourceError('not_yet_valid', `the response thisUpdate ${single.thisUpdate.toISOString()} is in the future`);
  }
  if (single.nextUpdate && single.nextUpdate.getTime() <= expected.now.getTime()) {
    throw new RevocationSourceError('expired', `the response nextUpdate ${single.nextUpdate.toISOString()} has passed`);
  }
  return { ...readStatus(single), thisUpdate: single.thisUpdate, nextUpdate: single.nextUpdate, signer };
}
