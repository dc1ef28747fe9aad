import { createHash, randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { installGmEngine } from '../gm-engine.ts';
import type { ParsedCertificate } from '../types.ts';
import type { RevocationAnswer } from './crl-cache.ts';
import { fetchBytes } from './http-fetch.ts';
import { OCSP_OID, verifyOcspResponse } from './ocsp-response.ts';
import { RevocationSourceError } from './revocation-error.ts';
import { serialHex } from './revocation-names.ts';

/** CertID hash: SHA-1 is what every responder understands; some SM2 responders want SM3 (GM engine digest). */
export type OcspCertIdHash = 'SHA-1' | 'SHA-256' | 'SM3';

export const DEFAULT_MAX_OCSP_BYTES = 256 * 1024;

export type OcspClientOptions = {
  clock?: () => Date;
  /** Refuse responses without our nonce (default true). Cached answers are reused without a new nonce. */
  requireNonce?: boolean;
  maxBytes?: number;
  skewMs?: number;
  /** How long an answer without nextUpdate is cached. */
  maxCacheMsWithoutNextUpdate?: number;
};

export type OcspQuery = {
  url: string;
  certificate: ParsedCertificate;
  issuer: ParsedCertificate;
  hash?: OcspCertIdHash;
  signal: AbortSignal;
};

export type OcspClient = {
  /** The certificate's status from the responder at `url`, or from the cache. Throws RevocationSourceError. */
  query(query: OcspQuery): Promise<RevocationAnswer>;
  /** A cached good/revoked answer still within its nextUpdate, without network access. */
  cached(certificate: ParsedCertificate, issuer: ParsedCertificate): RevocationAnswer | undefined;
};

export type BuiltOcspRequest = { der: Uint8Array; certId: pkijs.CertID; nonce: Uint8Array };

/** An unsigned OCSPRequest for one certificate, with a fresh 32-byte nonce (RFC 8954). */
export async function buildOcspRequest(certificate: ParsedCertificate, issuer: ParsedCertificate, hash: OcspCertIdHash = 'SHA-1'): Promise<BuiltOcspRequest> {
  installGmEngine();
  const certId = await pkijs.CertID.create(certificate.pkijs, { hashAlgorithm: hash, issuerCertificate: issuer.pkijs });
  const nonce = new Uint8Array(new asn1js.OctetString({ valueHex: randomBytes(32) }).toBER(false));
  const request = new pkijs.OCSPRequest();
  request.tbsRequest.requestList = [new pkijs.Request({ reqCert: certId })];
  request.tbsRequest.requestExtensions = [new pkijs.Extension({ extnID: OCSP_OID.NONCE, extnValue: nonce.buffer as ArrayBuffer })];
  return { der: new Uint8Array(request.toSchema(true).toBER(false)), certId, nonce };
}

export function createOcspClient(options: OcspClientOptions = {}): OcspClient {
  installGmEngine();
  const clock = options.clock ?? (() => new Date());
  const requireNonce = options.requireNonce ?? true;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_OCSP_BYTES;
  const skewMs = options.skewMs ?? 5 * 60_000;
  const maxCacheMs = options.maxCacheMsWithoutNextUpdate ?? 5 * 60_000;
  const cache = new Map<string, { answer: RevocationAnswer; expiresAt: number }>();

  // Any responder's authenticated answer about (issuing key, serial) is equally valid, so the URL is not in the key.
  const keyOf = (certificate: ParsedCertificate, issuer: ParsedCertificate) => {
    const issuerKeyHash = createHash('sha256').update(issuer.pkijs.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView).digest('hex');
    return `${issuerKeyHash} ${serialHex(certificate.pkijs.serialNumber)}`;
  };

  function cached(certificate: ParsedCertificate, issuer: ParsedCertificate): RevocationAnswer | undefined {
    const key = keyOf(certificate, issuer);
    const entry = cache.get(key);
    if (!entry) return undefined;
    if (clock().getTime() >= entry.expiresAt) {
      cache.delete(key);
      return undefined;
    }
    return entry.answer;
  }

  return {
    cached,

    async query({ url, certificate, issuer, hash, signal }) {
      const hit = cached(certificate, issuer);
      if (hit) return hit;
      if (!certificate.pkijs.issuer.isEqual(issuer.pkijs.subject)) {
        throw new RevocationSourceError('wrong_issuer', `"${certificate.subject}" was not issued by "${issuer.subject}"`);
      }
      const request = await buildOcspRequest(certificate, issuer, hash);
      const bytes = await fetchBytes(url, {
        maxBytes, signal, accept: 'application/ocsp-response', body: { contentType: 'application/ocsp-request', bytes: request.der },
      });
      const now = clock();
      const verified = await verifyOcspResponse(bytes, { certId: request.certId, issuer, nonce: request.nonce, requireNonce, now, skewMs });
      const answer: RevocationAnswer = verified.status === 'good'
        ? { status: 'good' }
        : { status: 'revoked', revokedAt: verified.revokedAt, reason: verified.reason };
      cache.set(keyOf(certificate, issuer), { answer, expiresAt: verified.nextUpdate?.getTime() ?? now.getTime() + maxCacheMs });
      return answer;
    },
  };
}
