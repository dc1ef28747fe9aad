import { randomBytes } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import type { HotStore } from '../../cache/hot-store.ts';
import { CertificateLoginError } from './errors.ts';

const HAND_OVER_SECONDS = 60;

const familyOf = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/**
 * Certificates whose key a TLS handshake proved: handed over from our TLS listener to the interaction on the
 * main origin through a single-use token bound to the interaction, or forwarded by a TLS-terminating proxy
 * in a header that counts only when the connection comes from a configured proxy address.
 */
export function createPresentedCertificates(deps: { hot: HotStore; proxy?: { header: string; addresses: readonly string[] } }) {
  // A BlockList compares addresses, not spellings: `::1` matches `0:0:0:0:0:0:0:1`, `::ffff:10.0.0.5` matches `10.0.0.5`.
  const proxies = new BlockList();
  for (const address of deps.proxy?.addresses ?? []) if (isIP(address)) proxies.addAddress(address, familyOf(address));

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
      const peer = request.raw.socket.remoteAddress ?? '';
      if (!deps.proxy || isIP(peer) === 0 || !proxies.check(peer, familyOf(peer))) {
        throw new CertificateLoginError('proxy_not_allowed', 'Client certificates are accepted in a header only from the configured proxies.');
      }
      // Node joins repeated headers with ", ": a copy sent by the client that a proxy appended to instead of
      // replacing would otherwise put the client's certificate first.
      const values = request.raw.headersDistinct[deps.proxy.header] ?? [];
      if (values.length > 1) throw new CertificateLoginError('malformed_certificate', 'The client-certificate header was sent more than once.');
      const text = values[0];
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
