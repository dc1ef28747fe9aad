// Who used the CPUs during a run: this process (server + load generator threads), PostgreSQL, Redis, and
// anything else on the machine (other people's test runs show up there), from /proc.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export type CpuSnapshot = { at: number; machineBusy: number; machineSteal: number; self: number; postgres: Map<number, number>; redis: Map<number, number> };

/** CPU use over an interval, in cores (CPU-seconds per second). */
export type CpuBreakdown = { seconds: number; machine: number; self: number; postgres: number; redis: number; other: number; steal: number };

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function processTicks(pid: number | string): { comm: string; ticks: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const rest = stat.slice(close + 2).split(' ');
    // Fields 14 and 15 (utime, stime); `rest` starts at field 3.
    return { comm: stat.slice(stat.indexOf('(') + 1, close), ticks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return undefined; // exited meanwhile
  }
}

export function cpuSnapshot(): CpuSnapshot {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const postgres = new Map<number, number>();
  const redis = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const info = processTicks(entry);
    if (info?.comm === 'postgres') postgres.set(Number(entry), info.ticks);
    else if (info?.comm === 'redis-server') redis.set(Number(entry), info.ticks);
  }
  return {
    at: performance.now(), machineBusy: user + nice + system + irq + softirq, machineSteal: steal ?? 0,
    self: processTicks(process.pid)?.ticks ?? 0, postgres, redis,
  };
}

function delta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  // A process that started during the interval counts whole; one that exited is missed (lands in "other").
  for (const [pid, ticks] of after) sum += ticks - (before.get(pid) ?? 0);
  return sum;
}

export function cpuBreakdown(before: CpuSnapshot, after: CpuSnapshot): CpuBreakdown {
  const seconds = (after.at - before.at) / 1000;
  const cores = (ticks: number) => (seconds > 0 ? ticks / CLOCK_TICKS / seconds : 0);
  const machine = after.machineBusy - before.machineBusy;
  const self = after.self - before.self;
  const postgres = delta(before.postgres, after.postgres);
  const redis = delta(before.redis, after.redis);
  return {
    seconds, machine: cores(machine), self: cores(self), postgres: cores(postgres), redis: cores(redis),
    other: cores(Math.max(0, machine - self - postgres - redis)), steal: cores(after.machineSteal - before.machineSteal),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits (at most `maxWaitMs`) until the machine is quiet: less than `threshold` cores busy over one second
 * while this process is idle. Returns the last background reading, which the report shows next to the run.
 */
export async function waitForQuiet(options: { threshold?: number; maxWaitMs?: number; onWait?: (cores: number) => void } = {}): Promise<number> {
  const threshold = options.threshold ?? 0.25;
  const deadline = performance.now() + (options.maxWaitMs ?? 60_000);
  for (let attempt = 0; attempt < 100; attempt++) {
    const before = cpuSnapshot();
    await sleep(1000);
    const background = cpuBreakdown(before, cpuSnapshot()).machine;
    if (background < threshold || performance.now() >= deadline) return background;
    options.onWait?.(background);
    await sleep(2000);
  }
  return NaN;
}
