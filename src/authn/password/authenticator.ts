import type { AccountService } from '../../accounts/service.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { AttemptLimits } from '../attempt-limits.ts';
import { accountUnavailable, invalidCredentials } from '../errors.ts';
import { maskIdentifier } from '../identifier-mask.ts';
import type { Authenticator } from '../types.ts';
import { hashPassword, needsRehash, verifyPassword } from './hashing.ts';

export type PasswordInput = { identifier: string; password: string };

/** Login by ID number or mobile number + password. Every failure looks and costs the same. */
export function createPasswordAuthenticator(deps: { accounts: AccountService; limits: AttemptLimits; audit: AuditLog }): Authenticator<PasswordInput> {
  return {
    method: 'pwd',
    amr: ['pwd'],
    async isEnrolled(accountId) {
      return Boolean((await deps.accounts.findById(accountId))?.passwordHash);
    },
    async verify(input, ctx) {
      const actor = maskIdentifier(input.identifier);
      const { account, identifierHash } = await deps.accounts.findByIdentifier(input.identifier);
      const base = { event: 'login.password', actor, clientId: ctx.clientId, ip: ctx.ip } as const;
      try {
        await deps.limits.assertAllowed(identifierHash, ctx.ip);
      } catch (error) {
        await deps.audit.record({ ...base, event: 'login.locked', result: 'failure', accountId: account?.id });
        throw error;
      }
      const correct = await verifyPassword(account?.passwordHash, input.password);
      if (!account || !correct) {
        const locked = await deps.limits.recordFailure(identifierHash);
        await deps.audit.record({ ...base, result: 'failure', accountId: account?.id, detail: { reason: 'invalid_credentials', locked } });
        throw invalidCredentials();
      }
      if (account.status !== 'active') {
        await deps.audit.record({ ...base, result: 'failure', accountId: account.id, detail: { reason: `account_${account.status}` } });
        throw accountUnavailable();
      }
      await deps.limits.recordSuccess(identifierHash);
      if (account.passwordHash && needsRehash(account.passwordHash)) {
        await deps.accounts.updatePasswordHash(account.id, await hashPassword(input.password));
      }
      await deps.audit.record({ ...base, result: 'success', accountId: account.id });
      return { accountId: account.id, method: 'pwd', amr: ['pwd'] };
    },
  };
}
