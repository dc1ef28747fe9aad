// docs/benchmarks-certificates.md: in-process certificate verification and full certificate logins.
import { cores, fineMs, int, ms, one, percent, table, two } from './format.ts';
import { machineAndCommand, otherWorkNote, targetsTable, type Machine, type RunConditions, type Verdict } from './report.ts';
import { sharedSm2VerifierPool } from '../../src/pki/sm2-verifier-pool.ts';
import { WARM_UP_ITERATIONS, type VerificationSummary } from './certificate-verification.ts';

export type CertificateRun = RunConditions & {
  label: string;
  concurrency: number;
  completed: number;
  errors: number;
  errorSamples: string[];
  elapsedS: number;
  loginsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU of the server's JavaScript thread (the main thread), in cores. */
  serverThreadCores: number;
  /** CPU of the load generator's thread (the worker), in cores. */
  generatorCores: number;
  /** Challenge signing in the load generator, per completed login. */
  signMsPerLogin: number;
  distinctSubjects: number;
};

/** `login.certificate` audit rows written during a run, by result and outcome. */
export type AuditOutcomes = { created: number; known: number; linked: number; failures: number };

export type CertificateBenchResults = {
  date: string;
  command: string;
  machine: Machine;
  durationS: number;
  concurrency: number;
  citizens: number;
  warmUpCitizens: number;
  pkiSeconds: number;
  verificationDurationS: number;
  verification: VerificationSummary[];
  firstLogins: CertificateRun & { audit: AuditOutcomes; accountsAfter: number };
  knownLogins: CertificateRun & { audit: AuditOutcomes };
  serialLogins: CertificateRun & { audit: AuditOutcomes };
  /** Downloads of the SM2 issuing CA's CRL by the server during all the HTTP logins (warm-up included). */
  serverCrlDownloads: number;
  revocationTimeoutMs: number;
};

export const LOGIN_TARGET_PER_SECOND = 50;
export const LOGIN_TARGET_P99_MS = 300;

const runs = (r: CertificateBenchResults): CertificateRun[] => [r.firstLogins, r.knownLogins, r.serialLogins];

function verificationTable(r: CertificateBenchResults): string {
  return table(
    ['Chain (root → issuing CA → leaf)', 'Verifications/s (one at a time)', 'p50', 'p99', 'Parse p50', 'Challenge signature p50', 'Chain + revocation p50 / p99',
      'One certificate signature (pkijs) p50', 'First check (CRL download)', 'Main thread CPU'],
    r.verification.map((v) => [v.label, `${int(v.perSecond)} (${v.iterations.toLocaleString('en-US')} in ${(v.elapsedMs / 1000).toFixed(1)} s)`,
      fineMs(v.p50Ms), fineMs(v.p99Ms), fineMs(v.parse.p50Ms), fineMs(v.signature.p50Ms), `${fineMs(v.chain.p50Ms)} / ${fineMs(v.chain.p99Ms)}`,
      fineMs(v.certificateSignatureP50Ms), ms(v.firstMs), `${cores(v.mainThreadCores)} cores`]));
}

function loginTable(r: CertificateBenchResults): string {
  return table(['Run', 'Throughput', 'p50', 'p99', 'Failures', 'Accounts reached'],
    runs(r).map((l) => [l.label, `${one(l.loginsPerSecond)} logins/s (${l.completed} in ${l.elapsedS.toFixed(1)} s)`, ms(l.p50Ms), ms(l.p99Ms),
      `${l.errors} errors`, l.distinctSubjects.toLocaleString('en-US')]));
}

function auditTable(r: CertificateBenchResults): string {
  const row = (label: string, a: AuditOutcomes) => [label, String(a.created), String(a.known), String(a.linked), String(a.failures)];
  return table(['Run', 'created (new account, proofed at the CA\'s level)', 'known account', 'linked', 'refused'], [
    row(r.firstLogins.label, r.firstLogins.audit), row(r.knownLogins.label, r.knownLogins.audit), row(r.serialLogins.label, r.serialLogins.audit),
  ]);
}

