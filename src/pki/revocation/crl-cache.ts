import type { ParsedCertificate } from '../types.ts';
import { installGmEngine } from '../gm-engine.ts';
import { checkCurrent, lookupCrl, parseCrl, verifyCrl, type VerifiedCrl } from './crl-document.ts';
import { fetchBytes } from './http-fetch.ts';
import { createSingleFlight } from './single-flight.ts';

export const DEFAULT_MAX_CRL_BYTES = 10 * 1024 * 1024;

export type CrlCacheOptions = {
  clock?: () => Date;
  maxBytes?: number;
  /** Tolerated clock difference for thisUpdate in the future. */
  skewMs?: number;
  /** How long a CRL without nextUpdate is kept (RFC 5280 requires nextUpdate; some CAs omit it). */
  maxAgeWithoutNextUpdateMs?: number;
};

export type RevocationAnswer =
  | { status: 'good' }
  | { status: 'revoked'; revokedAt: Date; reason?: string };

export type CrlCache = {
  /** The certificate's status from a current CRL at `url`: cached, or downloaded and verified now. Throws RevocationSourceError. */
  lookup(url: string, certificate: ParsedCertificate, issuer: ParsedCertificate, signal: AbortSignal): Promise<RevocationAnswer>;
  /** The status from a cached, still current CRL without any network access; undefined when there is none. */
  cached(url: string, certificate: ParsedCertificate, issuer: ParsedCertificate): RevocationAnswer | undefined;
};

type CacheEntry = { crl: VerifiedCrl; expiresAt: number };

function answer(crl: VerifiedCrl, certificate: ParsedCertificate): RevocationAnswer {
  const entry = lookupCrl(crl, certificate);
  return entry ? { status: 'revoked', revokedAt: entry.revokedAt, reason: entry.reason } : { status: 'good' };
}

/**
 * In-process CRL cache. A CRL is kept per (URL, issuing CA) until its nextUpdate and never used after it;
 * concurrent lookups of a URL not in the cache share one download. Failures are not cached.
 */
export function createCrlCache(options: CrlCacheOptions = {}): CrlCache {
  installGmEngine();
  const clock = options.clock ?? (() => new Date());
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_CRL_BYTES;
  const skewMs = options.skewMs ?? 5 * 60_000;
  const maxAgeWithoutNextUpdateMs = options.maxAgeWithoutNextUpdateMs ?? 5 * 60_000;
  const entries = new Map<string, CacheEntry>();
  const join = createSingleFlight<VerifiedCrl>();
  // The issuer is part of the key: a URL put into a certificate of another CA must not reuse this CA's CRL.
  const keyOf = (url: string, issuer: ParsedCertificate) => `${issuer.fingerprint} ${url}`;

  function current(key: string): VerifiedCrl | undefined {
    const entry = entries.get(key);
    if (!entry) return undefined;
    const now = clock();
    if (now.getTime() >= entry.expiresAt) {
      entries.delete(key);
      return undefined;
    }
    try {
      checkCurrent(entry.crl, now, skewMs);
      return entry.crl;
    } catch {
      entries.delete(key);
      return undefined;
    }
  }

  async function download(url: string, issuer: ParsedCertificate, signal: AbortSignal): Promise<VerifiedCrl> {
    const bytes = await fetchBytes(url, { maxBytes, signal, accept: 'application/pkix-crl, application/x-pkcs7-crl;q=0.9, */*;q=0.5' });
    const crl = await verifyCrl(parseCrl(bytes), issuer, clock(), skewMs);
    const expiresAt = crl.nextUpdate?.getTime() ?? clock().getTime() + maxAgeWithoutNextUpdateMs;
    entries.set(keyOf(url, issuer), { crl, expiresAt });
    return crl;
  }

  return {
    cached(url, certificate, issuer) {
      const crl = current(keyOf(url, issuer));
      if (!crl) return undefined;
      try {
        return answer(crl, certificate);
      } catch {
        return undefined;
      }
    },

    async lookup(url, certificate, issuer, signal) {
      const key = keyOf(url, issuer);
      const crl = current(key) ?? await join(key, signal, (shared) => download(url, issuer, shared));
      return answer(crl, certificate);
    },
  };
}
