import type { LevelCatalog } from '../../assurance/levels.ts';
import { CertificateError, isSigningCertificate, parseCertificateChain } from '../../pki/certificate.ts';
import { validatePath } from '../../pki/path-validator.ts';
import type { RevocationChecker } from '../../pki/revocation/revocation-checker.ts';
import type { ParsedCertificate, PathErrorCode, RevocationStatus } from '../../pki/types.ts';
import { CertificateLoginError, type CertificateRefusal } from './errors.ts';
import type { ServiceStatus, TrustedService, TrustSource, TrustView } from './types.ts';

export type VerifiedChain = {
  leaf: ParsedCertificate;
  /** Trust anchor first, leaf last. */
  path: ParsedCertificate[];
  /** The registered CA service the leaf belongs to (the nearest registered certificate above it). */
  service: TrustedService;
  /** The level the CA's policy mapping grants this certificate. */
  level: string;
  policy: string;
  revocation: { status: RevocationStatus['status']; softFailed: boolean };
};

const PATH_REFUSALS: Record<PathErrorCode, CertificateRefusal> = {
  untrusted: 'untrusted_ca',
  expired: 'certificate_expired',
  not_yet_valid: 'certificate_not_yet_valid',
  bad_signature: 'invalid_chain',
  not_a_ca: 'invalid_chain',
  path_length: 'invalid_chain',
  key_usage: 'invalid_chain',
  policy: 'policy_not_recognised',
  name_constraints: 'invalid_chain',
  unsupported_algorithm: 'unsupported_algorithm',
  invalid: 'invalid_chain',
};

const STATUS_REFUSALS: Record<Exclude<ServiceStatus, 'granted'>, CertificateRefusal> = { suspended: 'ca_suspended', withdrawn: 'ca_withdrawn' };

/**
 * From a presented chain to "a recognised CA vouches for this certificate at level X": parse within limits,
 * build and validate the path to a registered anchor (RFC 5280, SM2/RSA/ECDSA, bridges and policy
 * mapping), check every registered CA on the path is granted now, map the validated policy to a level,
 * require a signing certificate, and check revocation within the configured time budget.
 */
