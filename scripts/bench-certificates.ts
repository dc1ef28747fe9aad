// Cost of CA-certificate login: in-process verification of SM2, RSA and ECDSA chains, and complete certificate
// logins over HTTP (first logins that create the account, then known accounts), against a real PostgreSQL and
// Redis. Writes docs/benchmarks-certificates.md.
//
//   npm run bench-certificates -- [--duration 10] [--citizens 200]
//
// DATABASE_URL and REDIS_URL default to the local services. Everything happens in a schema, a Redis key prefix and
// a temporary directory of its own, removed at the end. Exits non-zero on errors only, never because a target was missed.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createCertificateVerifier } from '../src/authn/certificate/certificate-verifier.ts';
import { trustSourceOf } from '../src/bootstrap/certificates.ts';
import type { Runtime } from '../src/bootstrap/runtime.ts';
import { createRevocationChecker } from '../src/pki/revocation/revocation-checker.ts';
import { registerCa } from '../test/helpers/certificates.ts';
import { serveFiles } from '../test/helpers/revocation-fixtures.ts';
import { signChallenge, type CitizenKey } from './bench/certificate-flow.ts';
import { runCertificateLoad, type CertificateLoadOptions, type CertificateLoadResult } from './bench/certificate-load.ts';
import { createBenchPki, issueCitizenCertificates, type BenchChain, type BenchPki } from './bench/certificate-pki.ts';
import {
  renderCertificateMarkdown, verdictTable, type AuditOutcomes, type CertificateBenchResults, type CertificateRun,
} from './bench/certificate-report.ts';
import { measureVerification, type VerificationSummary } from './bench/certificate-verification.ts';
import { localServices, openBenchEnvironment, runBenchmark } from './bench/environment.ts';
import { describeLoginRun, settle, underObservation, type Observed } from './bench/observation.ts';
import type { LoginTarget } from './bench/relying-party.ts';
import { percentile } from './bench/report.ts';

const CONCURRENCY = 16;
const WARM_UP_CITIZENS = 32;
const LEVEL = 'L4';
const DOC = new URL('../docs/benchmarks-certificates.md', import.meta.url);
const RP_CALLBACK = 'https://rp.bench.invalid/callback';

type Args = { durationS: number; citizens: number };

function parseArgs(argv: readonly string[]): Args {
  const valueOf = (name: string, fallback: number) => {
    const at = argv.indexOf(name);
    return at === -1 ? fallback : Number(argv[at + 1]);
  };
  const durationS = valueOf('--duration', 10);
  if (!Number.isInteger(durationS) || durationS < 1 || durationS > 600) throw new Error('--duration must be a whole number of seconds from 1 to 600');
  const citizens = valueOf('--citizens', 200);
  if (!Number.isInteger(citizens) || citizens < CONCURRENCY || citizens > 100_000) throw new Error(`--citizens must be a whole number from ${CONCURRENCY} to 100000`);
  const known = new Set(['--duration', '--citizens']);
  const unknown = argv.filter((a, i) => a.startsWith('--') && !known.has(a) && !known.has(argv[i - 1]));
  if (unknown.length > 0) throw new Error(`unknown option ${unknown.join(', ')}`);
  return { durationS, citizens };
}

const progress = (line: string) => process.stderr.write(`[bench-certificates] ${line}\n`);

/** A run of logins under observation; a run whose logins create accounts cannot be repeated. */
const observe = (options: CertificateLoadOptions, repeatable: boolean) => underObservation(() => runCertificateLoad(options), { progress, repeatable });

function summarise(label: string, concurrency: number, o: Observed<CertificateLoadResult>): CertificateRun {
  const load = o.result;
  return {
    label, concurrency, completed: load.completed, errors: load.errors, errorSamples: load.errorSamples, elapsedS: load.elapsedMs / 1000,
    loginsPerSecond: load.completed / (load.elapsedMs / 1000), p50Ms: percentile(load.latenciesMs, 50), p99Ms: percentile(load.latenciesMs, 99),
    serverThreadCores: o.serverThreadCores, generatorCores: load.generatorCpuMs / 1000 / o.cpu.seconds,
    signMsPerLogin: load.completed > 0 ? load.signMs / load.completed : NaN, distinctSubjects: load.distinctSubjects,
    cpu: o.cpu, backgroundCores: o.backgroundCores, eventLoop: o.eventLoop, attempts: o.attempts,
  };
}

