// A timed run under observation: wait for the machine to settle, record where the CPU went during the run, and
// repeat a run that other processes (other people's test runs on this machine) disturbed.
import { performance } from 'node:perf_hooks';
import { cpuBreakdown, cpuSnapshot, waitForQuiet, type CpuBreakdown } from './cpu.ts';

// A run during which other processes used more CPU than this is repeated (when it can be); the least disturbed
// attempt is reported, whatever its result.
const DISTURBED_CORES = 0.15;
const MAX_ATTEMPTS = 3;

export type Observed<T> = {
  result: T;
  backgroundCores: number;
  /** Share of the run during which this (the main, the server's) thread's event loop was busy. */
  eventLoop: number;
  cpu: CpuBreakdown;
  /** CPU of this (the main, the server's) thread, in cores. */
  serverThreadCores: number;
  attempts: number;
};

type Progress = (line: string) => void;

/** Waits (bounded) until the machine is quiet; returns the cores busy elsewhere in the second before. */
export function settle(progress: Progress): Promise<number> {
  return waitForQuiet({ onWait: (busy) => progress(`  waiting for the machine to settle (${busy.toFixed(2)} cores busy elsewhere)`) });
}

/**
 * Settles, then records CPU use around `run`; repeats a disturbed run unless it must not be repeated (its side
 * effects would change what a second attempt measures).
 */
export async function underObservation<T>(run: () => Promise<T>, options: { progress: Progress; repeatable?: boolean }): Promise<Observed<T>> {
  const { progress, repeatable = true } = options;
  const maxAttempts = repeatable ? MAX_ATTEMPTS : 1;
  let best: Observed<T> | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const backgroundCores = await settle(progress);
    const before = cpuSnapshot();
    const loopBefore = performance.eventLoopUtilization();
    const threadBefore = process.threadCpuUsage();
    const result = await run();
    // The server runs on this (the main) thread; the load generators run in worker threads.
    const eventLoop = performance.eventLoopUtilization(loopBefore).utilization;
    const thread = process.threadCpuUsage(threadBefore);
    const cpu = cpuBreakdown(before, cpuSnapshot());
    const serverThreadCores = (thread.user + thread.system) / 1e6 / cpu.seconds;
    if (!best || cpu.other < best.cpu.other) best = { result, backgroundCores, eventLoop, cpu, serverThreadCores, attempts: attempt };
    if (cpu.other < DISTURBED_CORES) break;
    if (attempt < maxAttempts) progress(`  other processes used ${cpu.other.toFixed(2)} cores during the run; repeating it`);
  }
  return best!;
}

/** The progress line after a login run. */
export const describeLoginRun = (l: { loginsPerSecond: number; p50Ms: number; p99Ms: number; errors: number; errorSamples: readonly string[] }) =>
  `  ${l.loginsPerSecond.toFixed(1)} logins/s, p50 ${Math.round(l.p50Ms)} ms, p99 ${Math.round(l.p99Ms)} ms, ${l.errors} errors`
  + (l.errorSamples.length > 0 ? `; e.g. ${l.errorSamples.join(' | ')}` : '');
