import { randomBytes } from 'node:crypto';
import type { HotStore } from '../cache/hot-store.ts';

export type HotSessionDeps = { hot: HotStore; idleSeconds: number; absoluteSeconds: number; now: () => number };

type Stamped = { csrf: string; createdAt: number };

const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * Sessions of a first-party portal in the shared hot store, so any node can serve them. Each use extends
 * the idle limit; the absolute limit counts from the login (`createdAt`) and is never extended.
 * `stamp` adds the fields every new session gets besides its csrf token and creation time.
 */
export function createHotSessions<S extends Stamped, Given extends object>(
  deps: HotSessionDeps & { keyPrefix: string; stamp?: () => Omit<S, keyof Given | keyof Stamped> },
) {
  const key = (id: string) => `${deps.keyPrefix}${id}`;

  return {
    async create(data: Given): Promise<{ id: string; session: S }> {
      const id = randomBytes(32).toString('base64url');
      const session = { ...data, csrf: randomBytes(32).toString('base64url'), ...deps.stamp?.(), createdAt: deps.now() } as unknown as S;
      await deps.hot.set(key(id), JSON.stringify(session), deps.idleSeconds);
      return { id, session };
    },

    /** The session, with its idle timer restarted; undefined when unknown, idle too long or past the absolute limit. */
    async touch(id: string | undefined): Promise<S | undefined> {
      if (!id || !ID_PATTERN.test(id)) return undefined;
      const raw = await deps.hot.get(key(id));
      if (!raw) return undefined;
      let session: S;
      try {
        session = JSON.parse(raw) as S;
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

    /** Ends the session and returns what it held, if it could be read. */
    async take(id: string | undefined): Promise<S | undefined> {
      if (!id || !ID_PATTERN.test(id)) return undefined;
      const raw = await deps.hot.take(key(id));
      if (!raw) return undefined;
      try {
        return JSON.parse(raw) as S;
      } catch {
        return undefined;
      }
    },

    async discard(id: string | undefined): Promise<void> {
      if (id && ID_PATTERN.test(id)) await deps.hot.delete(key(id));
    },
  };
}