async function auditOutcomes(runtime: Runtime): Promise<AuditOutcomes> {
  await runtime.audit.flush();
  const { rows } = await runtime.db.query<{ result: string; outcome: string | null; n: number }>(
    `SELECT result, detail->>'outcome' AS outcome, count(*)::int AS n FROM audit_events WHERE event = 'login.certificate' GROUP BY 1, 2`);
  const count = (result: string, outcome?: string) =>
    rows.filter((r) => r.result === result && (outcome === undefined || r.outcome === outcome)).reduce((sum, r) => sum + r.n, 0);
  return { created: count('success', 'created'), known: count('success', 'known'), linked: count('success', 'linked'), failures: count('failure') };
}

const minus = (a: AuditOutcomes, b: AuditOutcomes): AuditOutcomes =>
  ({ created: a.created - b.created, known: a.known - b.known, linked: a.linked - b.linked, failures: a.failures - b.failures });

/** A challenge as the certificate page issues it (the signed bytes' size and shape matter, not its values). */
const sampleChallenge = (issuer: string) =>
  `GOV-IDP-CERT-LOGIN/1\nissuer=${issuer}\ninteraction=${randomBytes(16).toString('base64url')}\nnonce=${randomBytes(24).toString('base64url')}`
  + `\nexpires=${new Date(Date.now() + 120_000).toISOString()}`;

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const services = localServices();
  const date = new Date().toISOString();
  const command = `npm run bench-certificates --${process.argv.slice(2).map((a) => ` ${a}`).join('')}`;

  const env = await openBenchEnvironment(services, { name: 'bench-cert', progress, leftovers: 'schema, Redis keys, PKI directory, CRL server' });
  let pki: BenchPki | undefined;
  env.teardown(() => pki?.remove().catch((error) => progress(`could not remove the PKI directory: ${error.message}`)));

  try {
    const machine = await env.machine();

    const files = await serveFiles({ teardown: env.teardown });
    progress(`making the PKI: 3 hierarchies by OpenSSL, ${args.citizens + WARM_UP_CITIZENS} SM2 citizen certificates`);
    const pkiStarted = performance.now();
    pki = createBenchPki(files.url);
    const chains: BenchChain[] = [pki.sm2, pki.rsa, pki.ecdsa];
    for (const chain of chains) files.set(chain.crlPath, chain.issuing.crlDer({ nextUpdateHours: 24 }));
    const allCitizens = issueCitizenCertificates(pki.sm2, 0, args.citizens + WARM_UP_CITIZENS);
    const citizens: CitizenKey[] = allCitizens.slice(0, args.citizens);
    const warmUpCitizens: CitizenKey[] = allCitizens.slice(args.citizens);
    const pkiSeconds = (performance.now() - pkiStarted) / 1000;
    progress(`  ${pkiSeconds.toFixed(1)} s`);

    const { issuer, config, runtime } = await env.startServer({ LOGIN_PER_IP_PER_MINUTE: '1000000', CERT_LOGIN_PER_IP_PER_MINUTE: '100000' });
    if (!runtime.certificates) throw new Error('certificate login is disabled in this configuration');

    for (const chain of chains) {
      await registerCa(runtime, {
        name: `Bench ${chain.label} CA`, anchors: [chain.root], intermediates: [chain.issuing], policyLevels: { [pki.policy]: LEVEL },
        revocationMode: 'crl', keyProtection: 'hardware', pinRequired: true,
      });
    }

    // 1. In-process verification, one verifier (and so one CRL cache) per chain.
    const verificationDurationS = Math.min(5, args.durationS);
    const verification: VerificationSummary[] = [];
    const trust = trustSourceOf(runtime.trust.store);
    const sampleCitizen = citizens[0];
    for (const chain of chains) {
      progress(`verifying ${chain.label} certificates in process, ${verificationDurationS} s`);
      const verifier = createCertificateVerifier({
        trust, catalog: runtime.catalog, clock: () => new Date(), maxChainLength: config.certificates.maxChainLength,
        revocation: createRevocationChecker({ timeoutMs: config.certificates.revocationTimeoutMs }),
      });
      const subject = chain === pki.sm2
        ? { chainDer: [new Uint8Array(Buffer.from(sampleCitizen.chainBase64, 'base64'))], sign: (m: Uint8Array) => signChallenge(sampleCitizen, m) }
        : { chainDer: [chain.leaf.certDer], sign: (m: Uint8Array) => chain.leaf.sign(m) };
      await settle(progress);
      const summary = await measureVerification(verifier, { label: chain.label, expectedLevel: LEVEL, issuer: chain.issuing.cert, ...subject },
        { durationMs: verificationDurationS * 1000, challenge: sampleChallenge(issuer) });
      verification.push(summary);
      progress(`  ${Math.round(summary.perSecond)}/s, p50 ${summary.p50Ms.toFixed(2)} ms, p99 ${summary.p99Ms.toFixed(2)} ms (first ${summary.firstMs.toFixed(1)} ms)`);
    }
    const crlDownloadsBeforeLogins = files.count(pki.sm2.crlPath);

    // 2. Full logins over HTTP.
    const portal = await runtime.clients.create({
      client_id: 'bench-cert-portal', client_name: 'Benchmark portal', redirect_uris: [RP_CALLBACK],
      grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', require_consent: false,
    });
    const target: LoginTarget = { issuer, clientId: portal.client_id, clientSecret: portal.client_secret!, redirectUri: RP_CALLBACK, scope: 'openid profile' };
    const expected = { acr: `${issuer}/acr/${LEVEL}`, amr: ['hwk', 'pin'] };
    const load = (list: readonly CitizenKey[], concurrency: number, plan: CertificateLoadOptions['plan']): CertificateLoadOptions =>
      ({ target, citizens: list, concurrency, plan, expected });

    progress(`warm-up: ${WARM_UP_CITIZENS} citizens, twice each`);
    for (let round = 0; round < 2; round++) {
      const warm = await runCertificateLoad(load(warmUpCitizens, CONCURRENCY, { kind: 'each-once' }));
      if (warm.errors > 0) throw new Error(`warm-up logins failed: ${warm.errorSamples.join(' | ')}`);
    }

    progress(`first logins: ${args.citizens} citizens once each (accounts created), concurrency ${CONCURRENCY}`);
    const beforeFirst = await auditOutcomes(runtime);
    const firstRun = summarise('First logins (account created)', CONCURRENCY, await observe(load(citizens, CONCURRENCY, { kind: 'each-once' }), false));
    const afterFirst = await auditOutcomes(runtime);
    const accountsAfter = Number((await runtime.db.query<{ n: string }>('SELECT count(*) AS n FROM accounts')).rows[0].n);
    progress(describeLoginRun(firstRun));

    progress(`known accounts: ${args.citizens} citizens, concurrency ${CONCURRENCY}, ${args.durationS} s`);
    const knownRun = summarise('Known accounts', CONCURRENCY, await observe(load(citizens, CONCURRENCY, { kind: 'timed', durationMs: args.durationS * 1000 }), true));
    const afterKnown = await auditOutcomes(runtime);
    progress(describeLoginRun(knownRun));

    progress(`known accounts, one loop, ${args.durationS} s`);
    const serialRun = summarise('Known accounts, 1 loop (no queueing)', 1, await observe(load(citizens, 1, { kind: 'timed', durationMs: args.durationS * 1000 }), true));
    const afterSerial = await auditOutcomes(runtime);
    progress(describeLoginRun(serialRun));

    const results: CertificateBenchResults = {
      date, command, machine, durationS: args.durationS, concurrency: CONCURRENCY, citizens: args.citizens, warmUpCitizens: WARM_UP_CITIZENS,
      pkiSeconds, verificationDurationS, verification,
      firstLogins: { ...firstRun, audit: minus(afterFirst, beforeFirst), accountsAfter },
      knownLogins: { ...knownRun, audit: minus(afterKnown, afterFirst) },
      serialLogins: { ...serialRun, audit: minus(afterSerial, afterKnown) },
      serverCrlDownloads: files.count(pki.sm2.crlPath) - crlDownloadsBeforeLogins,
      revocationTimeoutMs: config.certificates.revocationTimeoutMs,
    };
    console.log(`\n${verdictTable(results)}\n`);
    writeFileSync(DOC, renderCertificateMarkdown(results));
    progress(`wrote ${DOC.pathname}`);
  } finally {
    await env.cleanup();
  }
}

runBenchmark(main);
