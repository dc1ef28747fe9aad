import type { ParsedCertificate, RevocationStatus } from '../types.ts';
import { createCrlCache, type RevocationAnswer } from './crl-cache.ts';
import { createOcspClient, type OcspCertIdHash } from './ocsp-client.ts';
import { asSourceError } from './revocation-error.ts';

export type RevocationCheckerOptions = {
  /** The whole check (every source, fallbacks included) never takes longer than this. */
  timeoutMs: number;
  clock?: () => Date;
  /** Refuse OCSP responses that do not echo our nonce (default true). */
  requireOcspNonce?: boolean;
  maxCrlBytes?: number;
  maxOcspBytes?: number;
};

export type RevocationCheckInput = {
  certificate: ParsedCertificate;
  issuer: ParsedCertificate;
  ocspUrls: readonly string[];
  crlUrls: readonly string[];
  prefer?: 'ocsp' | 'crl';
  /** CertID hash for the OCSP request (default SHA-1; SM3 for SM2 responders that want it). */
  ocspHash?: OcspCertIdHash;
};

export type RevocationChecker = {
  /** The certificate's revocation status; `unknown` (with the reason of every source) when no source could answer in time. */
  check(input: RevocationCheckInput): Promise<RevocationStatus>;
};

/** A certificate listing more URLs than this is unusual; the rest are ignored to bound the work. */
const MAX_URLS_PER_KIND = 4;

type Source = {
  kind: 'ocsp' | 'crl';
  url: string;
  cached(): RevocationAnswer | undefined;
  fetch(signal: AbortSignal): Promise<RevocationAnswer>;
};

const unique = (urls: readonly string[]) => [...new Set(urls)].slice(0, MAX_URLS_PER_KIND);

export function createRevocationChecker(options: RevocationCheckerOptions): RevocationChecker {
  const clock = options.clock ?? (() => new Date());
  const crls = createCrlCache({ clock, maxBytes: options.maxCrlBytes });
  const ocsp = createOcspClient({ clock, requireNonce: options.requireOcspNonce ?? true, maxBytes: options.maxOcspBytes });

  function sourcesFor(input: RevocationCheckInput): Source[] {
    const { certificate, issuer } = input;
    const ocspSources: Source[] = unique(input.ocspUrls).map((url) => ({
      kind: 'ocsp', url,
      cached: () => ocsp.cached(certificate, issuer),
      fetch: (signal) => ocsp.query({ url, certificate, issuer, hash: input.ocspHash, signal }),
    }));
    const crlSources: Source[] = unique(input.crlUrls).map((url) => ({
      kind: 'crl', url,
      cached: () => crls.cached(url, certificate, issuer),
      fetch: (signal) => crls.lookup(url, certificate, issuer, signal),
    }));
    return input.prefer === 'crl' ? [...crlSources, ...ocspSources] : [...ocspSources, ...crlSources];
  }

  const status = (source: Source, answer: RevocationAnswer): RevocationStatus => answer.status === 'good'
    ? { status: 'good', source: source.kind, checkedAt: clock() }
    : { status: 'revoked', source: source.kind, revokedAt: answer.revokedAt, reason: answer.reason };

  return {
    async check(input) {
      if (!input.certificate.pkijs.issuer.isEqual(input.issuer.pkijs.subject)) {
        return { status: 'unknown', reason: `"${input.issuer.subject}" is not the issuer of "${input.certificate.subject}"` };
      }
      const sources = sourcesFor(input);
      if (sources.length === 0) return { status: 'unknown', reason: 'the certificate names no OCSP responder and no CRL distribution point' };

      for (const source of sources) {
        try {
          const hit = source.cached();
          if (hit) return status(source, hit);
        } catch {
          // A cached CRL out of scope for this certificate: the network path reports why.
        }
      }

      const deadline = performance.now() + options.timeoutMs;
      const budget = new AbortController();
      const failures: string[] = [];
      let current: Source | undefined;

      const attempts = (async (): Promise<RevocationStatus> => {
        for (const [index, source] of sources.entries()) {
          if (budget.signal.aborted) break;
          // Each source may use an equal share of what is left, so a silent responder leaves time for the fallbacks.
          const shareMs = Math.max(1, Math.floor((deadline - performance.now()) / (sources.length - index)));
          const signal = AbortSignal.any([budget.signal, AbortSignal.timeout(shareMs)]);
          current = source;
          try {
            return status(source, await source.fetch(signal));
          } catch (error) {
            const failure = asSourceError(error, signal);
            const detail = failure.code === 'timeout' ? `no answer within ${shareMs} ms` : failure.message;
            failures.push(`${source.kind} ${source.url}: ${failure.code} (${detail})`);
          }
        }
        return { status: 'unknown', reason: failures.join('; ') };
      })();

      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<RevocationStatus>((resolve) => {
        timer = setTimeout(() => {
          // Same shape as a source's own failure, whichever timer fired first.
          const last = current ? `${current.kind} ${current.url}: timeout` : 'timeout';
          resolve({ status: 'unknown', reason: [...failures, `${last} (the ${options.timeoutMs} ms budget ran out)`].join('; ') });
        }, options.timeoutMs);
      });
      try {
        return await Promise.race([attempts, timedOut]);
      } finally {
        clearTimeout(timer);
        budget.abort();
      }
    },
  };
}

/** One line for the audit log. */
export function describeRevocation(status: RevocationStatus): string {
  switch (status.status) {
    case 'good':
      return `not revoked (${status.source}, checked ${status.checkedAt.toISOString()})`;
    case 'revoked':
      return `revoked (${status.source}${status.revokedAt ? `, since ${status.revokedAt.toISOString()}` : ''}${status.reason ? `, ${status.reason}` : ''})`;
    case 'unknown':
      return `revocation status unknown: ${status.reason}`;
  }
}
