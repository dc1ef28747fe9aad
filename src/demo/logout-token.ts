import { errors, jwtVerify } from 'jose';
import type { JWTVerifyGetKey } from 'jose';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

const MAX_TOKEN_AGE_SECONDS = 300;
const CLOCK_TOLERANCE_SECONDS = 60;
// A jti only has to be remembered while a token carrying it could still pass the iat age check.
const REPLAY_WINDOW_MS = (MAX_TOKEN_AGE_SECONDS + 2 * CLOCK_TOLERANCE_SECONDS) * 1000;
const MAX_REMEMBERED_JTIS = 10_000;

export type LogoutTokenSubject = { sid?: string; sub?: string };

export class LogoutTokenError extends Error {}

export type LogoutTokenVerifierOptions = {
  issuer: () => Promise<string>;
  audience: string;
  keys: () => Promise<JWTVerifyGetKey>;
  now?: () => number;
};

/** OpenID Connect Back-Channel Logout 1.0, section 2.6 validation, with a per-verifier jti replay cache. */
export function createLogoutTokenVerifier(options: LogoutTokenVerifierOptions) {
  const now = options.now ?? Date.now;
  const seen = new Map<string, number>();

  function rememberJti(key: string) {
    const at = now();
    for (const [jti, expiresAt] of seen) {
      if (expiresAt > at && seen.size < MAX_REMEMBERED_JTIS) break;
      seen.delete(jti);
    }
    seen.delete(key);
    seen.set(key, at + REPLAY_WINDOW_MS);
  }

  return async function verifyLogoutToken(token: string): Promise<LogoutTokenSubject> {
    const [issuer, keys] = await Promise.all([options.issuer(), options.keys()]);
    let payload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer,
        audience: options.audience,
        typ: 'logout+jwt',
        requiredClaims: ['iat', 'jti'],
        maxTokenAge: MAX_TOKEN_AGE_SECONDS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(now()),
      }));
    } catch (error) {
      if (error instanceof errors.JOSEError) throw new LogoutTokenError(`logout_token rejected: ${error.message}`);
      throw error;
    }

    const events = payload.events;
    if (typeof events !== 'object' || events === null || Array.isArray(events)) throw new LogoutTokenError('logout_token has no events claim');
    const event = (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT];
    if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new LogoutTokenError('logout_token events claim lacks the back-channel logout event');
    if ('nonce' in payload) throw new LogoutTokenError('logout_token must not contain a nonce');
    const { sid, sub } = payload as { sid?: unknown; sub?: unknown };
    if (sid !== undefined && typeof sid !== 'string') throw new LogoutTokenError('logout_token sid must be a string');
    if (sub !== undefined && typeof sub !== 'string') throw new LogoutTokenError('logout_token sub must be a string');
    if (!sid && !sub) throw new LogoutTokenError('logout_token must contain sid or sub');

    if (typeof payload.jti !== 'string' || payload.jti === '') throw new LogoutTokenError('logout_token jti must be a non-empty string');
    const replayKey = `${issuer} ${payload.jti}`;
    const rememberedUntil = seen.get(replayKey);
    if (rememberedUntil !== undefined && rememberedUntil > now()) throw new LogoutTokenError('logout_token jti was already used');
    rememberJti(replayKey);

    return { ...(sid ? { sid } : {}), ...(sub ? { sub } : {}) };
  };
}
