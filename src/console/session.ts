import { randomBytes } from 'node:crypto';
import type { HotStore } from '../cache/hot-store.ts';

export type ConsoleSession = {
  accountId: string;
  idToken: string;
  acr: string;
  csrf: string;
  /** Epoch seconds of the login that opened this console session. */
  createdAt: number;
};

const KEY_PREFIX = 'console:';
const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/**
 * Console sessions live in the shared hot store, so any node can serve them. Each use extends the idle
 * limit; the absolute limit counts from the login and is never extended.
 */
export function createConsoleSessions(deps: { hot: HotStore; idleSeconds: number; absoluteSeconds: number; now: () => number }) {
  const key = (id: string) => `${KEY_PREFIX}${id}`;

  return {
    async create(data: Omit<ConsoleSession, 'csrf' | 'createdAt'>): Promise<{ id: string; session: ConsoleSession }> {
      const id = randomBytes(32).toString('base64url');
      const session: ConsoleSession = { ...data, csrf: randomBytes(32).toString('base64url'), createdAt: deps.now() };
      await deps.hot.set(key(id), JSON.stringify(session), deps.idleSeconds);
      return { id, session };
    },

    /** The session, with its idle timer restarted; undefined when unknown, idle too long or past the absolute limit. */
    async touch(id: string | undefined): Promise<ConsoleSession | undefined> {
      if (!id || !ID_PATTERN.test(id)) return undefined;
      const raw = await deps.hot.get(key(id));
      if (!raw) return undefined;
      let session: ConsoleSession;
      try {
        session = JSON.parse(raw) as ConsoleSession;
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

    async end(id: string | undefined): Promise<ConsoleSession | undefined> {
      if (!id || !ID_PATTERN.test(id)) return undefined;
      const raw = await deps.hot.take(key(id));
      if (!raw) return undefined;
      try {
        return JSON.parse(raw) as ConsoleSession;
      } catch {
        return undefined;
      }
    },
  };
}

export type ConsoleSessions = ReturnType<typeof createConsoleSessions>;
