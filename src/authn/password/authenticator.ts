import type { Account } from '../../accounts/types.ts';
import { createLegacyAccountRepository } from '../../accounts/legacy/repository.ts';
import { verifyLegacyPassword } from '../../accounts/legacy/legacy-hashes.ts';
import type { AccountService } from '../../accounts/service.ts';
import { canSignIn } from '../../accounts/status.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { Database } from '../../db/database.ts';
import type { AttemptLimits } from '../attempt-limits.ts';
import { accountUnavailable, invalidCredentials } from '../errors.ts';
import { maskIdentifier } from '../identifier-mask.ts';
import type { Authenticator } from '../types.ts';
import { hashPassword, needsRehash, verifyPassword } from './hashing.ts';

export type PasswordInput = { identifier: string; password: string };

/** An imported hash not yet replaced by argon2id (the account has no argon2 hash of its own). */
function legacyHashOf(account: Account | undefined): { hash: string; algorithm: string } | undefined {
  if (!account || account.passwordHash || !account.legacyPasswordHash || !account.legacyPasswordAlgorithm) return undefined;
  return { hash: account.legacyPasswordHash, algorithm: account.legacyPasswordAlgorithm };
}

/**
 * Login by ID number or mobile number + password. Every failure looks and costs the same.
 * `db` lets the first login with an imported legacy hash replace it in one transaction with its audit record.
 */
export function createPasswordAuthenticator(deps: { accounts: AccountService; limits: AttemptLimits; audit: AuditLog; db?: Database }): Authenticator<PasswordInput> {
  return {
    method: 'pwd',
    amr: ['pwd'],
    async isEnrolled(accountId) {
      const account = await deps.accounts.findById(accountId);
      return Boolean(account?.passwordHash || legacyHashOf(account));
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
      const legacy = legacyHashOf(account);
      let correct: boolean;
      if (legacy) {
        correct = await verifyLegacyPassword(legacy.algorithm, legacy.hash, input.password);
        // An MD5 or SHA-256 check is far cheaper than argon2id: the dummy verification keeps the failure as costly as any other.
        if (!correct) await verifyPassword(undefined, input.password);
      } else {
        correct = await verifyPassword(account?.passwordHash, input.password);
      }
      if (!account || !correct) {
        const locked = await deps.limits.recordFailure(identifierHash);
        const reason = account && !account.passwordHash && !legacy && account.mustResetPassword ? 'must_reset_password' : 'invalid_credentials';
        await deps.audit.record({ ...base, result: 'failure', accountId: account?.id, detail: { reason, locked } });
        throw invalidCredentials();
      }
      if (!canSignIn(account)) {
        await deps.audit.record({ ...base, result: 'failure', accountId: account.id, detail: { reason: `account_${account.status}` } });
        throw accountUnavailable();
      }
      await deps.limits.recordSuccess(identifierHash);
      if (legacy) {
        const passwordHash = await hashPassword(input.password);
        const upgraded = { event: 'login.legacy_upgraded', result: 'success', actor, accountId: account.id, clientId: ctx.clientId, ip: ctx.ip,
          detail: { algorithm: legacy.algorithm } } as const;
        if (deps.db) {
          await deps.db.transaction(async (tx) => {
            if (await createLegacyAccountRepository(tx).replaceLegacyHash(account.id, legacy.hash, passwordHash)) await deps.audit.recordWithin(tx, upgraded);
          });
        } else {
          // Without the database handle only the argon2id hash can be set; it takes precedence over the legacy one from now on.
          await deps.accounts.updatePasswordHash(account.id, passwordHash);
          await deps.audit.record({ ...upgraded, detail: { ...upgraded.detail, legacyHashCleared: false } });
        }
      } else if (account.passwordHash && needsRehash(account.passwordHash)) {
        await deps.accounts.updatePasswordHash(account.id, await hashPassword(input.password));
      }
      await deps.audit.record({ ...base, result: 'success', accountId: account.id });
      return { accountId: account.id, method: 'pwd', amr: ['pwd'] };
    },
  };
}
