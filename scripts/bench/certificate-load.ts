// Closed-loop certificate-login load: `concurrency` loops, each one login after another. The loops (and the SM2
// signing a USB key would do) run in a worker thread, so that the load generator's own work does not share the
// server's event loop; its thread CPU time is measured separately.
import { performance } from 'node:perf_hooks';
import { certificateLogin, type CitizenKey } from './certificate-flow.ts';
import { runClosedLoops, runInWorker, serveInWorker, type ClosedLoopResult } from './closed-loops.ts';
import type { LoginTarget } from './relying-party.ts';

export type CertificateLoadPlan =
  /** Every citizen signs in exactly once (loop w takes citizens w, w + concurrency, …): first logins. */
  | { kind: 'each-once' }
  /** For a fixed time, loop w signs in as a random citizen among w, w + concurrency, …: no two loops share one. */
  | { kind: 'timed'; durationMs: number };

export type CertificateLoadOptions = {
  target: LoginTarget;
  citizens: readonly CitizenKey[];
  concurrency: number;
  plan: CertificateLoadPlan;
  expected: { acr: string; amr: readonly string[] };
};

export type CertificateLoadResult = ClosedLoopResult & {
  /** CPU time of the load generator's thread (process.threadCpuUsage), user + system. */
  generatorCpuMs: number;
  /** Time spent signing challenges (sm-crypto-v2, in the load generator), over all completed logins. */
  signMs: number;
  /** Distinct accounts (ID-token sub) the completed logins reached. */
  distinctSubjects: number;
};

const ROLE = 'bench-certificate-load';
// How long past the deadline a loop whose login hangs is waited for (each-once: how long the whole run may take).
const GRACE_MS = 30_000;
const EACH_ONCE_LIMIT_MS = 30 * 60_000;
const MAX_LOGINS_PER_LOOP = 1_000_000;

async function runLoops(options: CertificateLoadOptions): Promise<CertificateLoadResult> {
  const { concurrency, citizens, plan } = options;
  const subjects = new Set<string>();
  let signMs = 0;
  const cpuBefore = process.threadCpuUsage();
  const deadline = plan.kind === 'timed' ? performance.now() + plan.durationMs : Infinity;
  const limitMs = plan.kind === 'timed' ? plan.durationMs + GRACE_MS : EACH_ONCE_LIMIT_MS;
  const result = await runClosedLoops(concurrency, limitMs, async (w, timed) => {
    const login = async (citizen: CitizenKey) => {
      const outcome = await timed(() => certificateLogin(options.target, citizen, options.expected));
      if (!outcome) return;
      signMs += outcome.signMs;
      subjects.add(outcome.sub);
    };
    const share = citizens.filter((_, i) => i % concurrency === w);
    if (plan.kind === 'each-once') {
      for (const citizen of share) await login(citizen);
      return;
    }
    for (let n = 0; n < MAX_LOGINS_PER_LOOP && performance.now() < deadline; n++) {
      await login(share[Math.floor(Math.random() * share.length)]);
    }
  });
  const cpu = process.threadCpuUsage(cpuBefore);
  return { ...result, generatorCpuMs: (cpu.user + cpu.system) / 1000, signMs, distinctSubjects: subjects.size };
}

export function runCertificateLoad(options: CertificateLoadOptions): Promise<CertificateLoadResult> {
  if (options.citizens.length < options.concurrency) throw new Error('need at least one citizen per concurrent loop');
  return runInWorker(new URL(import.meta.url), ROLE, options, 'certificate load');
}

await serveInWorker(ROLE, runLoops);
