import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { ParsedCertificate } from '../types.ts';
import { RevocationSourceError } from './revocation-error.ts';
import { crlReasonName, serialHex } from './revocation-names.ts';

const OID = {
  AUTHORITY_KEY_IDENTIFIER: '2.5.29.35',
  ISSUER_ALT_NAME: '2.5.29.18',
  CRL_NUMBER: '2.5.29.20',
  DELTA_CRL_INDICATOR: '2.5.29.27',
  ISSUING_DISTRIBUTION_POINT: '2.5.29.28',
  FRESHEST_CRL: '2.5.29.46',
  AUTHORITY_INFO_ACCESS: '1.3.6.1.5.5.7.1.1',
  REASON_CODE: '2.5.29.21',
  INVALIDITY_DATE: '2.5.29.24',
  CERTIFICATE_ISSUER: '2.5.29.29',
} as const;

/** Critical CRL extensions we understand (RFC 5280 §5.2); any other critical one makes the CRL unusable. */
const UNDERSTOOD_CRL_EXTENSIONS = new Set<string>([
  OID.AUTHORITY_KEY_IDENTIFIER, OID.ISSUER_ALT_NAME, OID.CRL_NUMBER, OID.ISSUING_DISTRIBUTION_POINT,
  OID.FRESHEST_CRL, OID.AUTHORITY_INFO_ACCESS,
]);
const UNDERSTOOD_ENTRY_EXTENSIONS = new Set<string>([OID.REASON_CODE, OID.INVALIDITY_DATE]);

export type CrlEntry = { revokedAt: Date; reason?: string };

/** A complete CRL whose signature, issuer and extensions have been checked against one issuing CA. */
export type VerifiedCrl = {
  thisUpdate: Date;
  nextUpdate?: Date;
  /** issuingDistributionPoint scope (RFC 5280 §5.2.5). */
  onlyUserCertificates: boolean;
  onlyCaCertificates: boolean;
  /** Keyed by the serial number's DER content bytes in hex. */
  entries: Map<string, CrlEntry>;
};

const PEM_CRL = /^-----BEGIN X509 CRL-----\r?\n([A-Za-z0-9+/=\s]*?)-----END X509 CRL-----\s*$/;

/** DER bytes, or PEM bytes with exactly one X509 CRL block. */
export function parseCrl(bytes: Uint8Array): pkijs.CertificateRevocationList {
  let der = bytes;
  if (bytes[0] === 0x2d) {
    const match = PEM_CRL.exec(Buffer.from(bytes).toString('latin1').trim());
    if (!match) throw new RevocationSourceError('malformed', 'the PEM text does not hold exactly one X509 CRL block');
    der = new Uint8Array(Buffer.from(match[1].replace(/\s+/g, ''), 'base64'));
  }
  const asn1 = asn1js.fromBER(der);
  if (asn1.offset === -1 || asn1.offset !== der.byteLength) {
    throw new RevocationSourceError('malformed', 'the answer is not a single DER element');
  }
  try {
    return new pkijs.CertificateRevocationList({ schema: asn1.result });
  } catch {
    throw new RevocationSourceError('malformed', 'the DER is not an X.509 CRL');
  }
}

function hex(bytes: ArrayBuffer | Uint8Array): string {
  return Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex');
}

function checkIssuer(crl: pkijs.CertificateRevocationList, issuer: ParsedCertificate): void {
  if (!crl.issuer.isEqual(issuer.pkijs.subject)) {
    throw new RevocationSourceError('wrong_issuer', `the CRL was issued by another CA, not "${issuer.subject}"`);
  }
  if (issuer.keyUsage && !issuer.keyUsage.includes('cRLSign')) {
    throw new RevocationSourceError('wrong_issuer', `the keyUsage of "${issuer.subject}" does not allow cRLSign`);
  }
  const aki = crl.crlExtensions?.extensions.find((e) => e.extnID === OID.AUTHORITY_KEY_IDENTIFIER)?.parsedValue;
  const keyId = aki instanceof pkijs.AuthorityKeyIdentifier ? aki.keyIdentifier : undefined;
  if (keyId && issuer.subjectKeyIdentifier && hex(keyId.valueBlock.valueHexView) !== issuer.subjectKeyIdentifier) {
    throw new RevocationSourceError('wrong_issuer', 'the CRL authorityKeyIdentifier names another key of the CA');
  }
}

