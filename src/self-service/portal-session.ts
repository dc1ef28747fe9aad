import { randomBytes } from 'node:crypto';
import type { HotStore } from '../cache/hot-store.ts';

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

const KEY_PREFIX = 'account:';
const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Account-page sessions in the shared hot store: idle limit extended by each use, absolute limit from the login. */
export function createPortalSessions(deps: { hot: HotStore; idleSeconds: number; absoluteSeconds: number; now: () => number }) {
  const key = (id: string) => `${KEY_PREFIX}${id}`;

  return {
    async create(data: Omit<PortalSession, 'csrf' | 'ref' | 'createdAt'>): Promise<{ id: string; session: PortalSession }> {
      const id = randomBytes(32).toString('base64url');
      const session: PortalSession = { ...data, csrf: randomBytes(32).toString('base64url'), ref: randomBytes(18).toString('base64url'), createdAt: deps.now() };
      await deps.hot.set(key(id), JSON.stringify(session), deps.idleSeconds);
      return { id, session };
    },

    async touch(id: string | undefined): Promise<PortalSession | undefined> {
      if (!id || !ID_PATTERN.test(id)) return undefined;
      const raw = await deps.hot.get(key(id));
      if (!raw) return undefined;
      let session: PortalSession;
      try {
        session = JSON.parse(raw) as PortalSession;
      } catch {
        await deps.hot.delete(key(id));
        return undefined;
      }
      const left = session.createdAt + deps.absoluteSeconds - deps.now();
      if (left <= 0) {
        await deps.hot.delete(key(id));
        return undefined;
      }
      await deps.hot.set(key(id), raw, Math.min(deps.idleSeconds, left));
      return session;
    },

    async end(id: string | undefined): Promise<void> {
      if (id && ID_PATTERN.test(id)) await deps.hot.delete(key(id));
    },
  };
}

export type PortalSessions = ReturnType<typeof createPortalSessions>;