export function createCertificateVerifier(deps: {
  trust: TrustSource;
  revocation: RevocationChecker;
  catalog: LevelCatalog;
  clock: () => Date;
  maxChainLength: number;
}) {
  const { catalog } = deps;
  const rank = (level: string | undefined) => (level ? catalog.level(level)?.rank ?? 0 : 0);

  function parse(chain: readonly (Uint8Array | string)[]): ParsedCertificate[] {
    try {
      return parseCertificateChain(chain, { maxCertificates: deps.maxChainLength });
    } catch (error) {
      if (error instanceof CertificateError) throw new CertificateLoginError(error.code, error.message);
      throw error;
    }
  }

  /** The nearest registered certificate above the leaf names the service; every registered one must be usable. */
  function serviceOf(trust: TrustView, path: readonly ParsedCertificate[]): TrustedService {
    let issuing: TrustedService | undefined;
    for (let i = path.length - 2; i >= 0; i--) {
      const entry = trust.serviceFor(path[i].fingerprint);
      if (!entry) continue;
      if (!entry.usable) {
        const refusal = entry.status === 'granted' ? 'untrusted_ca' : STATUS_REFUSALS[entry.status];
        throw new CertificateLoginError(refusal, `The CA service "${entry.service.name}" is ${entry.status}.`, { service: entry.service.id });
      }
      issuing ??= entry.service;
    }
    if (!issuing) throw new CertificateLoginError('untrusted_ca', 'No recognised CA is on this certificate\'s path.');
    return issuing;
  }

  function levelFor(trust: TrustView, path: readonly ParsedCertificate[], policies: readonly string[]): { level: string; policy: string } | undefined {
    // Policies are reported in the trust anchor's domain; any registered service on the path may map them.
    let best: { level: string; policy: string } | undefined;
    for (const cert of path.slice(0, -1)) {
      const service = trust.serviceFor(cert.fingerprint)?.service;
      if (!service) continue;
      for (const policy of policies) {
        const level = service.policyLevels[policy];
        if (level && catalog.level(level) && rank(level) > rank(best?.level)) best = { level, policy };
      }
    }
    return best;
  }

  async function revocationOf(trust: TrustView, path: readonly ParsedCertificate[], service: TrustedService): Promise<RevocationStatus[]> {
    // Certificates registered in the trust list are governed by their registry status; the rest are checked.
    const checks: Promise<RevocationStatus>[] = [];
    for (let i = 1; i < path.length; i++) {
      const certificate = path[i];
      if (trust.serviceFor(certificate.fingerprint)) continue;
      const issuerService = trust.serviceFor(path[i - 1].fingerprint)?.service ?? service;
      const useOcsp = issuerService.revocation.mode !== 'crl';
      const useCrl = issuerService.revocation.mode !== 'ocsp';
      checks.push(deps.revocation.check({
        certificate,
        issuer: path[i - 1],
        ocspUrls: useOcsp ? [...new Set([...certificate.ocspUrls, ...issuerService.ocspUrls])] : [],
        crlUrls: useCrl ? [...new Set([...certificate.crlDistributionPoints, ...issuerService.crlUrls])] : [],
      }));
    }
    return Promise.all(checks);
  }

  /** A path that exists only through a suspended or withdrawn CA is refused for that reason, not as unknown. */
  async function explainUntrusted(trust: TrustView, leaf: ParsedCertificate, intermediates: readonly ParsedCertificate[]) {
    if (trust.inactiveAnchors.length === 0 && trust.inactiveIntermediates.length === 0) return;
    const known = new Set(intermediates.map((c) => c.fingerprint));
    const retry = await validatePath({
      leaf, at: deps.clock(),
      anchors: [...trust.anchors, ...trust.inactiveAnchors],
      intermediates: [...intermediates, ...trust.inactiveIntermediates.filter((c) => !known.has(c.fingerprint))],
    });
    if (retry.ok) serviceOf(trust, retry.path);
  }

  return {
    parse,

    async verify(presented: readonly ParsedCertificate[]): Promise<VerifiedChain> {
      const [leaf, ...rest] = presented;
      const trust = await deps.trust.current();
      const known = new Set(trust.intermediates.map((c) => c.fingerprint));
      const intermediates = [...trust.intermediates, ...rest.filter((c) => !known.has(c.fingerprint))];
      const result = await validatePath({ leaf, intermediates, anchors: trust.anchors, at: deps.clock() });
      if (!result.ok) {
        if (result.code === 'untrusted') await explainUntrusted(trust, leaf, intermediates);
        throw new CertificateLoginError(PATH_REFUSALS[result.code], result.message, { pathError: result.code });
      }

      const service = serviceOf(trust, result.path);
      if (!isSigningCertificate(leaf) || !(leaf.keyUsage ?? []).some((usage) => service.leafKeyUsages.includes(usage))) {
        throw new CertificateLoginError('not_a_signing_certificate', 'Only signing certificates can be used to sign in.', { keyUsage: leaf.keyUsage ?? null });
      }
      const granted = levelFor(trust, result.path, result.policies);
      if (!granted) throw new CertificateLoginError('policy_not_recognised', 'No certificate policy of this certificate maps to a level.', { policies: result.policies });

      const statuses = await revocationOf(trust, result.path, service);
      const revoked = statuses.find((s) => s.status === 'revoked');
      if (revoked) throw new CertificateLoginError('certificate_revoked', 'A certificate on the path is revoked.', { source: revoked.status === 'revoked' ? revoked.source : undefined });
      const unknown = statuses.find((s): s is Extract<RevocationStatus, { status: 'unknown' }> => s.status === 'unknown');
      // An unknown status fails closed, except up to the level the CA's entry tolerates, and never at the highest level (L4).
      const highest = catalog.levels[catalog.levels.length - 1].id;
      const softFailed = Boolean(unknown) && granted.level !== highest && rank(granted.level) <= rank(service.revocation.softFailMaxLevel);
      if (unknown && !softFailed) throw new CertificateLoginError('revocation_unknown', `The revocation status is unknown: ${unknown.reason}`, { revocationReason: unknown.reason });

      return {
        leaf, path: result.path, service, level: granted.level, policy: granted.policy,
        revocation: { status: unknown ? 'unknown' : 'good', softFailed },
      };
    },
  };
}

export type CertificateVerifier = ReturnType<typeof createCertificateVerifier>;