function cpuTable(r: CertificateBenchResults): string {
  return table(
    ['Run', 'Server event loop busy', `Machine busy (of ${r.machine.cpus})`, 'Server JS thread', 'Load generator thread', 'Other threads of this process',
      'PostgreSQL', 'Redis', 'Other processes', 'Background in the second before', 'Attempt reported'],
    runs(r).map((c) => [c.label, percent(c.eventLoop), cores(c.cpu.machine), cores(c.serverThreadCores), cores(c.generatorCores),
      cores(Math.max(0, c.cpu.self - c.serverThreadCores - c.generatorCores)), cores(c.cpu.postgres), cores(c.cpu.redis), cores(c.cpu.other),
      cores(c.backgroundCores), String(c.attempts)]));
}

export function verdicts(r: CertificateBenchResults): Verdict[] {
  return [r.knownLogins, r.firstLogins].flatMap((l) => [
    { target: `Certificate logins ≥ ${LOGIN_TARGET_PER_SECOND}/s (${l.label.toLowerCase()})`, measured: `${one(l.loginsPerSecond)} logins/s`, met: l.loginsPerSecond >= LOGIN_TARGET_PER_SECOND },
    { target: `Certificate login p99 < ${LOGIN_TARGET_P99_MS} ms (${l.label.toLowerCase()})`, measured: ms(l.p99Ms), met: l.p99Ms < LOGIN_TARGET_P99_MS },
  ]);
}

export function verdictTable(r: CertificateBenchResults): string {
  return targetsTable(r.concurrency, verdicts(r));
}

/** Per completed login, in ms of CPU: the whole machine and its parts. */
export function perLogin(l: CertificateRun) {
  const per = (coresUsed: number) => (coresUsed * 1000) / l.loginsPerSecond;
  return {
    machine: per(l.cpu.machine), server: per(l.serverThreadCores), generator: per(l.generatorCores),
    otherThreads: per(Math.max(0, l.cpu.self - l.serverThreadCores - l.generatorCores)),
    postgres: per(l.cpu.postgres), redis: per(l.cpu.redis), otherProcesses: per(l.cpu.other),
  };
}

/** Main-thread CPU per check (the SM2 signatures are verified in the worker). */
const mainThreadMs = (v: VerificationSummary) => (v.mainThreadCores * 1000) / v.perSecond;

function verificationNotes(r: CertificateBenchResults): string[] {
  const sm2 = r.verification.find((v) => v.keyAlgorithm === 'sm2');
  const others = r.verification.filter((v) => v !== sm2);
  if (!sm2) return [];
  const worth = sm2.chain.p50Ms / sm2.certificateSignatureP50Ms;
  return [
    `- **Verification is the certificate login's counterpart of argon2id**: an SM2 certificate check takes ${fineMs(sm2.p50Ms)} (p50, one at a`
      + ` time, ${int(sm2.perSecond)} checks/s), of which ${fineMs(mainThreadMs(sm2))} on the main thread (its CPU column); the rest is the challenge`
      + ` signature, ${fineMs(sm2.signature.p50Ms)} (sm-crypto-v2, pure JavaScript), verified in the SM2 verifier worker thread`
      + ' (src/pki/sm2-verifier-pool.ts) while the event loop serves other requests.'
      + ` The chain step ${fineMs(sm2.chain.p50Ms)}, about ${one(worth)} certificate-signature checks' worth at`
      + ` ${fineMs(sm2.certificateSignatureP50Ms)} each (pkijs with the SM2 engine of src/pki/gm-engine.ts, which remembers every signature`
      + ' it verified: the same certificates come back login after login, so the chain\'s edges cost a digest, not an SM2 verification;'
      + ' the single-certificate figure is that remembered case). The rest of the chain step is RFC 5280 path building and processing'
      + ' (src/pki/path-builder.ts, src/pki/path-validator.ts with pkijs as a second opinion), one Redis GET of the trust-registry version and'
      + ' the cached-CRL look-up; a certificate signature that is not remembered yet (a new leaf on its first login, a new CRL) goes to the'
      + ' verifier worker as well. The challenge signature is new every time and is never remembered.'
      + (others.length > 0
        ? ` ${others.map((v) => `${v.label}: ${fineMs(v.p50Ms)} (one certificate signature ${fineMs(v.certificateSignatureP50Ms)})`).join(', ')}:`
          + ' Node\'s OpenSSL checks those signatures, so parsing and path processing are most of their cost.'
        : ''),
    `- **Revocation here is the cached case**: each verifier downloaded its CRL once (the "first check" column, which also runs cold code) and`
      + ' then answered from its in-process cache until the CRL\'s nextUpdate. An uncached check adds an HTTP download and a CRL signature'
      + ` verification, bounded by CERT_REVOCATION_TIMEOUT_MS (${r.revocationTimeoutMs} ms here); the server downloaded the SM2 CRL`
      + ` ${r.serverCrlDownloads} time${r.serverCrlDownloads === 1 ? '' : 's'} for all the HTTP logins.`,
  ];
}

