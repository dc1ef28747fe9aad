import { createPublicKey } from 'node:crypto';
import * as pkijs from 'pkijs';
import { installGmEngine } from './gm-engine.ts';
import { checkNameConstraints } from './name-constraints.ts';
import { buildCandidatePaths } from './path-builder.ts';
import { ANY_POLICY, processPolicies } from './policy-processing.ts';
import type { ParsedCertificate, PathErrorCode, PathValidationInput, PathValidationResult } from './types.ts';

/**
 * RFC 5280 path validation without revocation (src/pki/revocation checks that separately).
 *
 * Who checks what:
 * - path building and signature verification: path-builder.ts (pkijs' recursive builder has no loop detection and
 *   never returns on a pool with mutual cross-certificates);
 * - algorithms, validity dates, basicConstraints cA, keyUsage keyCertSign, pathLenConstraint (pkijs ignores it) and
 *   unknown critical extensions (pkijs ignores them): here, so that each failure gets a precise code;
 * - certificate policies: policy-processing.ts (RFC 5280 §6.1 valid_policy_tree), which yields the policies we return;
 * - name constraints: name-constraints.ts;
 * - then pkijs' CertificateChainValidationEngine re-validates the chosen path (signatures, name chaining, dates,
 *   CA flags, name constraints) as a second opinion; any failure it reports fails the path, except its policy
 *   verdicts. Its policy step is not RFC 5280: once an explicit policy is required (by the caller or by a
 *   requireExplicitPolicy in a cross-certificate) it no longer lets anyPolicy in a CA certificate match, so it
 *   rejects the common "issuing CA asserts anyPolicy, leaf asserts a specific policy" path; and it rejects any
 *   policyMappings once mapping is inhibited even when no explicit policy is required. So pkijs runs with
 *   anyPolicy / no explicit policy / no inhibition, and its policy result codes (0, 98, 99) are ignored.
 *
 * The returned `policies` are RFC 5280's valid policies in the trust anchor's domain, intersected with
 * `acceptablePolicies`. In pkijs terms that is `authConstrPolicies` (policies mapped back to the anchor's domain)
 * ∩ acceptable; pkijs' `userConstrPolicies` is not it: with the default anyPolicy input it is just `[anyPolicy]`.
 */

type Failure = { ok: false; code: PathErrorCode; message: string };

const fail = (code: PathErrorCode, message: string): Failure => ({ ok: false, code, message });

const RSASSA_PSS = '1.2.840.113549.1.1.10';
const SHA2_OIDS: ReadonlySet<string> = new Set(['2.16.840.1.101.3.4.2.1', '2.16.840.1.101.3.4.2.2', '2.16.840.1.101.3.4.2.3']);

/** Signature algorithms accepted on every certificate below the anchor; MD5, SHA-1 and anything unknown are refused. */
const ACCEPTED_SIGNATURE_ALGORITHMS: ReadonlySet<string> = new Set([
  '1.2.840.113549.1.1.11', '1.2.840.113549.1.1.12', '1.2.840.113549.1.1.13', // sha256/384/512WithRSAEncryption
  RSASSA_PSS, // only with SHA-256/384/512 inside its parameters (their default is SHA-1)
  '1.2.840.10045.4.3.2', '1.2.840.10045.4.3.3', '1.2.840.10045.4.3.4', // ecdsa-with-SHA256/384/512
  '1.2.156.10197.1.501', // SM2-with-SM3
]);

const MIN_RSA_BITS = 2048;

/** Extensions this validator (or the login using it) processes; any other critical extension fails the path. */
const UNDERSTOOD_EXTENSIONS: ReadonlySet<string> = new Set([
  '2.5.29.14', '2.5.29.15', '2.5.29.17', '2.5.29.18', '2.5.29.19', '2.5.29.30', '2.5.29.31', '2.5.29.32',
  '2.5.29.33', '2.5.29.35', '2.5.29.36', '2.5.29.37', '2.5.29.54', '2.5.29.46',
  '1.3.6.1.5.5.7.1.1', // authorityInfoAccess
  '1.3.6.1.5.5.7.48.1.5', // id-pkix-ocsp-nocheck
]);

