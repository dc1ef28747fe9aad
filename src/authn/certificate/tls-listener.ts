import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { TLSSocket, DetailedPeerCertificate } from 'node:tls';
import { toPem } from '../../pki/certificate.ts';
import type { RateLimiter } from '../../cache/rate-limiter.ts';
import type { PresentedCertificates } from './presented-certificates.ts';
import type { TrustSource } from './types.ts';

const PATH = /^\/interaction\/([A-Za-z0-9_-]{10,64})\/certificate\/tls$/;
const CA_REFRESH_MS = 30_000;
const MAX_CHAIN_BYTES = 64 * 1024;
/** Its pages carry no script, style or frame, and the hand-over token must not be cached or leave in a Referer. */
const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** The client's certificate and the chain it sent, leaf first, as DER. */
function peerChain(socket: TLSSocket): Uint8Array[] {
  const chain: Uint8Array[] = [];
  let current = socket.getPeerCertificate(true) as DetailedPeerCertificate | Record<string, never>;
  const seen = new Set<string>();
  while (current && 'raw' in current && current.raw && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256);
    chain.push(new Uint8Array(current.raw));
    current = current.issuerCertificate;
  }
  return chain;
}

/**
 * The dedicated HTTPS listener for TLS client certificates (RSA/ECDSA: Node's TLS stack has no SM2). It asks
 * for a certificate naming the registered CAs, accepts whatever the browser sends (the chain is validated by
 * our own validator, not OpenSSL's), parks it and sends the browser back to the interaction on the issuer.
 */
export async function startCertificateTlsListener(deps: {
  host: string;
  port: number;
  keyFile: string;
  certFile: string;
  issuer: string;
  presented: PresentedCertificates;
  trust: TrustSource;
  /** Every hand-over is a hot-store write: bounded per address, and in size. */
  limiter: RateLimiter;
  perIpPerMinute: number;
  maxChainLength: number;
}): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const key = readFileSync(deps.keyFile);
  const cert = readFileSync(deps.certFile);
  // Browsers offer only certificates whose issuers the server names; Node's TLS cannot load SM2 anchors.
  const acceptedCas = async () => (await deps.trust.current()).anchors.filter((a) => a.keyAlgorithm !== 'sm2').map((a) => toPem(a.der));
  const options = async () => {
    const ca = await acceptedCas();
    return { key, cert, requestCert: true, rejectUnauthorized: false, ...(ca.length ? { ca } : {}) };
  };

  const page = (status: number, text: string) => `<!doctype html><html lang="en"><meta charset="utf-8"><title>${status}</title><p>${text}</p></html>`;
  const send = (response: ServerResponse, status: number, headers: Record<string, string>, body?: string) =>
    response.writeHead(status, { ...SECURITY_HEADERS, ...headers }).end(body);
  const server = createServer(await options(), (request, response) => {
    void (async () => {
      const match = PATH.exec((request.url ?? '').split('?')[0]);
      if (request.method !== 'GET' || !match) {
        send(response, 404, { 'content-type': 'text/html; charset=utf-8' }, page(404, 'Not found.'));
        return;
      }
      const uid = match[1];
      // Even an empty chain is handed over: the interaction then says, in the person's language and in the audit
      // trail, that no certificate was presented.
      const decision = await deps.limiter.hit({ name: 'cert-tls-ip', limit: deps.perIpPerMinute, windowSeconds: 60 }, request.socket.remoteAddress ?? 'unknown');
      if (!decision.allowed) {
        send(response, 429, { 'content-type': 'text/html; charset=utf-8', 'retry-after': String(decision.retryAfterSeconds) }, page(429, 'Too many attempts. Please wait before trying again.'));
        return;
      }
      const chain = peerChain(request.socket as TLSSocket);
      if (chain.length > deps.maxChainLength || chain.reduce((total, der) => total + der.byteLength, 0) > MAX_CHAIN_BYTES) {
        send(response, 400, { 'content-type': 'text/html; charset=utf-8' }, page(400, 'The certificate chain is too long.'));
        return;
      }
      const token = await deps.presented.park(uid, chain);
      send(response, 303, { location: `${deps.issuer}/interaction/${uid}/certificate/tls-return?token=${token}` });
    })().catch(() => {
      if (response.headersSent) response.end();
      else send(response, 500, { 'content-type': 'text/html; charset=utf-8' }, page(500, 'Server error.'));
    });
  });

  const refresh = setInterval(() => {
    options().then((o) => server.setSecureContext(o), () => undefined);
  }, CA_REFRESH_MS);
  refresh.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.port, deps.host, () => resolve());
  });
  const address = server.address();
  return {
    server,
    port: typeof address === 'object' && address ? address.port : deps.port,
    close: () => new Promise<void>((resolve) => {
      clearInterval(refresh);
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