function boundOf(r: CertificateBenchResults, l: CertificateRun): string {
  if (l.cpu.machine >= 0.9 * r.machine.cpus) return `the machine was busy ${cores(l.cpu.machine)} of ${r.machine.cpus} cores: the CPUs are the bound.`;
  if (l.eventLoop >= 0.8 && l.serverThreadCores < 0.8 * l.eventLoop) {
    return `the server's event loop was busy ${percent(l.eventLoop)} of the run, but its thread ran on a CPU for only ${cores(l.serverThreadCores)} cores:`
      + ' the rest of that time it was ready and waiting for a CPU. The machine was busy'
      + ` ${cores(l.cpu.machine)} of ${r.machine.cpus} cores on average, the SM2 verifier, PostgreSQL and the load generator wanting the same CPUs at`
      + ' the same moments: the machine\'s CPUs are the bound more than the single JavaScript thread.';
  }
  if (l.eventLoop >= 0.8) {
    return `the server's event loop was busy ${percent(l.eventLoop)} of the run while ${cores(r.machine.cpus - l.cpu.machine)} cores stayed idle:`
      + ' the server\'s single JavaScript thread is the bound, not the machine.';
  }
  return `neither the machine (${cores(l.cpu.machine)} of ${r.machine.cpus} cores) nor the server's event loop (${percent(l.eventLoop)}) was saturated.`;
}

