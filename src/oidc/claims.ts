import type { Account as ProviderAccount, FindAccount } from 'oidc-provider';
import type { AccountService } from '../accounts/service.ts';

/**
 * Scope → claims. `acr`, `amr` and `auth_time` ride on `openid` so every ID token carries them (with
 * conformIdTokenClaims an ID token holds only what its scope mask lets through). `id_number` is released
 * only under its own scope, which an admin must allow per client.
 */
export const CLAIMS_BY_SCOPE = {
  openid: ['sub', 'acr', 'amr', 'auth_time', 'sid'],
  profile: ['name'],
  phone: ['phone_number', 'phone_number_verified'],
  id_number: ['id_number'],
} as const;

export function createFindAccount(accounts: AccountService): FindAccount {
  return async (_ctx, sub): Promise<ProviderAccount | undefined> => {
    const account = await accounts.findById(sub);
    // A frozen or closed account stops resolving, so its tokens stop working at userinfo and refresh.
    if (!account || account.status !== 'active') return undefined;
    return {
      accountId: account.id,
      async claims() {
        return {
          sub: account.id,
          name: account.name,
          phone_number: account.phone ?? undefined,
          phone_number_verified: account.phone ? account.phoneVerified : undefined,
          id_number: account.idNumber,
        };
      },
    };
  };
}
