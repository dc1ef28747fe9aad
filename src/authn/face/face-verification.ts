import { randomBytes } from 'node:crypto';
import type { ProofingRepository } from '../../assurance/proofing-repository.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { HotStore } from '../../cache/hot-store.ts';
import type { RateLimiter } from '../../cache/rate-limiter.ts';
import type { Config } from '../../config/types.ts';
import { ConnectorError } from '../../connectors/errors.ts';
import type { FaceCallbackVerifier } from '../../connectors/face/callback.ts';
import type { FaceFinalResult, FaceService, FaceVerificationResult } from '../../connectors/face/types.ts';
import type { Database } from '../../db/database.ts';
import type { DataProtector } from '../../identity/data-protection.ts';
import { maskIdNumber } from '../../identity/id-number.ts';
import { AppError, rateLimited } from '../../http/errors.ts';
import type { Verified } from '../types.ts';

type Attempt = { transactionId: string; nonce: string; accountId: string; startedAt: number };

export const faceUnavailable = () => new AppError('face_unavailable', 'The face-verification service is unavailable. Please try again later or use another method.', { status: 503 });
export const faceNotMatched = () => new AppError('face_not_matched', 'Face verification did not succeed.', { status: 401 });
export const faceDisabled = () => new AppError('face_disabled', 'Face verification is paused for this account after repeated failures. Sign in again with your password or SMS code first.', { status: 403 });
export const facePending = () => new AppError('face_pending', 'The face verification is still being processed.', { status: 202 });

/**
 * Orchestrates a face verification at the vendor (standards §4.2, NIST 800-63B biometrics): the vendor
 * measures, this server decides. The result must carry the nonce issued for this login, be fresh, show a
 * live person and reach the similarity threshold. No image ever reaches this server; the evidence kept is
 * the result, score, vendor transaction id and time. After `maxConsecutiveFailures` failures every further
 * try waits longer, and at `disableAfterFailures` face is switched off until another factor succeeds.
 */
