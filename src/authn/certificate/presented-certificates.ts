import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import type { HotStore } from '../../cache/hot-store.ts';
import { CertificateLoginError } from './errors.ts';

const HAND_OVER_SECONDS = 60;

const normaliseAddress = (address: string | undefined) => (address ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');

/**
 * Certificates whose key a TLS handshake proved: handed over from our TLS listener to the interaction on the
 * main origin through a single-use token bound to the interaction, or forwarded by a TLS-terminating proxy
 * in a header that counts only when the connection comes from a configured proxy address.
 */
export function createPresentedCertificates(deps: { hot: HotStore; proxy?: { header: string; addresses: readonly string[] } }) {
  const proxies = new Set((deps.proxy?.addresses ?? []).map((a) => normaliseAddress(a)));

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
      // The socket's peer, not X-Forwarded-For: only the proxy itself may vouch for a certificate.
      const peer = normaliseAddress(request.raw.socket.remoteAddress);
      if (!deps.proxy || isIP(peer) === 0 || !proxies.has(peer)) {
        throw new CertificateLoginError('proxy_not_allowed', 'Client certificates are accepted in a header only from the configured proxies.');
      }
      const value = request.headers[deps.proxy.header];
      const text = Array.isArray(value) ? value[0] : value;
      if (!text) throw new CertificateLoginError('empty_chain', 'The proxy forwarded no client certificate.');
      let decoded: string;
      try {
        decoded = decodeURIComponent(text);
      } catch {
        throw new CertificateLoginError('malformed_certificate', 'The forwarded certificate is not URL-encoded PEM.');
      }
      const blocks = decoded.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
      if (!blocks) throw new CertificateLoginError('malformed_certificate', 'The forwarded certificate is not PEM.');
      return blocks;
    },
  };
}

export type PresentedCertificates = ReturnType<typeof createPresentedCertificates>;
