// Closed-loop login load: `concurrency` loops, each starting its next login when the last one ends, run in a worker
// thread so that the load generator's own work (fetch, HTML parsing, signing) does not share the server's event loop.
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export type ClosedLoopResult = {
  completed: number;
  errors: number;
  errorSamples: string[];
  elapsedMs: number;
  latenciesMs: number[];
  /** Time the load generator's own thread was busy (fetch, HTML parsing), not the server's. */
  clientBusyMs: number;
};

/** Runs one login and records its latency, or counts its failure (then the answer is undefined). */
export type TimedLogin = <T>(login: () => Promise<T>) => Promise<T | undefined>;

/**
 * Runs `loop(0)` … `loop(concurrency - 1)` side by side and waits for them all, but no longer than `limitMs` (a hard
 * stop for a loop whose login hangs; each request also has its own timeout).
 */
export async function runClosedLoops(concurrency: number, limitMs: number, loop: (w: number, timed: TimedLogin) => Promise<void>): Promise<ClosedLoopResult> {
  const latenciesMs: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  const started = performance.now();
  const loopBefore = performance.eventLoopUtilization();
  const timed: TimedLogin = async (login) => {
    const t0 = performance.now();
    try {
      const answer = await login();
      latenciesMs.push(performance.now() - t0);
      return answer;
    } catch (error) {
      errors++;
      if (errorSamples.length < 5) errorSamples.push(error instanceof Error ? error.message : String(error));
      return undefined;
    }
  };

  let timer: NodeJS.Timeout | undefined;
  const hardStop = new Promise<void>((resolve) => { timer = setTimeout(resolve, limitMs); });
  await Promise.race([Promise.all(Array.from({ length: concurrency }, (_, w) => loop(w, timed))), hardStop]);
  clearTimeout(timer);
  return {
    completed: latenciesMs.length, errors, errorSamples, elapsedMs: performance.now() - started, latenciesMs,
    clientBusyMs: performance.eventLoopUtilization(loopBefore).active,
  };
}

type Job<Options> = { role: string; options: Options };

/** Starts `module` in a worker thread with `options`; it answers through serveInWorker under the same `role`. */
export function runInWorker<Options, Result>(module: URL, role: string, options: Options, name: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(module, { workerData: { role, options } satisfies Job<Options> });
    let settled = false;
    worker.once('message', (result: Result) => {
      settled = true;
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`${name} worker exited with code ${code}`));
    });
  });
}

/** In a worker started by runInWorker for `role`: runs the job and posts its result back. Elsewhere: nothing. */
export async function serveInWorker<Options, Result>(role: string, run: (options: Options) => Promise<Result>): Promise<void> {
  if (isMainThread || (workerData as Partial<Job<Options>> | null)?.role !== role) return;
  parentPort!.postMessage(await run((workerData as Job<Options>).options));
}
