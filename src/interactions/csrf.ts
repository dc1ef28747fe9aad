import { createHmac, randomBytes } from 'node:crypto';
import type { DataProtector } from '../identity/data-protection.ts';

/**
 * Synchroniser token bound to the browser (a random cookie) and to the interaction: a form posted from
 * another site, or replayed into another login, fails. Compared in constant time.
 */
export function createCsrf(options: { secret: string; secure: boolean; protector: DataProtector }) {
  const cookieName = options.secure ? '__Host-idp_csrf' : 'idp_csrf';
  const tokenFor = (browserNonce: string, uid: string) =>
    createHmac('sha256', options.secret).update(`${browserNonce}\u0000${uid}`).digest('base64url');
  return {
    cookieName,
    cookieOptions: { httpOnly: true, secure: options.secure, sameSite: 'lax' as const, path: '/' },
    newBrowserNonce: () => randomBytes(24).toString('base64url'),
    tokenFor,
    isValid(browserNonce: string | undefined, uid: string, token: unknown): boolean {
      if (!browserNonce || typeof token !== 'string') return false;
      return options.protector.equalSecret(tokenFor(browserNonce, uid), token);
    },
  };
}

export type Csrf = ReturnType<typeof createCsrf>;