export function createFaceVerification(deps: {
  service: FaceService;
  callbacks: FaceCallbackVerifier;
  store: HotStore;
  limiter: RateLimiter;
  proofing: ProofingRepository;
  protector: DataProtector;
  db: Database;
  audit: AuditLog;
  clock: () => Date;
  settings: Config['face'];
  issuer: string;
}) {
  const { settings } = deps;
  const attemptKey = (uid: string) => `face:attempt:${uid}`;
  const resultKey = (transactionId: string) => `face:result:${transactionId}`;
  const failuresKey = (accountId: string) => `face:failures:${accountId}`;
  const notBeforeKey = (accountId: string) => `face:not-before:${accountId}`;
  const now = () => deps.clock().getTime();

  async function failures(accountId: string): Promise<number> {
    return Number((await deps.store.get(failuresKey(accountId))) ?? 0);
  }

  async function recordFailure(accountId: string): Promise<void> {
    const { count } = await deps.store.increment(failuresKey(accountId), 86400);
    if (count >= settings.maxConsecutiveFailures) {
      // 30 s after the 5th failure, doubling with each further one.
      const waitSeconds = 30 * 2 ** (count - settings.maxConsecutiveFailures);
      await deps.store.set(notBeforeKey(accountId), String(now() + waitSeconds * 1000), Math.min(86400, waitSeconds));
    }
  }

  function judge(result: FaceVerificationResult, attempt: Attempt): { ok: boolean; reason: string; score?: number } {
    if (result.status === 'pending') return { ok: false, reason: 'pending' };
    if (result.transactionId !== attempt.transactionId) return { ok: false, reason: 'wrong_transaction' };
    if (!deps.protector.equalSecret(result.nonce, attempt.nonce)) return { ok: false, reason: 'wrong_nonce' };
    const final = result as FaceFinalResult;
    const completedAt = Date.parse(final.completedAt);
    if (!Number.isFinite(completedAt) || now() - completedAt > settings.resultMaxAgeSeconds * 1000 || completedAt - now() > 60_000) {
      return { ok: false, reason: 'stale_result' };
    }
    if (final.status !== 'completed') return { ok: false, reason: final.status };
    if (final.liveness !== 'pass') return { ok: false, reason: 'liveness_failed' };
    if (final.score < settings.minScore) return { ok: false, reason: 'below_threshold', score: final.score };
    return { ok: true, reason: 'match', score: final.score };
  }

  return {
    /** Whether face can be offered to this account now (not disabled after repeated failures). */
    async isAvailable(accountId: string): Promise<boolean> {
      return settings.enabled && (await failures(accountId)) < settings.disableAfterFailures;
    },

    /** Another factor succeeded: the person proved themselves, so face counts start again. */
    async clearFailures(accountId: string): Promise<void> {
      await deps.store.delete(failuresKey(accountId), notBeforeKey(accountId));
    },

    async start(input: { uid: string; accountId: string; name: string; idNumber: string; ip: string; clientId?: string }): Promise<{ captureUrl: string }> {
      if ((await failures(input.accountId)) >= settings.disableAfterFailures) throw faceDisabled();
      const notBefore = Number((await deps.store.get(notBeforeKey(input.accountId))) ?? 0);
      if (notBefore > now()) throw rateLimited(Math.ceil((notBefore - now()) / 1000));
      const ip = await deps.limiter.hit({ name: 'face-ip-hour', limit: settings.perIpPerHour, windowSeconds: 3600 }, input.ip);
      if (!ip.allowed) throw rateLimited(ip.retryAfterSeconds);
      // Every attempt costs money at a real vendor: a global daily budget.
      const budget = await deps.limiter.hit({ name: 'face-budget-day', limit: settings.dailyBudget, windowSeconds: 86400 }, 'all');
      if (!budget.allowed) throw new AppError('face_budget_exhausted', 'Face verification is not available any more today. Please use another method.', { status: 503 });

      const nonce = randomBytes(24).toString('base64url');
      let started;
      try {
        started = await deps.service.start({
          name: input.name, idNumber: input.idNumber, nonce,
          callbackUrl: `${deps.issuer}/callbacks/face`,
          returnUrl: `${deps.issuer}/interaction/${input.uid}/face/return`,
        });
      } catch (error) {
        await deps.audit.record({ event: 'face.verify', result: 'failure', actor: maskIdNumber(input.idNumber), accountId: input.accountId, clientId: input.clientId, ip: input.ip, detail: { reason: 'vendor_unavailable', code: (error as ConnectorError).code } });
        if (error instanceof ConnectorError) throw faceUnavailable();
        throw error;
      }
      const attempt: Attempt = { transactionId: started.transactionId, nonce, accountId: input.accountId, startedAt: now() };
      await deps.store.set(attemptKey(input.uid), JSON.stringify(attempt), settings.resultMaxAgeSeconds * 2);
      await deps.audit.record({ event: 'face.started', result: 'success', actor: maskIdNumber(input.idNumber), accountId: input.accountId, clientId: input.clientId, ip: input.ip, detail: { transactionId: started.transactionId, vendor: deps.service.name } });
      return { captureUrl: started.captureUrl };
    },

    /** The vendor's signed callback: only stored; the decision is made when the browser returns. */
    async acceptCallback(request: { method: string; path: string; headers: Record<string, string | string[] | undefined>; rawBody: string }): Promise<boolean> {
      const verdict = deps.callbacks.verify(request);
      if (!verdict.ok) {
        await deps.audit.record({ event: 'face.callback', result: 'failure', detail: { reason: verdict.error } });
        return false;
      }
      await deps.store.set(resultKey(verdict.result.transactionId), JSON.stringify(verdict.result), settings.resultMaxAgeSeconds * 2);
      return true;
    },

    async complete(input: { uid: string; accountId: string; transactionId: string; ip: string; clientId?: string }): Promise<Verified> {
      const raw = await deps.store.get(attemptKey(input.uid));
      const attempt = raw ? (JSON.parse(raw) as Attempt) : undefined;
      const base = { event: 'face.verify', accountId: input.accountId, clientId: input.clientId, ip: input.ip } as const;
      if (!attempt || attempt.accountId !== input.accountId || attempt.transactionId !== input.transactionId) {
        await deps.audit.record({ ...base, result: 'failure', detail: { reason: 'unknown_attempt', transactionId: input.transactionId } });
        throw new AppError('face_attempt_unknown', 'This face verification does not belong to this sign-in. Please start again.', { status: 400 });
      }
      const stored = await deps.store.get(resultKey(attempt.transactionId));
      let result: FaceVerificationResult;
      try {
        result = stored ? (JSON.parse(stored) as FaceVerificationResult) : await deps.service.result(attempt.transactionId);
      } catch (error) {
        if (error instanceof ConnectorError) throw faceUnavailable();
        throw error;
      }
      if (result.status === 'pending') throw facePending();
      // Single use: the attempt is consumed before deciding, so a replayed return or result counts nothing.
      if (!(await deps.store.take(attemptKey(input.uid)))) throw new AppError('face_attempt_unknown', 'This face verification was already used. Please start again.', { status: 400 });
      await deps.store.delete(resultKey(attempt.transactionId));

      const verdict = judge(result, attempt);
      const evidence = { vendor: deps.service.name, transactionId: attempt.transactionId, score: verdict.score ?? null, completedAt: (result as FaceFinalResult).completedAt };
      if (!verdict.ok) {
        await recordFailure(input.accountId);
        await deps.audit.record({ ...base, result: 'failure', detail: { ...evidence, reason: verdict.reason } });
        throw faceNotMatched();
      }
      await deps.db.transaction(async (tx) => {
        await deps.proofing.record(tx, input.accountId, 'biometric_verified', evidence, deps.clock());
        await deps.audit.recordWithin(tx, { ...base, result: 'success', detail: evidence });
      });
      await this.clearFailures(input.accountId);
      return { accountId: input.accountId, method: 'face', amr: ['face'] };
    },
  };
}

export type FaceVerification = ReturnType<typeof createFaceVerification>;
