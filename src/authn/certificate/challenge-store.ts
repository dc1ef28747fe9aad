import { randomBytes } from 'node:crypto';
import type { HotStore } from '../../cache/hot-store.ts';
import { CertificateLoginError } from './errors.ts';

const HEADER = 'GOV-IDP-CERT-LOGIN/1';

/**
 * Login challenges: a server nonce bound to one interaction, signed by the holder's key (USB-key middleware
 * or browser extension). The signed text names the issuer and the interaction, so a signature made for
 * another site or another login is useless; each nonce is taken once, so a signature cannot be replayed.
 */
export function createChallengeStore(deps: { hot: HotStore; issuer: string; ttlSeconds: number; clock: () => Date }) {
  const key = (uid: string, nonce: string) => `certch:${uid}:${nonce}`;

  return {
    async issue(uid: string): Promise<{ challenge: string; expiresAt: Date }> {
      const nonce = randomBytes(32).toString('base64url');
      const expiresAt = new Date(deps.clock().getTime() + deps.ttlSeconds * 1000);
      await deps.hot.set(key(uid, nonce), '1', deps.ttlSeconds);
      const challenge = [HEADER, `issuer=${deps.issuer}`, `interaction=${uid}`, `nonce=${nonce}`, `expires=${expiresAt.toISOString()}`].join('\n');
      return { challenge, expiresAt };
    },

    /** Checks that the challenge is ours and for this interaction, and uses it up. */
    async consume(uid: string, challenge: string): Promise<void> {
      const lines = challenge.replace(/\r\n/g, '\n').split('\n');
      const fields = new Map(lines.slice(1).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
      const nonce = fields.get('nonce');
      if (lines[0] !== HEADER || !nonce || !/^[A-Za-z0-9_-]{43}$/.test(nonce)) {
        throw new CertificateLoginError('challenge_mismatch', 'This is not a sign-in challenge of this server.');
      }
      if (fields.get('issuer') !== deps.issuer || fields.get('interaction') !== uid) {
        throw new CertificateLoginError('challenge_mismatch', 'The challenge was issued for another sign-in.');
      }
      if ((await deps.hot.take(key(uid, nonce))) === null) {
        throw new CertificateLoginError('challenge_unknown', 'The challenge expired or was already used.');
      }
    },
  };
}

export type ChallengeStore = ReturnType<typeof createChallengeStore>;
