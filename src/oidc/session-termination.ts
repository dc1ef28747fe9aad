import type Provider from 'oidc-provider';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Database } from '../db/database.ts';

type StoredSession = { uid: string; authorizations?: Record<string, { sid?: string; grantId?: string }> };

/**
 * Ends every SSO session of an account everywhere: relying parties with a back-channel logout URI are told
 * (OpenID Connect Back-Channel Logout 1.0), then sessions, grants, refresh tokens and access tokens go.
 * Used after a password reset, by an admin's force-logout, and when an account is frozen or closed.
 */
export function createSessionTerminator(deps: { db: Database; provider: Provider; audit: AuditLog }) {
  return async function endAllSessions(accountId: string, reason: string, actor?: string): Promise<{ sessions: number; notified: number }> {
    const { rows } = await deps.db.query<{ payload: StoredSession }>(
      "SELECT payload FROM oidc_payloads WHERE model = 'Session' AND account_id = $1", [accountId]);
    const grantIds = new Set<string>();
    let notified = 0;
    for (const { payload } of rows) {
      for (const [clientId, { sid, grantId }] of Object.entries(payload.authorizations ?? {})) {
        if (grantId) grantIds.add(grantId);
        const client = await deps.provider.Client.find(clientId);
        if (!client?.backchannelLogoutUri || !sid) continue;
        try {
          await (client as unknown as { backchannelLogout(accountId: string, sid: string): Promise<void> }).backchannelLogout(accountId, sid);
          notified++;
          await deps.audit.record({ event: 'logout.backchannel', result: 'success', accountId, clientId, detail: { sid, reason } });
        } catch (error) {
          await deps.audit.record({ event: 'logout.backchannel', result: 'failure', accountId, clientId, detail: { sid, reason, error: (error as Error).message } });
        }
      }
    }
    const { rows: grants } = await deps.db.query<{ id: string }>("SELECT id FROM oidc_payloads WHERE model = 'Grant' AND account_id = $1", [accountId]);
    for (const { id } of grants) grantIds.add(id);
    // Short-lived tokens live in the hot store, reachable only through their grant.
    for (const grantId of grantIds) {
      await Promise.all([deps.provider.AccessToken, deps.provider.AuthorizationCode].map((model) =>
        (model as unknown as { adapter: { revokeByGrantId(id: string): Promise<void> } }).adapter.revokeByGrantId(grantId)));
    }
    await deps.db.transaction(async (tx) => {
      await tx.query('DELETE FROM session_factors WHERE session_uid = ANY($1)', [rows.map((r) => r.payload.uid)]);
      await tx.query("DELETE FROM oidc_payloads WHERE account_id = $1 OR (grant_id = ANY($2) AND model IN ('RefreshToken', 'Grant'))", [accountId, [...grantIds]]);
      await deps.audit.recordWithin(tx, { event: 'logout', result: 'success', accountId, actor, detail: { reason, sessions: rows.length, scope: 'all_sessions' } });
    });
    return { sessions: rows.length, notified };
  };
}

export type EndAllSessions = ReturnType<typeof createSessionTerminator>;
