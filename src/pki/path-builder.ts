import type { ParsedCertificate } from './types.ts';

/**
 * Certification path building (RFC 4158): breadth-first from the leaf towards the trust anchors, so the shortest
 * paths come first. pkijs' own builder recurses without loop detection, and mutual cross-certificates (bridge CAs,
 * two roots certifying each other) are normal in the pool, so we build here and let pkijs validate one path at a time.
 * Every edge is a verified signature; the limits bound the work an unauthenticated client's certificates can cause.
 */

export type PathBuildingLimits = {
  /** Certificates between anchor and leaf. */
  maxIntermediates: number;
  maxPaths: number;
  maxSignatureChecks: number;
  /** Partial paths kept per level: a pool dense with cross-certificates has exponentially many simple paths. */
  maxPartialPaths: number;
};

export const DEFAULT_PATH_BUILDING_LIMITS: PathBuildingLimits = { maxIntermediates: 6, maxPaths: 8, maxSignatureChecks: 64, maxPartialPaths: 256 };

export type CandidatePath = ParsedCertificate[]; // trust anchor first, leaf last

export type PathBuildingResult = {
  paths: CandidatePath[];
  /** A certificate named an issuer we hold, with a matching key identifier, but the signature did not verify. */
  badSignature?: { certificate: ParsedCertificate; issuer: ParsedCertificate };
};

const hexOf = (bytes: ArrayBuffer | Uint8Array): string => Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex');

/** Subject name plus key: RFC 4158 §5.2 loop detection (a key-rollover certificate keeps the name, not the key). */
const identityOf = (cert: ParsedCertificate): string =>
  `${hexOf(cert.pkijs.subject.toSchema().toBER())}|${hexOf(cert.pkijs.subjectPublicKeyInfo.toSchema().toBER())}`;

function couldHaveIssued(issuer: ParsedCertificate, child: ParsedCertificate): boolean {
  if (!issuer.pkijs.subject.isEqual(child.pkijs.issuer)) return false;
  return !(child.authorityKeyIdentifier && issuer.subjectKeyIdentifier && child.authorityKeyIdentifier !== issuer.subjectKeyIdentifier);
}

export async function buildCandidatePaths(leaf: ParsedCertificate, intermediates: readonly ParsedCertificate[],
  anchors: readonly ParsedCertificate[], limits: PathBuildingLimits = DEFAULT_PATH_BUILDING_LIMITS): Promise<PathBuildingResult> {
  const anchorPrints = new Set(anchors.map((a) => a.fingerprint));
  const seen = new Set<string>([leaf.fingerprint]);
  const pool: { cert: ParsedCertificate; anchor: boolean }[] = [];
  for (const cert of anchors) if (!seen.has(cert.fingerprint)) { seen.add(cert.fingerprint); pool.push({ cert, anchor: true }); }
  for (const cert of intermediates) {
    if (!seen.has(cert.fingerprint) && !anchorPrints.has(cert.fingerprint)) { seen.add(cert.fingerprint); pool.push({ cert, anchor: false }); }
  }

  const verified = new Map<string, boolean>();
  let checks = 0;
  const result: PathBuildingResult = { paths: [] };
  const signedBy = async (child: ParsedCertificate, issuer: ParsedCertificate): Promise<boolean> => {
    const key = `${child.fingerprint}:${issuer.fingerprint}`;
    let ok = verified.get(key);
    if (ok === undefined) {
      if (checks++ >= limits.maxSignatureChecks) return false;
      try {
        ok = await child.pkijs.verify(issuer.pkijs);
      } catch {
        ok = false;
      }
      verified.set(key, ok);
      if (!ok) result.badSignature ??= { certificate: child, issuer };
    }
    return ok;
  };

  // Each partial chain runs from the leaf upwards.
  let frontier: ParsedCertificate[][] = [[leaf]];
  for (let depth = 0; depth <= limits.maxIntermediates && frontier.length; depth++) {
    const next: ParsedCertificate[][] = [];
    for (const chain of frontier) {
      const top = chain[chain.length - 1];
      const onPath = new Set(chain.map(identityOf));
      for (const { cert, anchor } of pool) {
        if (!couldHaveIssued(cert, top) || (!anchor && onPath.has(identityOf(cert)))) continue;
        if (!(await signedBy(top, cert))) continue;
        if (anchor) {
          result.paths.push([cert, ...[...chain].reverse()]);
          if (result.paths.length >= limits.maxPaths) return result;
        } else if (depth < limits.maxIntermediates && next.length < limits.maxPartialPaths) {
          next.push([...chain, cert]);
        }
      }
    }
    frontier = next;
  }
  return result;
}