function loginNotes(r: CertificateBenchResults): string[] {
  const known = r.knownLogins;
  const first = r.firstLogins;
  const serial = r.serialLogins;
  const k = perLogin(known);
  const f = perLogin(first);
  const sm2 = r.verification.find((v) => v.keyAlgorithm === 'sm2');
  const mean = (r.concurrency * 1000) / known.loginsPerSecond;
  const shape = known.p99Ms / mean;
  const needed = (r.concurrency * 1000 * shape) / LOGIN_TARGET_P99_MS;
  const threadBudget = 1000 / LOGIN_TARGET_PER_SECOND;
  // The pool of this process, the one the server used (its size is known without starting it).
  const verifierWorkers = sharedSm2VerifierPool().workers;
  return [
    `- **Everything shares ${r.machine.cpus} CPUs**: the server (one Node.js event loop on the main thread, and the SM2 verifier worker`
      + `${verifierWorkers === 1 ? ' thread' : ` threads, ${verifierWorkers}`}: os.availableParallelism() − 1, at nice 10 so that it yields to the event loop),`
      + ' PostgreSQL, Redis and the load generator (the loops in a worker thread of the same process, which also makes the SM2 signature a'
      + ' USB key would). Thread CPU times come from process.threadCpuUsage(); "other threads of this process" are the SM2 verifier,'
      + ' V8\'s GC and compiler threads and libuv\'s.',
    otherWorkNote(runs(r).map((c) => [c.label.toLowerCase(), c] as const)),
    `- **Known accounts**: ${boundOf(r, known)} Per login: ${ms(k.server)} of CPU on the server's JavaScript thread`
      + `${sm2 ? ` (the SM2 check measured in process above takes ${fineMs(mainThreadMs(sm2))} of it)` : ''}, ${ms(k.otherThreads)} on other threads`
      + ' of this process (the SM2 verifier among them),'
      + ` PostgreSQL ${ms(k.postgres)}, Redis ${ms(k.redis)}, and ${ms(k.generator)} for the load generator (${ms(known.signMsPerLogin)} of it signing`
      + ` the challenge); ${ms(k.machine)} for the machine in total. One JavaScript thread at ${ms(k.server)} per login can do at most about`
      + ` ${int(1000 / k.server)} logins/s; ${LOGIN_TARGET_PER_SECOND}/s leaves it ${ms(threadBudget)} per login`
      + (!sm2 ? '.'
        : mainThreadMs(sm2) >= threadBudget
          ? `, less than the SM2 check's main-thread part alone (${fineMs(mainThreadMs(sm2))}): not reachable with one server event loop at this verification cost, whatever the rest of the login costs.`
          : `, of which the SM2 check's main-thread part takes ${fineMs(mainThreadMs(sm2))}.`),
    `- **First logins (account creation)**: ${one(first.loginsPerSecond)} logins/s against ${one(known.loginsPerSecond)} for known accounts;`
      + ` ${ms(f.server)} of server-thread CPU per login against ${ms(k.server)}, PostgreSQL ${ms(f.postgres)} against ${ms(k.postgres)}.`
      + ' Creating the account writes the account row (ID number and name encrypted, look-up hashes), the proofing at the CA\'s level and the'
      + ' (CA service, ID-number hash) link, with their audit events; the audit table shows that every one of these logins created its account'
      + ` (${first.accountsAfter.toLocaleString('en-US')} accounts in the schema afterwards, warm-up included). The run is ${r.citizens} logins,`
      + ' each citizen once, so its p99 rests on few samples.',
    `- **Latency at concurrency ${r.concurrency} is mostly queueing**: the loops are closed, so by Little's law the mean latency is`
      + ` ${r.concurrency} / throughput = ${ms(mean)} at ${one(known.loginsPerSecond)} logins/s, against ${ms(serial.p50Ms)} (p50) for a login on its`
      + ` own (1 loop, ${one(serial.loginsPerSecond)} logins/s).`
      + (known.p99Ms < LOGIN_TARGET_P99_MS
        ? ''
        : ` This run's p99 was ${two(shape)} × its mean; with that shape, p99 < ${LOGIN_TARGET_P99_MS} ms at concurrency ${r.concurrency} needs`
          + ` about ${int(needed)} logins/s, that is at most ${ms(1000 / needed)} of server-thread time per login against ${ms(k.server)} measured.`),
    '- **Levers**: SM2 signatures are already verified off the event loop (src/pki/sm2-verifier-pool.ts). Compared run for run with the'
      + ' same benchmark verifying them on the event loop, that raised throughput by about a tenth on this 2-CPU machine (the event loop'
      + ' spends about 3.4 ms less per login, and the idle CPU it left is now used), did not lower the p99 of known accounts and raised'
      + ' that of first logins by about a sixth (not established why; each needs two SM2 verifications, the new leaf\'s certificate and the'
      + ' challenge, which queue for the one verifier thread). Not measured here: more CPUs (the pool then starts more workers) or more server processes; the load generator on another machine.',
  ];
}

export function renderCertificateMarkdown(r: CertificateBenchResults): string {
  const failures = runs(r).filter((l) => l.errors > 0)
    .map((l) => `- ${l.label}: ${l.errors} failed logins, e.g. ${l.errorSamples.map((s) => `\`${s.replace(/`/g, "'")}\``).join('; ')}`);
  return `# Benchmarks: CA-certificate login

