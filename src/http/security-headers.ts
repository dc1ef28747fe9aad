import type { FastifyReply } from 'fastify';

/**
 * Strict CSP for our server-rendered pages: no scripts at all, styles from our origin only, no framing
 * (clickjacking on login and consent). `form-action` is deliberately absent: browsers apply it to the
 * redirect chain after a form POST, which would block the final redirect to a relying party's origin.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "style-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function applyPageSecurityHeaders(reply: FastifyReply) {
  reply.header('content-security-policy', PAGE_CSP);
  reply.header('x-frame-options', 'DENY');
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('cache-control', 'no-store');
  reply.header('cross-origin-opener-policy', 'same-origin');
}
