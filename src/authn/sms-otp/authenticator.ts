import type { AccountService } from '../../accounts/service.ts';
import { canSignIn } from '../../accounts/status.ts';
import { invalidPhone } from '../../accounts/errors.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import { maskPhone, normalizeMainlandMobile } from '../../identity/phone.ts';
import type { AttemptLimits } from '../attempt-limits.ts';
import { accountUnavailable, expiredCode } from '../errors.ts';
import type { AttemptContext, Authenticator } from '../types.ts';
import type { OtpService } from './otp-service.ts';

export type SmsCodeInput = { phone: string; code: string };

/**
 * Login by mobile number + SMS code. `sendCode` answers the same whether or not the number belongs to
 * an account (a code is delivered only when it does), so it cannot be used to probe who is registered.
 */
export function createSmsOtpAuthenticator(deps: { accounts: AccountService; otp: OtpService; limits: AttemptLimits; audit: AuditLog }) {
  const authenticator: Authenticator<SmsCodeInput> & {
    sendCode(input: { phone: string }, ctx: AttemptContext): Promise<{ phoneMasked: string }>;
  } = {
    method: 'sms',
    amr: ['sms', 'otp'],
    async isEnrolled(accountId) {
      return Boolean((await deps.accounts.findById(accountId))?.phoneVerified);
    },
    async sendCode(input, ctx) {
      const phone = normalizeMainlandMobile(input.phone);
      if (!phone.ok) throw invalidPhone();
      const account = await deps.accounts.findByPhone(phone.phone);
      const deliver = account !== undefined && canSignIn(account);
      const audit = { event: 'sms.sent', actor: maskPhone(phone.phone), accountId: account?.id, clientId: ctx.clientId, ip: ctx.ip } as const;
      try {
        const { sent } = await deps.otp.issue({ purpose: 'login', binding: ctx.interactionId, phone: phone.phone, ip: ctx.ip, deliver });
        await deps.audit.record(sent ? { ...audit, result: 'success', detail: { purpose: 'login' } }
          : { ...audit, event: 'sms.refused', result: 'failure', detail: { purpose: 'login', reason: 'no_active_account' } });
        return { phoneMasked: audit.actor };
      } catch (error) {
        await deps.audit.record({ ...audit, event: 'sms.refused', result: 'failure', detail: { purpose: 'login', reason: (error as { code?: string }).code } });
        throw error;
      }
    },
    async verify(input, ctx) {
      const phone = normalizeMainlandMobile(input.phone);
      if (!phone.ok) throw invalidPhone();
      const base = { event: 'login.sms', actor: maskPhone(phone.phone), clientId: ctx.clientId, ip: ctx.ip } as const;
      // Guessing is bounded per code (5 tries, then void); this bounds it per source address as well.
      await deps.limits.assertIpAllowed(ctx.ip);
      try {
        await deps.otp.verify({ purpose: 'login', binding: ctx.interactionId, phone: phone.phone, code: input.code });
      } catch (error) {
        await deps.audit.record({ ...base, result: 'failure', detail: { reason: (error as { code?: string }).code } });
        throw error;
      }
      const account = await deps.accounts.findByPhone(phone.phone);
      if (!account) throw expiredCode();
      if (!canSignIn(account)) {
        await deps.audit.record({ ...base, result: 'failure', accountId: account.id, detail: { reason: `account_${account.status}` } });
        throw accountUnavailable();
      }
      await deps.audit.record({ ...base, result: 'success', accountId: account.id });
      return { accountId: account.id, method: 'sms', amr: ['sms', 'otp'] };
    },
  };
  return authenticator;
}