function rsaBits(cert: ParsedCertificate): number | undefined {
  if (cert.keyAlgorithm !== 'rsa') return undefined;
  try {
    const spki = new Uint8Array(cert.pkijs.subjectPublicKeyInfo.toSchema().toBER());
    return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength;
  } catch {
    return 0;
  }
}

function pssHashIsSha2(cert: ParsedCertificate): boolean {
  try {
    const params = new pkijs.RSASSAPSSParams({ schema: cert.pkijs.signatureAlgorithm.algorithmParams });
    return SHA2_OIDS.has(params.hashAlgorithm.algorithmId);
  } catch {
    return false;
  }
}

function algorithmProblem(cert: ParsedCertificate, isAnchor: boolean): Failure | undefined {
  const accepted = ACCEPTED_SIGNATURE_ALGORITHMS.has(cert.signatureAlgorithm) && (cert.signatureAlgorithm !== RSASSA_PSS || pssHashIsSha2(cert));
  if (!isAnchor && !accepted) {
    return fail('unsupported_algorithm', `"${cert.subject}" is signed with ${cert.signatureAlgorithm}, which is not accepted (MD5 and SHA-1 are refused).`);
  }
  const bits = rsaBits(cert);
  if (bits !== undefined && bits < MIN_RSA_BITS) {
    return fail('unsupported_algorithm', `"${cert.subject}" has a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are required.`);
  }
  return undefined;
}

function checkAlgorithms(path: readonly ParsedCertificate[]): Failure | undefined {
  for (const [index, cert] of path.entries()) {
    const problem = algorithmProblem(cert, index === 0);
    if (problem) return problem;
  }
  return undefined;
}

function checkDates(path: readonly ParsedCertificate[], at: Date): Failure | undefined {
  for (const cert of path) {
    if (cert.notBefore > at) return fail('not_yet_valid', `"${cert.subject}" is not valid before ${cert.notBefore.toISOString()}.`);
    if (cert.notAfter < at) return fail('expired', `"${cert.subject}" expired on ${cert.notAfter.toISOString()}.`);
  }
  return undefined;
}

/** RFC 5280 §6.1.4 (k)–(n) for the anchor and every intermediate. The anchor's own pathLenConstraint is honoured too. */
function checkCaConstraints(path: readonly ParsedCertificate[]): Failure | undefined {
  const issuers = path.slice(0, -1);
  for (const cert of issuers) {
    if (!cert.isCA) return fail('not_a_ca', `"${cert.subject}" issued a certificate but is not a CA (basicConstraints cA is not set).`);
    if (cert.keyUsage && !cert.keyUsage.includes('keyCertSign')) {
      return fail('key_usage', `"${cert.subject}" issued a certificate but its keyUsage lacks keyCertSign.`);
    }
  }
  let maxPathLength = path.length; // larger than any possible count
  for (const [index, cert] of issuers.entries()) {
    if (index > 0 && !cert.selfIssued) {
      if (maxPathLength <= 0) return fail('path_length', `"${cert.subject}" exceeds the pathLenConstraint of a CA above it.`);
      maxPathLength--;
    }
    if (cert.pathLengthConstraint !== undefined && cert.pathLengthConstraint < maxPathLength) maxPathLength = cert.pathLengthConstraint;
  }
  return undefined;
}

function checkCriticalExtensions(path: readonly ParsedCertificate[]): Failure | undefined {
  for (const cert of path.slice(1)) {
    for (const extension of cert.pkijs.extensions ?? []) {
      if (extension.critical && !UNDERSTOOD_EXTENSIONS.has(extension.extnID)) {
        return fail('invalid', `"${cert.subject}" has the critical extension ${extension.extnID}, which is not supported.`);
      }
    }
  }
  return undefined;
}

