// In-process cost of checking one presented certificate, without HTTP: parse the chain, verify the signature over
// the challenge (src/pki/signature.ts) and verify the chain (src/authn/certificate/certificate-verifier.ts: path
// validation against the trust registry, registry status, policy → level, revocation from a cached CRL).
// Sequential on the main thread, so on one core.
import { performance } from 'node:perf_hooks';
import type { CertificateVerifier } from '../../src/authn/certificate/certificate-verifier.ts';
import { verifySignature } from '../../src/pki/signature.ts';
import type { ParsedCertificate } from '../../src/pki/types.ts';
import { percentile } from './report.ts';

export type VerificationSubject = {
  label: string;
  /** Signing certificate first, as a client presents it. */
  chainDer: readonly Uint8Array[];
  sign(message: Uint8Array): Uint8Array;
  expectedLevel: string;
  /** The leaf's issuer, to time one certificate-signature check on its own. */
  issuer: ParsedCertificate;
};

export type VerificationSummary = {
  label: string;
  keyAlgorithm: string;
  /** Certificates on the validated path, anchor included. */
  pathLength: number;
  iterations: number;
  elapsedMs: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  parse: { p50Ms: number; p99Ms: number };
  signature: { p50Ms: number; p99Ms: number };
  chain: { p50Ms: number; p99Ms: number };
  /** One certificate signature (the leaf's, with its issuer's key) checked by pkijs as path validation does. */
  certificateSignatureP50Ms: number;
  /** The very first check: downloads the CRL (and runs cold code). */
  firstMs: number;
  /** CPU time of the main thread over wall time during the timed iterations. */
  mainThreadCores: number;
};

export const WARM_UP_ITERATIONS = 20;
const SIGNATURE_SAMPLES = 50;
const MAX_ITERATIONS = 1_000_000;

/** Checks one iteration's answer, so that a fast refusal is never counted as a verification. */
async function once(verifier: CertificateVerifier, subject: VerificationSubject, message: Uint8Array, signature: Uint8Array) {
  const t0 = performance.now();
  const chain = verifier.parse(subject.chainDer);
  const t1 = performance.now();
  const signed = await verifySignature({ certificate: chain[0], message, signature });
  const t2 = performance.now();
  if (!signed) throw new Error(`${subject.label}: the challenge signature did not verify`);
  const verified = await verifier.verify(chain);
  const t3 = performance.now();
  if (verified.level !== subject.expectedLevel) throw new Error(`${subject.label}: level ${verified.level}, expected ${subject.expectedLevel}`);
  if (verified.revocation.status !== 'good') throw new Error(`${subject.label}: revocation status ${verified.revocation.status}`);
  return { parseMs: t1 - t0, signatureMs: t2 - t1, chainMs: t3 - t2, totalMs: t3 - t0, keyAlgorithm: chain[0].keyAlgorithm, pathLength: verified.path.length };
}

export async function measureVerification(verifier: CertificateVerifier, subject: VerificationSubject, options: { durationMs: number; challenge: string }): Promise<VerificationSummary> {
  const message = new TextEncoder().encode(options.challenge);
  const signature = subject.sign(message);
  const first = await once(verifier, subject, message, signature);
  for (let i = 0; i < WARM_UP_ITERATIONS; i++) await once(verifier, subject, message, signature);

  const parse: number[] = [];
  const signatures: number[] = [];
  const chains: number[] = [];
  const totals: number[] = [];
  const cpuBefore = process.threadCpuUsage();
  const started = performance.now();
  const deadline = started + options.durationMs;
  for (let i = 0; i < MAX_ITERATIONS && performance.now() < deadline; i++) {
    const r = await once(verifier, subject, message, signature);
    parse.push(r.parseMs);
    signatures.push(r.signatureMs);
    chains.push(r.chainMs);
    totals.push(r.totalMs);
  }
  const elapsedMs = performance.now() - started;
  const cpu = process.threadCpuUsage(cpuBefore);

  const leaf = verifier.parse(subject.chainDer)[0];
  const edges: number[] = [];
  for (let i = 0; i < SIGNATURE_SAMPLES; i++) {
    const t0 = performance.now();
    if (!(await leaf.pkijs.verify(subject.issuer.pkijs))) throw new Error(`${subject.label}: the leaf's signature did not verify`);
    edges.push(performance.now() - t0);
  }
  const pair = (values: number[]) => ({ p50Ms: percentile(values, 50), p99Ms: percentile(values, 99) });
  return {
    label: subject.label, keyAlgorithm: first.keyAlgorithm, pathLength: first.pathLength,
    iterations: totals.length, elapsedMs, perSecond: totals.length / (elapsedMs / 1000),
    p50Ms: percentile(totals, 50), p99Ms: percentile(totals, 99),
    parse: pair(parse), signature: pair(signatures), chain: pair(chains), certificateSignatureP50Ms: percentile(edges, 50),
    firstMs: first.totalMs, mainThreadCores: (cpu.user + cpu.system) / 1000 / elapsedMs,
  };
}
