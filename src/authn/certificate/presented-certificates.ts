import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { HotStore } from '../../cache/hot-store.ts';
import { CertificateLoginError } from './errors.ts';
import { createProxyCertificateReader } from './proxy-certificate.ts';

const HAND_OVER_SECONDS = 60;

/**
 * Certificates whose key a TLS handshake proved: handed over from our TLS listener to the interaction on the
 * main origin through a single-use token bound to the interaction, or forwarded by a TLS-terminating proxy
 * in a header that counts only when the connection comes from a configured proxy address.
 */
export function createPresentedCertificates(deps: { hot: HotStore; proxy?: { header: string; addresses: readonly string[] } }) {
  const readProxyCertificate = createProxyCertificateReader(deps.proxy);

  return {
    async park(uid: string, chain: readonly Uint8Array[]): Promise<string> {
      const token = randomBytes(24).toString('base64url');
      await deps.hot.set(`certtls:${token}`, JSON.stringify({ uid, chain: chain.map((der) => Buffer.from(der).toString('base64')) }), HAND_OVER_SECONDS);
      return token;
    },

    async take(token: string, uid: string): Promise<string[]> {
      const raw = await deps.hot.take(`certtls:${token}`);
      const parked = raw ? JSON.parse(raw) as { uid: string; chain: string[] } : undefined;
      if (!parked || parked.uid !== uid) throw new CertificateLoginError('challenge_unknown', 'The certificate hand-over expired, was already used or belongs to another sign-in.');
      return parked.chain;
    },

    /** The proxy sends the URL-encoded PEM (nginx `$ssl_client_escaped_cert`), optionally followed by its chain. */
    fromProxy(request: FastifyRequest): string[] {
      const forwarded = readProxyCertificate(request.raw);
      if (!forwarded.ok) throw new CertificateLoginError(forwarded.refusal, forwarded.message);
      return forwarded.pem;
    },
  };
}

export type PresentedCertificates = ReturnType<typeof createPresentedCertificates>;
