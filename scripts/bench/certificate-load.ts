// Closed-loop certificate-login load: `concurrency` loops, each one login after another. The loops (and the SM2
// signing a USB key would do) run in a worker thread, so that the load generator's own work does not share the
// server's event loop; its thread CPU time is measured separately.
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { certificateLogin, type CitizenKey } from './certificate-flow.ts';
import type { LoginTarget } from './login-flow.ts';
import type { LoginLoadResult } from './login-load.ts';

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

export type CertificateLoadResult = LoginLoadResult & {
  /** CPU time of the load generator's thread (process.threadCpuUsage), user + system. */
  generatorCpuMs: number;
  /** Time spent signing challenges (sm-crypto-v2, in the load generator), over all completed logins. */
  signMs: number;
  /** Distinct accounts (ID-token sub) the completed logins reached. */
  distinctSubjects: number;
};

const ROLE = 'bench-certificate-load';
// A hard stop for a loop whose login hangs past the deadline (each request also has its own timeout).
const GRACE_MS = 30_000;
const MAX_LOGINS_PER_LOOP = 1_000_000;

async function runLoops(options: CertificateLoadOptions): Promise<CertificateLoadResult> {
  const { concurrency, citizens, plan } = options;
  const latenciesMs: number[] = [];
  const errorSamples: string[] = [];
  const subjects = new Set<string>();
  let errors = 0;
  let signMs = 0;
  const started = performance.now();
  const loopBefore = performance.eventLoopUtilization();
  const cpuBefore = process.threadCpuUsage();
  const deadline = plan.kind === 'timed' ? started + plan.durationMs : Infinity;

  async function login(citizen: CitizenKey) {
    const t0 = performance.now();
    try {
      const outcome = await certificateLogin(options.target, citizen, options.expected);
      latenciesMs.push(performance.now() - t0);
      signMs += outcome.signMs;
      subjects.add(outcome.sub);
    } catch (error) {
      errors++;
      if (errorSamples.length < 5) errorSamples.push(error instanceof Error ? error.message : String(error));
    }
  }

  async function loop(w: number) {
    const share = citizens.filter((_, i) => i % concurrency === w);
    if (plan.kind === 'each-once') {
      for (const citizen of share) await login(citizen);
      return;
    }
    for (let n = 0; n < MAX_LOGINS_PER_LOOP && performance.now() < deadline; n++) {
      await login(share[Math.floor(Math.random() * share.length)]);
    }
  }

  let timer: NodeJS.Timeout | undefined;
  const limitMs = plan.kind === 'timed' ? plan.durationMs + GRACE_MS : 30 * 60_000;
  const hardStop = new Promise<void>((resolve) => { timer = setTimeout(resolve, limitMs); });
  await Promise.race([Promise.all(Array.from({ length: concurrency }, (_, w) => loop(w))), hardStop]);
  clearTimeout(timer);
  const cpu = process.threadCpuUsage(cpuBefore);
  return {
    completed: latenciesMs.length, errors, errorSamples, elapsedMs: performance.now() - started, latenciesMs,
    clientBusyMs: performance.eventLoopUtilization(loopBefore).active,
    generatorCpuMs: (cpu.user + cpu.system) / 1000, signMs, distinctSubjects: subjects.size,
  };
}

export function runCertificateLoad(options: CertificateLoadOptions): Promise<CertificateLoadResult> {
  if (options.citizens.length < options.concurrency) throw new Error('need at least one citizen per concurrent loop');
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { role: ROLE, options } });
    let settled = false;
    worker.once('message', (result: CertificateLoadResult) => {
      settled = true;
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`certificate load worker exited with code ${code}`));
    });
  });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) {
  const result = await runLoops((workerData as { options: CertificateLoadOptions }).options);
  parentPort!.postMessage(result);
}
