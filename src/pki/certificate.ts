import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { isSm2PublicKey } from './gm-engine.ts';
import type { KeyAlgorithm, KeyUsageName, ParsedCertificate } from './types.ts';

export type CertificateErrorCode = 'malformed_certificate' | 'certificate_too_large' | 'chain_too_long' | 'empty_chain';

export class CertificateError extends Error {
  readonly code: CertificateErrorCode;

  constructor(code: CertificateErrorCode, message: string) {
    super(message);
    this.name = 'CertificateError';
    this.code = code;
  }
}

/** Real certificates are 1–3 KiB; a larger one is an attack on the parser or a certificate stuffed with data. */
export const DEFAULT_MAX_CERTIFICATE_BYTES = 16 * 1024;
export const DEFAULT_MAX_CHAIN_CERTIFICATES = 8;

const OID = {
  RSA: '1.2.840.113549.1.1.1',
  RSA_PSS: '1.2.840.113549.1.1.10',
  EC_PUBLIC_KEY: '1.2.840.10045.2.1',
  P256: '1.2.840.10045.3.1.7',
  P384: '1.3.132.0.34',
  SUBJECT_KEY_IDENTIFIER: '2.5.29.14',
  KEY_USAGE: '2.5.29.15',
  BASIC_CONSTRAINTS: '2.5.29.19',
  CRL_DISTRIBUTION_POINTS: '2.5.29.31',
  CERTIFICATE_POLICIES: '2.5.29.32',
  AUTHORITY_KEY_IDENTIFIER: '2.5.29.35',
  EXT_KEY_USAGE: '2.5.29.37',
  AUTHORITY_INFO_ACCESS: '1.3.6.1.5.5.7.1.1',
  AD_OCSP: '1.3.6.1.5.5.7.48.1',
  AD_CA_ISSUERS: '1.3.6.1.5.5.7.48.2',
} as const;

const GENERAL_NAME_URI = 6;

/** Short names for the display form of a DN; anything else is shown as its dotted OID. */
const ATTRIBUTE_SHORT_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.42': 'GN',
  '2.5.4.43': 'initials',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.65': 'pseudonym',
  '2.5.4.97': 'organizationIdentifier',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
};

// RFC 5280 §4.2.1.3 bit order: bit 0 is the most significant bit of the first content byte.
const KEY_USAGE_BITS: readonly KeyUsageName[] = [
  'digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment',
  'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly',
];

const malformed = (why: string): CertificateError =>
  new CertificateError('malformed_certificate', `The certificate is malformed: ${why}.`);

const hex = (bytes: ArrayBuffer | Uint8Array): string => Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex');

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const STRICT_BASE64URL = /^[A-Za-z0-9_-]*$/;
const PEM_BLOCK = /^-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----$/;

function decodeBase64(text: string): Uint8Array {
  const compact = text.replace(/\s+/g, '');
  if (compact === '') throw malformed('the input is empty');
  if (STRICT_BASE64.test(compact)) return new Uint8Array(Buffer.from(compact, 'base64'));
  if (STRICT_BASE64URL.test(compact) && compact.length % 4 !== 1) return new Uint8Array(Buffer.from(compact, 'base64url'));
  throw malformed('the text is neither a PEM certificate nor base64/base64url DER');
}

/** PEM must hold exactly one CERTIFICATE block with nothing but whitespace around it. */
function decodePem(text: string): Uint8Array {
  const match = PEM_BLOCK.exec(text.trim());
  if (!match) throw malformed('the PEM text must contain exactly one CERTIFICATE block and nothing else');
  return decodeBase64(match[1]);
}

function toDer(input: Uint8Array | string, maxBytes: number): Uint8Array {
  if (typeof input === 'string') {
    // Base64 grows by 4/3; checking the text first avoids decoding megabytes only to refuse them.
    if (input.length > Math.ceil(maxBytes / 3) * 4 + 4096) throw tooLarge(maxBytes);
    return input.trimStart().startsWith('-----BEGIN') ? decodePem(input) : decodeBase64(input);
  }
  if (!(input instanceof Uint8Array)) throw malformed('expected bytes or text');
  // PEM read from a file as bytes: DER always starts with 0x30 (SEQUENCE), PEM with '-'.
  if (input.length > 0 && input[0] === 0x2d && input.length <= Math.ceil(maxBytes / 3) * 4 + 4096) {
    return decodePem(Buffer.from(input).toString('latin1'));
  }
  return input;
}

const tooLarge = (maxBytes: number): CertificateError =>
  new CertificateError('certificate_too_large', `The certificate is larger than the ${maxBytes}-byte limit.`);

function attributeText(value: unknown): string {
  const block = (value as { valueBlock?: { value?: unknown } } | undefined)?.valueBlock;
  if (block && typeof block.value === 'string') return block.value;
  // Non-string attribute values are shown RFC 4514-style: '#' + hex of the DER.
  if (value instanceof asn1js.BaseBlock) return `#${hex(value.toBER(false))}`;
  return '';
}

