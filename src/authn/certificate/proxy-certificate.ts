import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { splitPemCertificates } from '../../pki/certificate.ts';

export const ipFamily = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

export type ProxyCertificate =
  | { ok: true; pem: string[] }
  | { ok: false; refusal: 'proxy_not_allowed' | 'empty_chain' | 'malformed_certificate'; message: string };

/**
 * The client certificate a TLS-terminating proxy forwards (URL-encoded PEM, nginx `$ssl_client_escaped_cert`,
 * optionally followed by its chain). It counts only on a connection from a configured proxy address; used by
 * certificate login and by mutual-TLS client authentication alike.
 */
export function createProxyCertificateReader(proxy: { header: string; addresses: readonly string[] } | undefined) {
  // A BlockList compares addresses, not spellings: `::1` matches `0:0:0:0:0:0:0:1`, `::ffff:10.0.0.5` matches `10.0.0.5`.
  const proxies = new BlockList();
  for (const address of proxy?.addresses ?? []) if (isIP(address)) proxies.addAddress(address, ipFamily(address));

  return function read(req: IncomingMessage): ProxyCertificate {
    // The socket's peer, not X-Forwarded-For: only the proxy itself may vouch for a certificate.
    const peer = req.socket.remoteAddress ?? '';
    if (!proxy || isIP(peer) === 0 || !proxies.check(peer, ipFamily(peer))) {
      return { ok: false, refusal: 'proxy_not_allowed', message: 'Client certificates are accepted in a header only from the configured proxies.' };
    }
    // Node joins repeated headers with ", ": a copy sent by the client that a proxy appended to instead of
    // replacing would otherwise put the client's certificate first.
    const values = req.headersDistinct[proxy.header] ?? [];
    if (values.length > 1) return { ok: false, refusal: 'malformed_certificate', message: 'The client-certificate header was sent more than once.' };
    if (!values[0]) return { ok: false, refusal: 'empty_chain', message: 'The proxy forwarded no client certificate.' };
    let decoded: string;
    try {
      decoded = decodeURIComponent(values[0]);
    } catch {
      return { ok: false, refusal: 'malformed_certificate', message: 'The forwarded certificate is not URL-encoded PEM.' };
    }
    const pem = splitPemCertificates(decoded);
    if (pem.length === 0) return { ok: false, refusal: 'malformed_certificate', message: 'The forwarded certificate is not PEM.' };
    return { ok: true, pem };
  };
}
