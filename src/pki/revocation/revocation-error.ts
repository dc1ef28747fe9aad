/** Why one revocation source (one OCSP responder or one CRL distribution point) gave no usable answer. */
export type RevocationFailureCode =
  | 'timeout' // the overall budget or this source's share of it ran out
  | 'network' // connection refused, reset, DNS, TLS
  | 'http_status' // a non-2xx answer
  | 'too_large' // the body exceeded the size limit
  | 'unsupported_url' // not http(s), e.g. ldap://
  | 'malformed' // not DER/PEM of the expected structure
  | 'wrong_issuer' // signed for or by another CA, or the issuer may not sign it
  | 'bad_signature'
  | 'unsupported' // an unknown critical extension or signature algorithm
  | 'not_applicable' // a delta, indirect or partial CRL, or one whose scope excludes the certificate
  | 'not_yet_valid' // thisUpdate in the future
  | 'expired' // nextUpdate passed
  | 'responder_error' // OCSPResponse status other than successful
  | 'unauthorized_responder' // signed neither by the CA nor by a delegated OCSP signer of the CA
  | 'nonce_mismatch'
  | 'nonce_missing'
  | 'no_matching_response' // the response is about other certificates
  | 'unknown_certificate'; // the responder answered `unknown`

export class RevocationSourceError extends Error {
  readonly code: RevocationFailureCode;

  constructor(code: RevocationFailureCode, message: string) {
    super(message);
    this.name = 'RevocationSourceError';
    this.code = code;
  }
}

/** Turns whatever a source threw into a RevocationSourceError; an abort always reads as a timeout. */
export function asSourceError(error: unknown, signal?: AbortSignal): RevocationSourceError {
  if (error instanceof RevocationSourceError) return error;
  if (signal?.aborted) return new RevocationSourceError('timeout', 'the time budget ran out');
  return new RevocationSourceError('malformed', error instanceof Error ? error.message : String(error));
}
