import type { HotStore } from './hot-store.ts';

export type RateLimitRule = { name: string; limit: number; windowSeconds: number };
export type RateLimitDecision = { allowed: boolean; count: number; retryAfterSeconds: number; rule: string };

/**
 * Fixed-window counters in the shared hot store, so a limit holds across every node. `subject` must
 * already be a hash or a non-personal key (an IP, a client id): keys end up in Redis in the clear.
 */
export function createRateLimiter(store: HotStore) {
  return {
    async hit(rule: RateLimitRule, subject: string): Promise<RateLimitDecision> {
      const { count, resetInSeconds } = await store.increment(`rl:${rule.name}:${subject}`, rule.windowSeconds);
      return { allowed: count <= rule.limit, count, retryAfterSeconds: count <= rule.limit ? 0 : resetInSeconds, rule: rule.name };
    },
    async peek(rule: RateLimitRule, subject: string): Promise<number> {
      return Number((await store.get(`rl:${rule.name}:${subject}`)) ?? 0);
    },
    async reset(rule: RateLimitRule, subject: string): Promise<void> {
      await store.delete(`rl:${rule.name}:${subject}`);
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
