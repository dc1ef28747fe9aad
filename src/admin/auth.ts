import type { FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { AuditLog } from '../audit/audit-log.ts';
import { AppError } from '../http/errors.ts';

export const ADMIN_SCOPE = 'admin';

export type AdminPrincipal = { clientId: string; accountId?: string; scopes: readonly string[] };

/**
 * The admin API accepts only access tokens this provider issued with the `admin` scope (to an admin
 * client by client credentials). There is no static shared key.
 */
export function createAdminAuth(deps: { provider: Provider; audit: AuditLog }) {
  return async function requireAdmin(request: FastifyRequest, _reply: FastifyReply): Promise<AdminPrincipal> {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    if (!match) throw new AppError('unauthorized', 'A bearer access token with the admin scope is required.', { status: 401 });
    const token = (await deps.provider.ClientCredentials.find(match[1])) ?? (await deps.provider.AccessToken.find(match[1]));
    if (!token || token.isExpired) throw new AppError('invalid_token', 'The access token is not valid or has expired.', { status: 401 });
    const scopes = String(token.scope ?? '').split(' ').filter(Boolean);
    if (!scopes.includes(ADMIN_SCOPE)) {
      await deps.audit.record({ event: 'admin.denied', result: 'failure', clientId: token.clientId, ip: request.ip, detail: { path: request.routeOptions.url } });
      throw new AppError('insufficient_scope', 'The access token does not carry the admin scope.', { status: 403 });
    }
    return { clientId: token.clientId as string, accountId: (token as { accountId?: string }).accountId, scopes };
  };
}
