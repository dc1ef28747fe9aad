import type Provider from 'oidc-provider';
import type { AuditLog } from '../audit/audit-log.ts';

/** Turns oidc-provider's events into audit records. Token issuance is high volume: written in batches. */
export function auditProviderEvents(provider: Provider, audit: AuditLog, log: (error: unknown) => void) {
  provider.on('grant.success', (ctx) => {
    audit.recordInBackground({
      event: 'token.issued',
      result: 'success',
      clientId: ctx.oidc.client?.clientId,
      accountId: ctx.oidc.entities.Account?.accountId ?? ctx.oidc.entities.Grant?.accountId,
      ip: ctx.ip,
      detail: {
        grantType: ctx.oidc.params?.grant_type,
        acr: (ctx.oidc.entities.AuthorizationCode as { acr?: string } | undefined)?.acr
          ?? (ctx.oidc.entities.RefreshToken as { acr?: string } | undefined)?.acr,
      },
    });
  });
  provider.on('grant.error', (ctx, error) => {
    audit.recordInBackground({
      event: 'token.issued',
      result: 'failure',
      clientId: ctx.oidc.client?.clientId,
      ip: ctx.ip,
      detail: { grantType: ctx.oidc.params?.grant_type, error: (error as { error?: string }).error, description: (error as { error_description?: string }).error_description },
    });
  });
  provider.on('grant.revoked', (ctx, grantId) => {
    audit.recordInBackground({ event: 'token.revoked', result: 'success', clientId: ctx.oidc.client?.clientId, ip: ctx.ip, detail: { grantId } });
  });
  provider.on('end_session.success', (ctx) => {
    audit.recordInBackground({ event: 'logout', result: 'success', accountId: ctx.oidc.session?.accountId ?? undefined, clientId: ctx.oidc.client?.clientId, ip: ctx.ip });
  });
  provider.on('backchannel.success', (_ctx, client, accountId, sid) => {
    audit.recordInBackground({ event: 'logout.backchannel', result: 'success', clientId: client.clientId, accountId, detail: { sid } });
  });
  provider.on('backchannel.error', (_ctx, error, client, accountId, sid) => {
    audit.recordInBackground({ event: 'logout.backchannel', result: 'failure', clientId: client.clientId, accountId, detail: { sid, error: (error as Error).message } });
  });
  provider.on('server_error', (_ctx, error) => log(error));
}
