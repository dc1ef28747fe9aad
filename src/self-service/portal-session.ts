import { randomBytes } from 'node:crypto';
import { createHotSessions, type HotSessionDeps } from '../portal/session.ts';

export type PortalSession = {
  accountId: string;
  idToken: string;
  /** The `sid` of the provider session this login belongs to: when that session ends, so does this one. */
  sid: string;
  acr: string;
  /** Epoch seconds of the last authentication (the ID token's auth_time), for fresh-authentication checks. */
  authTime: number;
  csrf: string;
  /** A non-secret reference for keys of flows in progress (the session id itself is a bearer secret). */
  ref: string;
  createdAt: number;
};

/** Account-page sessions in the shared hot store: idle limit extended by each use, absolute limit from the login. */
export function createPortalSessions(deps: HotSessionDeps) {
  const { create, touch, discard } = createHotSessions<PortalSession, Omit<PortalSession, 'csrf' | 'ref' | 'createdAt'>>({
    ...deps,
    keyPrefix: 'account:',
    stamp: () => ({ ref: randomBytes(18).toString('base64url') }),
  });
  return { create, touch, end: discard };
}

export type PortalSessions = ReturnType<typeof createPortalSessions>;
