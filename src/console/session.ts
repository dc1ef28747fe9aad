import { createHotSessions, type HotSessionDeps } from '../portal/session.ts';

export type ConsoleSession = {
  accountId: string;
  idToken: string;
  acr: string;
  csrf: string;
  /** Epoch seconds of the login that opened this console session. */
  createdAt: number;
};

/** Console sessions in the shared hot store: idle limit extended by each use, absolute limit from the login. */
export function createConsoleSessions(deps: HotSessionDeps) {
  const { create, touch, take } = createHotSessions<ConsoleSession, Omit<ConsoleSession, 'csrf' | 'createdAt'>>({ ...deps, keyPrefix: 'console:' });
  return { create, touch, end: take };
}

export type ConsoleSessions = ReturnType<typeof createConsoleSessions>;
