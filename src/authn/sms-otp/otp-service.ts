import { randomInt } from 'node:crypto';
import type { HotStore } from '../../cache/hot-store.ts';
import type { Config } from '../../config/types.ts';
import type { RateLimiter } from '../../cache/rate-limiter.ts';
import type { SmsGateway } from '../../connectors/sms/types.ts';
import type { DataProtector } from '../../identity/data-protection.ts';
import { AppError, rateLimited } from '../../http/errors.ts';
import { codeVoided, expiredCode, invalidCode } from '../errors.ts';

export type OtpPurpose = 'login' | 'register' | 'bank';

type StoredOtp = { codeHash: string; phoneHash: string; expiresAt: number };

export type OtpSettings = Config['otp'];

/**
 * SMS one-time codes (NIST 800-63B §5.1.3, ASVS 2.7): 6 digits from the CSPRNG (~20 bits), kept only as an
 * HMAC bound to purpose + interaction + phone, valid `ttlSeconds`, single use (atomic take), void after
 * `maxAttempts` wrong tries. Sending is limited per phone (cool-down, daily cap), per IP and globally
 * against SMS pumping.
 */
export function createOtpService(deps: {
  store: HotStore;
  limiter: RateLimiter;
  sms: SmsGateway;
  protector: DataProtector;
  clock: () => Date;
  settings: OtpSettings;
}) {
  const { settings } = deps;
  const key = (purpose: OtpPurpose, binding: string) => `otp:${purpose}:${binding}`;
  const triesKey = (purpose: OtpPurpose, binding: string) => `otp-tries:${purpose}:${binding}`;
  const codeHash = (purpose: OtpPurpose, binding: string, phone: string, code: string) =>
    deps.protector.secretHash('otp', `${purpose}\u0000${binding}\u0000${phone}\u0000${code}`).toString('base64url');

  async function enforceSendLimits(phoneHash: string, ip: string) {
    if (!(await deps.store.setIfAbsent(`sms-cooldown:${phoneHash}`, '1', settings.cooldownSeconds))) {
      throw rateLimited(settings.cooldownSeconds);
    }
    for (const [rule, subject] of [
      [{ name: 'sms-phone-day', limit: settings.dailyCapPerPhone, windowSeconds: 86400 }, phoneHash],
      [{ name: 'sms-ip-hour', limit: settings.perIpPerHour, windowSeconds: 3600 }, ip],
      [{ name: 'sms-global-minute', limit: settings.globalPerMinute, windowSeconds: 60 }, 'all'],
    ] as const) {
      const decision = await deps.limiter.hit(rule, subject);
      if (!decision.allowed) throw rateLimited(decision.retryAfterSeconds);
    }
  }

  return {
    /**
     * Rate limits are charged whether or not a message is finally sent (`deliver` false), so callers
     * that must not reveal whether a phone is registered behave identically either way.
     */
    async issue(input: { purpose: OtpPurpose; binding: string; phone: string; ip: string; deliver: boolean }): Promise<{ sent: boolean }> {
      const phoneHash = deps.protector.lookupHash('phone', input.phone);
      await enforceSendLimits(phoneHash, input.ip);
      if (!input.deliver) return { sent: false };
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      const stored: StoredOtp = {
        codeHash: codeHash(input.purpose, input.binding, input.phone, code),
        phoneHash,
        expiresAt: deps.clock().getTime() + settings.ttlSeconds * 1000,
      };
      await deps.store.delete(triesKey(input.purpose, input.binding));
      await deps.store.set(key(input.purpose, input.binding), JSON.stringify(stored), settings.ttlSeconds);
      const minutes = Math.round(settings.ttlSeconds / 60);
      try {
        await deps.sms.send({
          to: input.phone,
          template: input.purpose === 'register' ? 'otp_register' : 'otp_login',
          params: { code, minutes: String(minutes) },
          text: `【政务服务统一身份认证】验证码 ${code}，${minutes} 分钟内有效。请勿告诉他人。`,
        });
      } catch (error) {
        await deps.store.delete(key(input.purpose, input.binding));
        throw new AppError('sms_unavailable', 'The SMS service is unavailable. Please try again later.', { status: 503 });
      }
      return { sent: true };
    },

    async verify(input: { purpose: OtpPurpose; binding: string; phone: string; code: string }): Promise<void> {
      const raw = await deps.store.get(key(input.purpose, input.binding));
      if (!raw) throw expiredCode();
      const stored = JSON.parse(raw) as StoredOtp;
      if (deps.clock().getTime() > stored.expiresAt) {
        await deps.store.delete(key(input.purpose, input.binding));
        throw expiredCode();
      }
      const { count } = await deps.store.increment(triesKey(input.purpose, input.binding), settings.ttlSeconds);
      if (count > settings.maxAttempts) {
        await deps.store.delete(key(input.purpose, input.binding));
        throw codeVoided();
      }
      const matches = /^\d{6}$/.test(input.code) && deps.protector.equalSecret(
        stored.codeHash, codeHash(input.purpose, input.binding, input.phone, input.code));
      if (!matches) {
        if (count >= settings.maxAttempts) {
          await deps.store.delete(key(input.purpose, input.binding));
          throw codeVoided();
        }
        throw invalidCode();
      }
      // Single use: of two concurrent correct submissions only the one that takes the key succeeds.
      if (!(await deps.store.take(key(input.purpose, input.binding)))) throw expiredCode();
      await deps.store.delete(triesKey(input.purpose, input.binding));
    },
  };
}

export type OtpService = ReturnType<typeof createOtpService>;