function readScope(crl: pkijs.CertificateRevocationList): Pick<VerifiedCrl, 'onlyUserCertificates' | 'onlyCaCertificates'> {
  const extensions = crl.crlExtensions?.extensions ?? [];
  for (const extension of extensions) {
    if (extension.extnID === OID.DELTA_CRL_INDICATOR) {
      throw new RevocationSourceError('not_applicable', 'a delta CRL is not a complete CRL');
    }
    if (extension.critical && !UNDERSTOOD_CRL_EXTENSIONS.has(extension.extnID)) {
      throw new RevocationSourceError('unsupported', `the CRL has an unknown critical extension ${extension.extnID}`);
    }
  }
  const idpExtension = extensions.find((e) => e.extnID === OID.ISSUING_DISTRIBUTION_POINT);
  if (!idpExtension) return { onlyUserCertificates: false, onlyCaCertificates: false };
  const idp = idpExtension.parsedValue;
  if (!(idp instanceof pkijs.IssuingDistributionPoint)) {
    throw new RevocationSourceError('malformed', 'the issuingDistributionPoint extension cannot be decoded');
  }
  if (idp.indirectCRL) throw new RevocationSourceError('not_applicable', 'indirect CRLs are not supported');
  if (idp.onlySomeReasons !== undefined) throw new RevocationSourceError('not_applicable', 'the CRL covers only some revocation reasons');
  if (idp.onlyContainsAttributeCerts) throw new RevocationSourceError('not_applicable', 'the CRL covers only attribute certificates');
  return { onlyUserCertificates: idp.onlyContainsUserCerts, onlyCaCertificates: idp.onlyContainsCACerts };
}

function readEntries(crl: pkijs.CertificateRevocationList): Map<string, CrlEntry> {
  const entries = new Map<string, CrlEntry>();
  for (const revoked of crl.revokedCertificates ?? []) {
    let reason: string | undefined;
    for (const extension of revoked.crlEntryExtensions?.extensions ?? []) {
      if (extension.critical && !UNDERSTOOD_ENTRY_EXTENSIONS.has(extension.extnID)) {
        // certificateIssuer (indirect CRL) or something unknown: the entry cannot be interpreted.
        throw new RevocationSourceError('unsupported', `a CRL entry has an unknown critical extension ${extension.extnID}`);
      }
      if (extension.extnID === OID.REASON_CODE) {
        const code = asn1js.fromBER(extension.extnValue.valueBlock.valueHexView).result;
        if (code instanceof asn1js.Enumerated) reason = crlReasonName(code.valueBlock.valueDec);
      }
    }
    // removeFromCRL only appears in delta CRLs, which are refused above; skip it defensively.
    if (reason === 'removeFromCRL') continue;
    entries.set(serialHex(revoked.userCertificate), { revokedAt: revoked.revocationDate.value, reason });
  }
  return entries;
}

/**
 * Checks a CRL downloaded from a distribution point of a certificate issued by `issuer`: issued by that CA
 * (name, key identifier, cRLSign), signature by the CA's key (SM2 through the GM engine), a complete CRL,
 * no unknown critical extension, and current at `now` (thisUpdate within `skewMs`, nextUpdate not passed).
 */
export async function verifyCrl(crl: pkijs.CertificateRevocationList, issuer: ParsedCertificate, now: Date, skewMs: number): Promise<VerifiedCrl> {
  checkIssuer(crl, issuer);
  if (crl.signature.algorithmId !== crl.signatureAlgorithm.algorithmId) {
    throw new RevocationSourceError('malformed', 'signatureAlgorithm differs from the signature inside the TBS');
  }
  const scope = readScope(crl);
  let valid: boolean;
  try {
    valid = await pkijs.getCrypto(true).verifyWithPublicKey(crl.tbsView as Uint8Array<ArrayBuffer>, crl.signatureValue, issuer.pkijs.subjectPublicKeyInfo, crl.signatureAlgorithm);
  } catch (error) {
    throw new RevocationSourceError('unsupported', `the CRL signature cannot be checked: ${(error as Error).message}`);
  }
  if (!valid) throw new RevocationSourceError('bad_signature', `the CRL signature does not verify with the key of "${issuer.subject}"`);
  const verified: VerifiedCrl = { thisUpdate: crl.thisUpdate.value, nextUpdate: crl.nextUpdate?.value, ...scope, entries: readEntries(crl) };
  checkCurrent(verified, now, skewMs);
  return verified;
}

/** Throws unless the CRL may be used at `now`. */
export function checkCurrent(crl: Pick<VerifiedCrl, 'thisUpdate' | 'nextUpdate'>, now: Date, skewMs: number): void {
  if (crl.thisUpdate.getTime() > now.getTime() + skewMs) {
    throw new RevocationSourceError('not_yet_valid', `the CRL thisUpdate ${crl.thisUpdate.toISOString()} is in the future`);
  }
  if (crl.nextUpdate && crl.nextUpdate.getTime() <= now.getTime()) {
    throw new RevocationSourceError('expired', `the CRL nextUpdate ${crl.nextUpdate.toISOString()} has passed`);
  }
}

/** The certificate's entry in the CRL, or undefined when it is not listed. */
export function lookupCrl(crl: VerifiedCrl, certificate: ParsedCertificate): CrlEntry | undefined {
  if (crl.onlyUserCertificates && certificate.isCA) {
    throw new RevocationSourceError('not_applicable', 'the CRL covers only end-entity certificates');
  }
  if (crl.onlyCaCertificates && !certificate.isCA) {
    throw new RevocationSourceError('not_applicable', 'the CRL covers only CA certificates');
  }
  return crl.entries.get(serialHex(certificate.pkijs.serialNumber));
}
