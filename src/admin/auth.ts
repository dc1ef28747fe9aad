import type { FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { AccountService } from '../accounts/service.ts';
import type { LevelCatalog } from '../assurance/levels.ts';
import { AppError } from '../http/errors.ts';
import { permissionsFor, type Permission } from './permissions.ts';

export type AdminPrincipal = { clientId: string; accountId?: string; name: string; permissions: ReadonlySet<Permission> };

/**
 * The admin API accepts only access tokens this provider issued: to an admin client by client credentials
 * (permissions from its admin scopes), or to the admin console for a person (permissions from the account's
 * roles, and only when that login reached the console's level). There is no static shared key.
 */
export function createAdminAuth(deps: { provider: Provider; accounts: AccountService; catalog: LevelCatalog; personMinLevel: string }) {
  const minRank = deps.catalog.level(deps.personMinLevel)?.rank ?? Number.POSITIVE_INFINITY;

  return async function authenticate(request: FastifyRequest): Promise<AdminPrincipal> {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    if (!match) throw new AppError('unauthorized', 'A bearer access token with admin rights is required.', { status: 401 });
    const token = (await deps.provider.ClientCredentials.find(match[1])) ?? (await deps.provider.AccessToken.find(match[1]));
    if (!token || token.isExpired) throw new AppError('invalid_token', 'The access token is not valid or has expired.', { status: 401 });
    const scopes = String(token.scope ?? '').split(' ').filter(Boolean);
    const accountId = (token as { accountId?: string }).accountId;
    if (!accountId) {
      return { clientId: token.clientId as string, name: `client:${token.clientId}`, permissions: permissionsFor({ scopes }) };
    }
    const account = await deps.accounts.findById(accountId);
    const acr = (token as { extra?: { acr?: string } }).extra?.acr;
    const level = acr ? deps.catalog.levelForAcr(acr) : undefined;
    if (!account || account.status !== 'active') throw new AppError('invalid_token', 'The access token is not valid or has expired.', { status: 401 });
    if (!level || level.rank < minRank) {
      throw new AppError('insufficient_user_authentication', `Admin actions need a login at ${deps.personMinLevel} or higher.`, { status: 401 });
    }
    return { clientId: token.clientId as string, accountId, name: `account:${account.idNumberMasked}`, permissions: permissionsFor({ roles: account.roles }) };
  };
}

export function assertPermission(principal: AdminPrincipal | undefined, permission: Permission) {
  if (!principal?.permissions.has(permission)) {
    throw new AppError('insufficient_scope', `This action needs the "${permission}" permission.`, { status: 403 });
  }
}