function escapeDnValue(value: string): string {
  return value.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`).replace(/^[ #]|[ ]$/g, (c) => `\\${c}`);
}

function readName(name: pkijs.RelativeDistinguishedNames): { display: string; attributes: { type: string; value: string }[] } {
  const attributes = name.typesAndValues.map((tv) => ({ type: tv.type, value: attributeText(tv.value) }));
  const display = attributes.map((a) => `${ATTRIBUTE_SHORT_NAMES[a.type] ?? a.type}=${escapeDnValue(a.value)}`).join(', ');
  return { display, attributes };
}

function keyAlgorithmOf(spki: pkijs.PublicKeyInfo): KeyAlgorithm {
  if (isSm2PublicKey(spki)) return 'sm2';
  const algorithm = spki.algorithm.algorithmId;
  if (algorithm === OID.RSA || algorithm === OID.RSA_PSS) return 'rsa';
  if (algorithm === OID.EC_PUBLIC_KEY) {
    const params = spki.algorithm.algorithmParams;
    const curve = params instanceof asn1js.ObjectIdentifier ? params.valueBlock.toString() : '';
    if (curve === OID.P256) return 'ecdsa-p256';
    if (curve === OID.P384) return 'ecdsa-p384';
  }
  return 'unknown';
}

function decodeKeyUsage(extension: pkijs.Extension): KeyUsageName[] {
  const bits = extension.parsedValue;
  if (!(bits instanceof asn1js.BitString)) throw malformed('the keyUsage extension is not a BIT STRING');
  const bytes = bits.valueBlock.valueHexView;
  const names: KeyUsageName[] = [];
  KEY_USAGE_BITS.forEach((name, bit) => {
    const byte = bytes[bit >> 3];
    if (byte !== undefined && (byte & (0x80 >> (bit & 7))) !== 0) names.push(name);
  });
  return names;
}

function uris(names: readonly pkijs.GeneralName[] | undefined): string[] {
  return (names ?? []).filter((n) => n.type === GENERAL_NAME_URI && typeof n.value === 'string').map((n) => n.value as string);
}

/** The extension's parsed value, refusing values pkijs could not decode (it keeps those with a `parsingError`). */
function parsed<T>(extension: pkijs.Extension, type: abstract new (...args: never[]) => T, name: string): T {
  const value = extension.parsedValue as unknown;
  if (!(value instanceof type) || (value as { parsingError?: string }).parsingError) {
    throw malformed(`the ${name} extension cannot be decoded`);
  }
  return value;
}

type ExtensionFields = Pick<ParsedCertificate,
  'subjectKeyIdentifier' | 'authorityKeyIdentifier' | 'isCA' | 'pathLengthConstraint' | 'keyUsage' | 'extendedKeyUsage'
  | 'policies' | 'crlDistributionPoints' | 'ocspUrls' | 'caIssuers'>;

function readExtensions(extensions: readonly pkijs.Extension[]): ExtensionFields {
  const fields: ExtensionFields = { isCA: false, policies: [], crlDistributionPoints: [], ocspUrls: [], caIssuers: [] };
  const seen = new Set<string>();
  for (const extension of extensions) {
    if (seen.has(extension.extnID)) throw malformed(`the extension ${extension.extnID} appears twice`);
    seen.add(extension.extnID);
    const raw = extension.extnValue.valueBlock.valueHexView;
    const decoded = asn1js.fromBER(raw);
    if (decoded.offset === -1 || decoded.offset !== raw.byteLength) {
      throw malformed(`the value of extension ${extension.extnID} is not a single DER element`);
    }
    switch (extension.extnID) {
      case OID.SUBJECT_KEY_IDENTIFIER: {
        const value = extension.parsedValue;
        if (!(value instanceof asn1js.OctetString)) throw malformed('the subjectKeyIdentifier is not an OCTET STRING');
        fields.subjectKeyIdentifier = hex(value.valueBlock.valueHexView);
        break;
      }
      case OID.AUTHORITY_KEY_IDENTIFIER: {
        const aki = parsed(extension, pkijs.AuthorityKeyIdentifier, 'authorityKeyIdentifier');
        if (aki.keyIdentifier) fields.authorityKeyIdentifier = hex(aki.keyIdentifier.valueBlock.valueHexView);
        break;
      }
      case OID.BASIC_CONSTRAINTS: {
        const bc = parsed(extension, pkijs.BasicConstraints, 'basicConstraints');
        fields.isCA = bc.cA === true;
        const pathLen = bc.pathLenConstraint;
        if (pathLen !== undefined) {
          fields.pathLengthConstraint = typeof pathLen === 'number' ? pathLen : pathLen.valueBlock.valueDec;
        }
        break;
      }
      case OID.KEY_USAGE:
        fields.keyUsage = decodeKeyUsage(extension);
        break;
      case OID.EXT_KEY_USAGE:
        fields.extendedKeyUsage = [...parsed(extension, pkijs.ExtKeyUsage, 'extendedKeyUsage').keyPurposes];
        break;
      case OID.CERTIFICATE_POLICIES:
        fields.policies = parsed(extension, pkijs.CertificatePolicies, 'certificatePolicies')
          .certificatePolicies.map((p) => p.policyIdentifier);
        break;
      case OID.CRL_DISTRIBUTION_POINTS:
        for (const point of parsed(extension, pkijs.CRLDistributionPoints, 'cRLDistributionPoints').distributionPoints) {
          if (Array.isArray(point.distributionPoint)) fields.crlDistributionPoints.push(...uris(point.distributionPoint));
        }
        break;
      case OID.AUTHORITY_INFO_ACCESS:
        for (const access of parsed(extension, pkijs.InfoAccess, 'authorityInfoAccess').accessDescriptions) {
          if (access.accessMethod === OID.AD_OCSP) fields.ocspUrls.push(...uris([access.accessLocation]));
          if (access.accessMethod === OID.AD_CA_ISSUERS) fields.caIssuers.push(...uris([access.accessLocation]));
        }
        break;
      default:
        break;
    }
  }
  return fields;
}

function sameAlgorithm(a: pkijs.AlgorithmIdentifier, b: pkijs.AlgorithmIdentifier): boolean {
  const params = (x: pkijs.AlgorithmIdentifier) => (x.algorithmParams ? hex(x.algorithmParams.toBER(false)) : '');
  return a.algorithmId === b.algorithmId && params(a) === params(b);
}

function decodeDer(der: Uint8Array): pkijs.Certificate {
  if (der.byteLength === 0) throw malformed('the input is empty');
  const asn1 = asn1js.fromBER(der);
  if (asn1.offset === -1) throw malformed(`invalid DER (${asn1.result.error || 'cannot decode'})`);
  if (asn1.offset !== der.byteLength) throw malformed('there are bytes after the certificate');
  let certificate: pkijs.Certificate;
  try {
    certificate = new pkijs.Certificate({ schema: asn1.result });
  } catch {
    throw malformed('the DER is not an X.509 certificate');
  }
  if (!sameAlgorithm(certificate.signatureAlgorithm, certificate.signature)) {
    throw malformed('signatureAlgorithm differs from the signature algorithm inside the TBS (RFC 5280 §4.1.1.2)');
  }
  return certificate;
}

/**
 * Parses one X.509 certificate: DER bytes, PEM (exactly one CERTIFICATE block, as text or bytes), or base64 /
 * base64url DER text. Throws `CertificateError` ('malformed_certificate' or 'certificate_too_large').
 * The serial number is the hex of the INTEGER's content bytes as encoded (a DER sign byte `00` stays).
 */
export function parseCertificate(input: Uint8Array | string, options: { maxBytes?: number } = {}): ParsedCertificate {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_CERTIFICATE_BYTES;
  const der = toDer(input, maxBytes);
  if (der.byteLength > maxBytes) throw tooLarge(maxBytes);
  const certificate = decodeDer(der);
  const subject = readName(certificate.subject);
  const issuer = readName(certificate.issuer);
  return {
    der: new Uint8Array(der),
    fingerprint: createHash('sha256').update(der).digest('hex'),
    subject: subject.display,
    issuer: issuer.display,
    subjectAttributes: subject.attributes,
    serialNumber: hex(certificate.serialNumber.valueBlock.valueHexView),
    notBefore: certificate.notBefore.value,
    notAfter: certificate.notAfter.value,
    ...readExtensions(certificate.extensions ?? []),
    keyAlgorithm: keyAlgorithmOf(certificate.subjectPublicKeyInfo),
    signatureAlgorithm: certificate.signatureAlgorithm.algorithmId,
    selfIssued: certificate.subject.isEqual(certificate.issuer),
    pkijs: certificate,
  };
}

/** Parses a chain as sent by a client (any order). Limits bound the work an unauthenticated caller can cause. */
export function parseCertificateChain(inputs: readonly (Uint8Array | string)[],
  limits: { maxCertificates?: number; maxBytes?: number } = {}): ParsedCertificate[] {
  const maxCertificates = limits.maxCertificates ?? DEFAULT_MAX_CHAIN_CERTIFICATES;
  if (inputs.length === 0) throw new CertificateError('empty_chain', 'No certificate was given.');
  if (inputs.length > maxCertificates) {
    throw new CertificateError('chain_too_long', `The chain has ${inputs.length} certificates; at most ${maxCertificates} are accepted.`);
  }
  return inputs.map((input) => parseCertificate(input, { maxBytes: limits.maxBytes }));
}

/** The PEM certificate blocks in a text, in order (none when there are none). */
export function splitPemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

export function toPem(der: Uint8Array): string {
  const body = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`;
}

/**
 * True when the certificate may sign a login challenge: its keyUsage asserts digitalSignature or nonRepudiation.
 * The encryption certificate of a Chinese dual-certificate pair (keyEncipherment/dataEncipherment/keyAgreement only)
 * is refused. A certificate WITHOUT a keyUsage extension is refused too: every GM/T 0015 and CA/B profile requires
 * the extension on end-entity certificates, so its absence means a certificate not issued for signing.
 * CA certificates are never login certificates.
 */
export function isSigningCertificate(cert: ParsedCertificate): boolean {
  if (cert.isCA || !cert.keyUsage) return false;
  return cert.keyUsage.includes('digitalSignature') || cert.keyUsage.includes('nonRepudiation');
}
