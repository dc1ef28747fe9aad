// Closed-loop password-login load: `concurrency` loops, each one login after another for a fixed time, in a worker
// thread (./closed-loops.ts).
import { performance } from 'node:perf_hooks';
import { syntheticCitizen } from '../seed-citizens.ts';
import { runClosedLoops, runInWorker, serveInWorker, type ClosedLoopResult } from './closed-loops.ts';
import { passwordLogin } from './login-flow.ts';
import type { LoginTarget } from './relying-party.ts';

export type LoginLoadOptions = {
  target: LoginTarget;
  password: string;
  concurrency: number;
  durationMs: number;
  /** Citizens 0 … accountCount - 1 exist; loop w only ever uses indexes ≡ w (mod concurrency). */
  accountCount: number;
};

const ROLE = 'bench-login-load';
// How long past the deadline a loop whose login hangs is waited for.
const GRACE_MS = 30_000;
const MAX_LOGINS_PER_LOOP = 1_000_000;

function runLoops(options: LoginLoadOptions): Promise<ClosedLoopResult> {
  const { concurrency, durationMs, accountCount } = options;
  const deadline = performance.now() + durationMs;
  return runClosedLoops(concurrency, durationMs + GRACE_MS, async (w, timed) => {
    const slots = Math.floor((accountCount - 1 - w) / concurrency) + 1;
    for (let n = 0; n < MAX_LOGINS_PER_LOOP && performance.now() < deadline; n++) {
      const citizen = syntheticCitizen(w + concurrency * Math.floor(Math.random() * slots));
      await timed(() => passwordLogin(options.target, citizen.idNumber, options.password));
    }
  });
}

export function runLoginLoad(options: LoginLoadOptions): Promise<ClosedLoopResult> {
  if (options.accountCount < options.concurrency) throw new Error('need at least one account per concurrent loop');
  return runInWorker(new URL(import.meta.url), ROLE, options, 'login load');
}

await serveInWorker(ROLE, runLoops);
