import type * as asn1js from 'asn1js';

/** RFC 5280 §5.3.1 CRLReason, shared by CRL entries and OCSP RevokedInfo. */
const CRL_REASONS: Readonly<Record<number, string>> = {
  0: 'unspecified',
  1: 'keyCompromise',
  2: 'cACompromise',
  3: 'affiliationChanged',
  4: 'superseded',
  5: 'cessationOfOperation',
  6: 'certificateHold',
  8: 'removeFromCRL',
  9: 'privilegeWithdrawn',
  10: 'aACompromise',
};

export function crlReasonName(code: number): string {
  return CRL_REASONS[code] ?? `reason ${code}`;
}

/** A serial number as the hex of its DER content bytes: the same form for certificates, CRLs and OCSP. */
export function serialHex(serial: asn1js.Integer): string {
  return Buffer.from(serial.valueBlock.valueHexView).toString('hex');
}