/** pkijs result codes (node_modules/pkijs/build/index.js, CertificateChainValidationEngine) → our codes. */
function mapPkijsFailure(code: number, message: string): PathErrorCode {
  switch (code) {
    case 3: case 4: case 5: return 'key_usage';
    case 7: case 14: return 'not_a_ca';
    case 8: return 'expired'; // not reached: checkDates runs first and tells expired from not-yet-valid
    case 10: case 60: case 97: return 'untrusted';
    case 21: case 41: case 42: return 'name_constraints';
    default: return /certificate paths? found/i.test(message) ? 'untrusted' : 'invalid';
  }
}

/** pkijs result codes that come from its (non-RFC 5280) policy step; see the header. */
const PKIJS_POLICY_CODES: ReadonlySet<number> = new Set([0, 98, 99]);

async function runPkijs(path: readonly ParsedCertificate[], at: Date): Promise<Failure | undefined> {
  const engine = new pkijs.CertificateChainValidationEngine({
    trustedCerts: [path[0].pkijs],
    certs: [...path.slice(1, -1).map((c) => c.pkijs), path[path.length - 1].pkijs], // the leaf MUST be last
    checkDate: at,
  });
  const result = await engine.verify({ initialPolicySet: [ANY_POLICY], initialExplicitPolicy: false, initialPolicyMappingInhibit: false });
  if (result.result || PKIJS_POLICY_CODES.has(result.resultCode)) return undefined;
  const code = mapPkijsFailure(result.resultCode, result.resultMessage);
  return fail(code, `Certificate path rejected: ${result.resultMessage}.`);
}

async function validateCandidate(path: ParsedCertificate[], input: PathValidationInput): Promise<PathValidationResult> {
  const failure = checkAlgorithms(path) ?? checkDates(path, input.at) ?? checkCaConstraints(path) ?? checkCriticalExtensions(path);
  if (failure) return failure;
  const policies = processPolicies(path, {
    acceptablePolicies: input.acceptablePolicies,
    requireExplicitPolicy: input.requireExplicitPolicy,
    inhibitPolicyMapping: input.inhibitPolicyMapping,
  });
  if (!policies.ok) return fail('policy', `Certificate policy check failed: ${policies.message}.`);
  const nameProblem = checkNameConstraints(path);
  if (nameProblem) return fail('name_constraints', `Name constraints violated: ${nameProblem}.`);
  const pkijsFailure = await runPkijs(path, input.at);
  if (pkijsFailure) return pkijsFailure;
  return { ok: true, path, policies: policies.policies };
}

/**
 * Validates the leaf against the trust anchors at `input.at`. Tries every candidate path (shortest first) and
 * returns the first valid one, or the failure of the shortest path. Revocation is not checked here.
 */
export async function validatePath(input: PathValidationInput): Promise<PathValidationResult> {
  installGmEngine();
  if (input.anchors.length === 0) return fail('untrusted', 'No trust anchor is configured.');
  // A weak leaf can never be valid; say so rather than "bad signature" (WebCrypto cannot even verify MD5).
  const weakLeaf = algorithmProblem(input.leaf, false);
  if (weakLeaf) return weakLeaf;
  const built = await buildCandidatePaths(input.leaf, input.intermediates, input.anchors);
  if (built.paths.length === 0) {
    if (built.badSignature) {
      const { certificate, issuer } = built.badSignature;
      return algorithmProblem(certificate, false)
        ?? fail('bad_signature', `The signature on "${certificate.subject}" does not verify with the key of "${issuer.subject}".`);
    }
    return fail('untrusted', `No certification path leads from "${input.leaf.subject}" (issued by "${input.leaf.issuer}") to a trust anchor.`);
  }
  let first: PathValidationResult | undefined;
  for (const path of built.paths) {
    const result = await validateCandidate(path, input);
    if (result.ok) return result;
    first ??= result;
  }
  return first!;
}
