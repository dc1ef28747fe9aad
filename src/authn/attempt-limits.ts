import type { RateLimiter } from '../cache/rate-limiter.ts';
import { rateLimited } from '../http/errors.ts';
import { temporarilyLocked } from './errors.ts';

/**
 * Lockout keyed on the HMAC of the identifier typed, not on the account: an identifier that matches no
 * account locks exactly like one that does, so lockout behaviour cannot reveal who is registered.
 * With 5 failures per 15 minutes a single account sees at most 20 guesses an hour (NIST 800-63B: ≤ 100).
 */
export function createAttemptLimits(deps: {
  limiter: RateLimiter;
  maxFailures: number;
  lockoutSeconds: number;
  perIpPerMinute: number;
}) {
  const failureRule = { name: 'login-fail', limit: deps.maxFailures, windowSeconds: deps.lockoutSeconds };
  const ipRule = { name: 'login-ip', limit: deps.perIpPerMinute, windowSeconds: 60 };
  async function assertIpAllowed(ip: string): Promise<void> {
    const decision = await deps.limiter.hit(ipRule, ip);
    if (!decision.allowed) throw rateLimited(decision.retryAfterSeconds);
  }
  return {
    assertIpAllowed,
    async assertAllowed(identifierHash: string, ip: string): Promise<void> {
      await assertIpAllowed(ip);
      if ((await deps.limiter.peek(failureRule, identifierHash)) >= deps.maxFailures) {
        throw temporarilyLocked(deps.lockoutSeconds);
      }
    },
    /** Returns true when this failure locked the identifier. */
    async recordFailure(identifierHash: string): Promise<boolean> {
      const { count } = await deps.limiter.hit(failureRule, identifierHash);
      return count >= deps.maxFailures;
    },
    async recordSuccess(identifierHash: string): Promise<void> {
      await deps.limiter.reset(failureRule, identifierHash);
    },
  };
}

export type AttemptLimits = ReturnType<typeof createAttemptLimits>;