Produced by \`scripts/bench-certificates.ts\` (${r.date}); re-run it rather than editing the numbers. Figures are single runs on the
machine below, not averages of several runs. Password logins and the token endpoint: [benchmarks.md](benchmarks.md).

${machineAndCommand(r.machine, r.command)}

## Certificate verification in process (no HTTP)

One check = parse the presented chain (the leaf; the issuing CA is registered) + verify the signature over a login challenge
(\`verifySignature\`, src/pki/signature.ts) + \`verify()\` of \`createCertificateVerifier\` (src/authn/certificate/certificate-verifier.ts) with
the server's trust registry (\`trustSourceOf(runtime.trust.store)\`): path validation to the registered root, registry status, policy → level,
and the leaf's revocation from its CRL, served by a local HTTP server and **cached after the first fetch**. One check at a time from the main
thread (SM2 signatures verified in the SM2 verifier worker thread), ${r.verificationDurationS} s per chain after ${WARM_UP_ITERATIONS} warm-up checks; every answer is checked (signature valid, level, revocation
\`good\`).

${verificationTable(r)}

## Full certificate logins over HTTP

${loginTable(r)}

\`login.certificate\` audit rows written during each run (from the server's audit trail):

${auditTable(r)}

CPU used during each run, in cores (CPU-seconds per second; machine, PostgreSQL and Redis from /proc, threads of this process from
process.threadCpuUsage(); "other processes" is the machine total minus this process, PostgreSQL and Redis):

${cpuTable(r)}
${failures.length > 0 ? `\nFailed logins:\n\n${failures.join('\n')}\n` : ''}
## Targets

The same targets as password logins (docs/benchmarks.md).

${verdictTable(r)}

## What bounds each figure

${[...verificationNotes(r), ...loginNotes(r)].join('\n')}

## Method

- One process: the server (\`createRuntime\` + \`buildApp\`, listening on 127.0.0.1) in a PostgreSQL schema and Redis key prefix of its own,
  created and removed by the script, as scripts/bench.ts does. Configuration: \`NODE_ENV=development\`, \`DEMO_DATA=false\`,
  \`LOG_LEVEL=silent\`, \`CERT_LOGIN_PER_IP_PER_MINUTE=100000\` and \`LOGIN_PER_IP_PER_MINUTE=1000000\` (all traffic comes from one IP);
  everything else at its default (certificate login on, \`CERT_CREATE_ACCOUNTS=true\`, \`CERT_REVOCATION_TIMEOUT_MS=${r.revocationTimeoutMs}\`).
- PKI (${one(r.pkiSeconds)} s to make): SM2, RSA-2048 and ECDSA P-256 hierarchies root → issuing CA (pathLen 0) → leaf by the OpenSSL 3.0
  CLI (test/helpers/test-pki.ts), each registered in the trust registry as one individual-CA service (root as anchor, issuing CA as
  intermediate, CRL revocation, the leaf policy mapped to L4, hardware keys with PIN: \`amr\` = \`hwk pin\`), each issuing CA's CRL served
  over HTTP from 127.0.0.1. ${r.citizens + r.warmUpCitizens} SM2 citizen certificates (${r.citizens} measured, ${r.warmUpCitizens} for the
  warm-up) are OpenSSL's template leaf re-keyed with its own SM2 key (sm-crypto-v2), serial, name and GM/T 0015 ID number (synthetic
  citizens of scripts/seed-citizens.ts, valid GB 11643) and re-signed by the issuing CA; none has an account before its first login.
- A login (scripts/bench/certificate-flow.ts): GET /auth (PKCE S256, \`openid profile\`) → login page → its certificate tab → SM2-sign the page's
  challenge in the load generator (sm-crypto-v2, GM/T 0009 default ID, DER) → POST /interaction/:uid/certificate/signed with the leaf →
  303s to the callback → POST /token (authorization_code). 6 HTTP requests (the password login's are also 6, the last being GET /me). The
  ID token's \`acr\` and \`amr\` are checked; a login that does not reach L4 with \`hwk pin\` counts as failed. A fresh cookie jar per login.
- Loads (scripts/bench/certificate-load.ts): ${r.concurrency} closed loops in a worker thread; loop w only uses citizens w, w + ${r.concurrency}, …, so no two
  concurrent logins share a citizen. Warm-up first (the ${r.warmUpCitizens} warm-up citizens once each, then once more), not counted. "First logins":
  each of the ${r.citizens} measured citizens once, throughput = ${r.citizens} / time until the last loop finished. "Known accounts": for ${r.durationS} s,
  each loop a random citizen of its share (all created by then); then the same with 1 loop (no queueing). Latency is the whole sequence.
- Before each timed run the script waits (at most 60 s) until the machine is quiet. A known-accounts run during which other processes used
  0.15 cores or more is repeated, at most 3 attempts, and the least disturbed attempt is reported; the first-logins run cannot be repeated
  (its accounts then exist) and is reported as it came.
`;
}
