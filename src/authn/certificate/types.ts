import type { IdentityExtractionRule, KeyUsageName, ParsedCertificate } from '../../pki/types.ts';

/**
 * What certificate login needs from the trust registry (src/trust), for one moment: the adapter in
 * src/bootstrap wires the registry's snapshot to this, so login logic does not depend on its storage.
 */
export type TrustedService = {
  id: string;
  name: string;
  operatorName: string;
  /** Certificate-policy OID (in the trust anchor's domain, after RFC 5280 mapping) → our level id. */
  policyLevels: Readonly<Record<string, string>>;
  /** The leaf must carry at least one of these (signing certificates only). */
  leafKeyUsages: readonly KeyUsageName[];
  extraction: readonly IdentityExtractionRule[];
  revocation: { mode: 'ocsp' | 'crl' | 'ocsp_or_crl'; softFailMaxLevel?: string };
  keyProtection: 'hardware' | 'software';
  pinRequired: boolean;
  crlUrls: readonly string[];
  ocspUrls: readonly string[];
};

export type ServiceStatus = 'granted' | 'suspended' | 'withdrawn';

export type TrustView = {
  anchors: readonly ParsedCertificate[];
  /** Registered intermediates and cross-certificates, offered to path building next to the client's chain. */
  intermediates: readonly ParsedCertificate[];
  /** Certificates of registered services that are not usable now: only to explain a refusal precisely. */
  inactiveAnchors: readonly ParsedCertificate[];
  inactiveIntermediates: readonly ParsedCertificate[];
  /** The service a registered CA certificate belongs to, usable or not; undefined for unregistered certificates. */
  serviceFor(fingerprint: string): { service: TrustedService; status: ServiceStatus; usable: boolean } | undefined;
};

export type TrustSource = { current(): Promise<TrustView> };

/** How the holder proved possession of the certificate's key. */
export type ProofOfPossession = 'signed_challenge' | 'tls_client_certificate' | 'proxy_client_certificate';
