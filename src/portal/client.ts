import type { Runtime } from '../bootstrap/runtime.ts';
import { AppError } from '../http/errors.ts';

export type PortalClient = {
  clientId: string;
  clientName: string;
  /** Where the portal is mounted, such as `/console`: its callback and signed-out page lie below. */
  path: string;
  scope: string;
};

export const portalUris = (issuer: string, path: string) => {
  const base = issuer.replace(/\/+$/, '');
  return { base, redirectUri: `${base}${path}/callback`, postLogoutRedirectUri: `${base}${path}/` };
};

/** Registers a first-party portal as a relying party of this provider (once; concurrent nodes may race). */
export async function ensurePortalClient(runtime: Pick<Runtime, 'clients'>, issuer: string, portal: PortalClient): Promise<void> {
  const { redirectUri, postLogoutRedirectUri } = portalUris(issuer, portal.path);
  const existing = await runtime.clients.find(portal.clientId);
  if (!existing) {
    try {
      await runtime.clients.create({
        client_id: portal.clientId,
        client_name: portal.clientName,
        redirect_uris: [redirectUri],
        post_logout_redirect_uris: [postLogoutRedirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        require_consent: false,
        scope: portal.scope,
      });
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'conflict')) throw error;
    }
    return;
  }
  const same = (a: unknown, b: string[]) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(existing.redirect_uris, [redirectUri]) || !same(existing.post_logout_redirect_uris, [postLogoutRedirectUri])) {
    // The issuer URL changed (a new public host name): follow it, keeping the secret.
    const current = await runtime.clients.get(portal.clientId);
    await runtime.clients.update(portal.clientId, { ...current, redirect_uris: [redirectUri], post_logout_redirect_uris: [postLogoutRedirectUri] });
  }
}
