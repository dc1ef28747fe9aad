import type { IdentityExtractionRule, KeyUsageName, ParsedCertificate } from '../pki/types.ts';

/** The registry's vocabulary (ETSI TS 119 612 model, standards §2.9). */

export const SERVICE_TYPES = ['ca_individual', 'ca_organisation', 'ocsp'] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];

export const SERVICE_STATUSES = ['granted', 'suspended', 'withdrawn'] as const;
export type ServiceStatus = (typeof SERVICE_STATUSES)[number];

export const CERTIFICATE_ROLES = ['anchor', 'intermediate', 'cross'] as const;
export type CertificateRole = (typeof CERTIFICATE_ROLES)[number];

export const REVOCATION_MODES = ['ocsp', 'crl', 'ocsp_or_crl'] as const;
export type RevocationMode = (typeof REVOCATION_MODES)[number];

export const KEY_PROTECTIONS = ['hardware', 'software'] as const;
export type KeyProtection = (typeof KEY_PROTECTIONS)[number];

/** Login certificates are signing certificates (standards §2.3: never the encryption half of a dual pair). */
export const SIGNING_KEY_USAGES = ['digitalSignature', 'nonRepudiation'] as const satisfies readonly KeyUsageName[];
export type SigningKeyUsage = (typeof SIGNING_KEY_USAGES)[number];

export const SUBMISSION_KINDS = ['new_ca_certificate', 'key_rollover', 'endpoints', 'suspension'] as const;
export type SubmissionKind = (typeof SUBMISSION_KINDS)[number];
export type SubmissionStatus = 'pending' | 'approved' | 'rejected';

/** `local`: registered on this platform; otherwise the id of the peer source the entry was imported from. */
export type SourceId = 'local' | string;

export type Actor = { name: string; ip?: string; clientId?: string };

export type Operator = {
  id: string;
  source: SourceId;
  externalId?: string;
  name: string;
  uscc: string;
  miitLicence?: string;
  osccaLicence?: string;
  partnerClientId?: string;
  createdAt: Date;
  updatedAt: Date;
};

export type OperatorInput = {
  name: string;
  uscc: string;
  miitLicence?: string | null;
  osccaLicence?: string | null;
  partnerClientId?: string | null;
};

export type StatusChange = { status: ServiceStatus; from: Date; reason?: string; actor?: string };

export type RegisteredCertificate = {
  fingerprint: string;
  der: Uint8Array;
  role: CertificateRole;
  subject: string;
  notAfter: Date;
  /** After a key rollover the replaced certificate is accepted until this time only. */
  acceptedUntil?: Date;
  addedAt: Date;
};

/** What a service is configured with: everything an admin sets and a peer list carries. */
export type ServiceSettings = {
  type: ServiceType;
  name: string;
  crlUrls: string[];
  ocspUrls: string[];
  /** Certificate-policy OID → assurance level id. */
  policyLevels: Record<string, string>;
  keyUsages: SigningKeyUsage[];
  extractionRules: IdentityExtractionRule[];
  revocationMode: RevocationMode;
  /** Highest level at which an unknown revocation status is tolerated; null = never. Never L4 or above. */
  softFailMaxLevel: string | null;
  keyProtection: KeyProtection;
  pinRequired: boolean;
};

export type Service = ServiceSettings & {
  id: string;
  operatorId: string;
  externalId?: string;
  status: ServiceStatus;
  statusSince: Date;
  history: StatusChange[];
  certificates: RegisteredCertificate[];
  createdAt: Date;
  updatedAt: Date;
};

export type CertificateInput = { certificate: string; role: CertificateRole };

export type ServiceInput = ServiceSettings & { certificates: CertificateInput[]; status?: ServiceStatus; reason?: string };

export type NewCaCertificatePayload = { certificate: string; role: CertificateRole };
export type KeyRolloverPayload = { newCertificate: string; role: CertificateRole; replacesFingerprint: string; oldAcceptedUntil: string };
export type EndpointsPayload = { crlUrls: string[]; ocspUrls: string[] };
export type SuspensionPayload = { reason: string };

export type SubmissionPayload =
  | { kind: 'new_ca_certificate'; payload: NewCaCertificatePayload }
  | { kind: 'key_rollover'; payload: KeyRolloverPayload }
  | { kind: 'endpoints'; payload: EndpointsPayload }
  | { kind: 'suspension'; payload: SuspensionPayload };

export type Submission = {
  id: string;
  operatorId: string;
  serviceId: string;
  kind: SubmissionKind;
  payload: Record<string, unknown>;
  status: SubmissionStatus;
  submittedBy: string;
  submittedAt: Date;
  decidedBy?: string;
  decidedAt?: Date;
  reason?: string;
};

export type PeerSource = {
  id: string;
  name: string;
  listUrl?: string;
  jwks: { keys: Record<string, unknown>[] };
  enabled: boolean;
  lastSequence?: number;
  issuedAt?: Date;
  nextUpdate?: Date;
  importedAt?: Date;
  importNotes: string[];
  createdAt: Date;
  updatedAt: Date;
};

export type ListState = { sequenceNumber: number; issuedAt: Date; revision: number };

/** Why a registered service is not usable for login right now. */
export type UnusableReason = 'suspended' | 'withdrawn' | 'source_disabled' | 'source_stale';

export type ServiceStatusView = {
  serviceId: string;
  serviceName: string;
  operatorName: string;
  source: SourceId;
  status: ServiceStatus;
  since: Date;
  reason?: string;
  usable: boolean;
  unusableReason?: UnusableReason;
};

export type TrustedCertificate = { certificate: ParsedCertificate; role: CertificateRole; acceptedUntil?: Date };

/** A registered service as logins see it (settings, operator, currently accepted certificates). */
export type TrustService = ServiceSettings & {
  id: string;
  source: SourceId;
  operator: { id: string; name: string; uscc: string; miitLicence?: string; osccaLicence?: string };
  /** Without certificates whose rollover grace period (acceptedUntil) has ended. */
  certificates: TrustedCertificate[];
  /** The level ids a leaf's (valid, after path validation) certificate policies map to; the login takes the highest. */
  levelsForPolicies(policyOids: readonly string[]): string[];
};

/** A service a login may rely on now: granted, from this platform or from an enabled and fresh peer list. */
export type UsableService = TrustService;

export type ServiceEntry = { service: TrustService; status: ServiceStatus; usable: boolean; unusableReason?: UnusableReason };

export type TrustSnapshot = {
  /** The hot-store version this snapshot was loaded at. */
  version: string;
  loadedAt: Date;
  /** Anchors of usable services only. */
  anchors: ParsedCertificate[];
  /** Registered intermediates and cross-certificates of usable services. */
  intermediates: ParsedCertificate[];
  /**
   * Certificates of services that are registered but not usable now (suspended, withdrawn, peer source disabled or
   * stale): never trust them; a login may build a path with them only to tell the user precisely why it fails.
   */
  inactiveAnchors: ParsedCertificate[];
  inactiveIntermediates: ParsedCertificate[];
  services: UsableService[];
  serviceForCertificate(fingerprint: string): UsableService | undefined;
  /** The service a certificate is registered under, usable or not (local registrations first). */
  entryForCertificate(fingerprint: string): ServiceEntry | undefined;
  /** Every registered service, usable or not, so a login can say precisely "this CA is suspended". */
  statusOf(serviceId: string): ServiceStatusView | undefined;
  /** The status of the service a certificate is registered under (usable or not); local registrations first. */
  statusForCertificate(fingerprint: string): ServiceStatusView | undefined;
};
