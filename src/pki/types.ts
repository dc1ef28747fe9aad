import type * as pkijs from 'pkijs';

/**
 * Shared vocabulary of the certificate modules (src/pki, src/trust, src/authn/certificate). Parsing,
 * path validation, revocation and identity extraction are pure: they never touch the database.
 */

export type KeyAlgorithm = 'sm2' | 'rsa' | 'ecdsa-p256' | 'ecdsa-p384' | 'unknown';

export type KeyUsageName =
  | 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment'
  | 'keyAgreement' | 'keyCertSign' | 'cRLSign' | 'encipherOnly' | 'decipherOnly';

export type ParsedCertificate = {
  der: Uint8Array;
  /** SHA-256 of the DER, lowercase hex: the certificate's identity everywhere in the registry. */
  fingerprint: string;
  /** Display form, e.g. `C=CN, O=Test Gov, CN=Test SM2 Issuing CA` (for people and logs, never for binding). */
  subject: string;
  issuer: string;
  /** Every subject attribute in order: type as a dotted OID, value as text. */
  subjectAttributes: { type: string; value: string }[];
  serialNumber: string; // lowercase hex, no leading zeros stripped
  notBefore: Date;
  notAfter: Date;
  subjectKeyIdentifier?: string; // lowercase hex
  authorityKeyIdentifier?: string; // lowercase hex
  isCA: boolean;
  pathLengthConstraint?: number;
  keyUsage?: KeyUsageName[]; // undefined when the extension is absent
  extendedKeyUsage?: string[]; // OIDs
  policies: string[]; // certificatePolicies OIDs
  crlDistributionPoints: string[]; // URIs
  ocspUrls: string[]; // AIA id-ad-ocsp URIs
  caIssuers: string[]; // AIA id-ad-caIssuers URIs
  keyAlgorithm: KeyAlgorithm;
  signatureAlgorithm: string; // OID
  selfIssued: boolean;
  pkijs: pkijs.Certificate;
};

export type PathErrorCode =
  | 'untrusted' // no path to a trust anchor
  | 'expired' | 'not_yet_valid'
  | 'bad_signature'
  | 'not_a_ca' | 'path_length' | 'key_usage'
  | 'policy' | 'name_constraints'
  | 'unsupported_algorithm'
  | 'invalid';

export type PathValidationInput = {
  leaf: ParsedCertificate;
  /** Candidate intermediates and cross-certificates (from the client and from the registry), any order. */
  intermediates: readonly ParsedCertificate[];
  anchors: readonly ParsedCertificate[];
  at: Date;
  /** RFC 5280 user-initial-policy-set; undefined means anyPolicy. */
  acceptablePolicies?: readonly string[];
  requireExplicitPolicy?: boolean;
  inhibitPolicyMapping?: boolean;
};

export type PathValidationResult =
  | {
    ok: true;
    /** Trust anchor first, leaf last. */
    path: ParsedCertificate[];
    /** Valid policies in the trust anchor's domain (after RFC 5280 policy mapping). */
    policies: string[];
  }
  | { ok: false; code: PathErrorCode; message: string };

export type RevocationStatus =
  | { status: 'good'; source: 'ocsp' | 'crl'; checkedAt: Date }
  | { status: 'revoked'; source: 'ocsp' | 'crl'; revokedAt?: Date; reason?: string }
  | { status: 'unknown'; reason: string };

/** Where a CA puts the ID number or the unified social credit code (standards §2.4). */
export type IdentitySource =
  /** A certificate extension: GM/T 0015 `1.2.156.10260.4.1.1` (CHOICE tag 0 = resident ID), a legacy or private OID. */
  | { type: 'extension'; oid: string; choiceTag?: number }
  /** A subject DN attribute, e.g. serialNumber 2.5.4.5, organizationIdentifier 2.5.4.97, OU 2.5.4.11. */
  | { type: 'subject'; attribute: string };

export type IdentityExtractionRule = {
  kind: 'citizen' | 'enterprise';
  source: IdentitySource;
  /** Clean-up before validation: prefixes to drop (e.g. `N`, `ID:`) and characters to remove (e.g. `-`, spaces). */
  stripPrefixes?: string[];
  removeCharacters?: string;
  /** Accept 15-digit first-generation ID numbers (converted to 18 digits with GB 11643). */
  allowLegacy15?: boolean;
};

export type ExtractedIdentity = {
  /** The natural person's GB 11643 ID number, validated and normalised (18 characters, upper-case X). */
  citizenId?: string;
  /** The GB 32100 unified social credit code, validated. */
  uscc?: string;
  /** The subject's common name, for display and for a new account's name. */
  name?: string;
};
