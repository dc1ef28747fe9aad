import type { Account } from './types.ts';

/**
 * Who may sign in: active accounts, and accounts in their deregistration cooling-off period (signing in is
 * how a person cancels the deregistration, PIPL Art. 47 deletion on request but revocable until closure).
 */
export function canSignIn(account: Pick<Account, 'status' | 'closesAt'>, now: Date = new Date()): boolean {
  if (account.status === 'active') return true;
  return account.status === 'closing' && account.closesAt !== null && account.closesAt.getTime() > now.getTime();
}
