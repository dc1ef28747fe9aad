// Closed-loop password-login load: `concurrency` loops, each one login after another for a fixed time. The
// loops run in a worker thread so that the client's own work (fetch, HTML parsing) does not share the
// server's event loop.
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { syntheticCitizen } from '../seed-citizens.ts';
import { passwordLogin, type LoginTarget } from './login-flow.ts';

export type LoginLoadOptions = {
  target: LoginTarget;
  password: string;
  concurrency: number;
  durationMs: number;
  /** Citizens 0 … accountCount - 1 exist; loop w only ever uses indexes ≡ w (mod concurrency). */
  accountCount: number;
};

export type LoginLoadResult = {
  completed: number;
  errors: number;
  errorSamples: string[];
  elapsedMs: number;
  latenciesMs: number[];
  /** Time the load generator's own thread was busy (fetch, HTML parsing), not the server's. */
  clientBusyMs: number;
};

const ROLE = 'bench-login-load';
// A hard stop for a loop whose login hangs past the deadline (each request also has its own timeout).
const GRACE_MS = 30_000;
const MAX_LOGINS_PER_LOOP = 1_000_000;

async function runLoops(options: LoginLoadOptions): Promise<LoginLoadResult> {
  const { concurrency, durationMs, accountCount } = options;
  const latenciesMs: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  const started = performance.now();
  const loopBefore = performance.eventLoopUtilization();
  const deadline = started + durationMs;

  async function loop(w: number) {
    const slots = Math.floor((accountCount - 1 - w) / concurrency) + 1;
    for (let n = 0; n < MAX_LOGINS_PER_LOOP && performance.now() < deadline; n++) {
      const citizen = syntheticCitizen(w + concurrency * Math.floor(Math.random() * slots));
      const t0 = performance.now();
      try {
        await passwordLogin(options.target, citizen.idNumber, options.password);
        latenciesMs.push(performance.now() - t0);
      } catch (error) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(error instanceof Error ? error.message : String(error));
      }
    }
  }

  let timer: NodeJS.Timeout | undefined;
  const hardStop = new Promise<void>((resolve) => { timer = setTimeout(resolve, durationMs + GRACE_MS); });
  await Promise.race([Promise.all(Array.from({ length: concurrency }, (_, w) => loop(w))), hardStop]);
  clearTimeout(timer);
  return {
    completed: latenciesMs.length, errors, errorSamples, elapsedMs: performance.now() - started, latenciesMs,
    clientBusyMs: performance.eventLoopUtilization(loopBefore).active,
  };
}

export function runLoginLoad(options: LoginLoadOptions): Promise<LoginLoadResult> {
  if (options.accountCount < options.concurrency) throw new Error('need at least one account per concurrent loop');
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { role: ROLE, options } });
    let settled = false;
    worker.once('message', (result: LoginLoadResult) => {
      settled = true;
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`login load worker exited with code ${code}`));
    });
  });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) {
  const result = await runLoops((workerData as { options: LoginLoadOptions }).options);
  parentPort!.postMessage(result);
}
