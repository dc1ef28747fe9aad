import { createNonceCache, verifySignedRequest } from '../signed-http.ts';
import type { SignatureError } from '../signed-http.ts';
import { parseFaceFinalResult } from './result.ts';
import type { FaceFinalResult } from './types.ts';

export type FaceCallbackVerdict = { ok: true; result: FaceFinalResult } | { ok: false; error: SignatureError | 'invalid_request' };

export type FaceCallbackVerifier = {
  /** `path` is the request target as received (path plus query); `rawBody` the exact bytes received. */
  verify(request: {
    method: string;
    path: string;
    headers: Readonly<Record<string, string | string[] | undefined>>;
    rawBody: string | Uint8Array;
  }): FaceCallbackVerdict;
};

/**
 * Checks a vendor callback (protocol in types.ts): signature with the vendor's credentials, clock window, replay,
 * then the body shape. It does not judge the outcome: the caller compares the nonce with the one it issued and
 * applies its score threshold. Keep one verifier per process, since it holds the nonce cache.
 */
export function createFaceCallbackVerifier(options: { vendorAppId: string; vendorSecret: string; now?: () => number }): FaceCallbackVerifier {
  if (!options.vendorAppId || !options.vendorSecret) throw new Error('the face callback verifier needs the vendor app id and secret');
  const nonces = createNonceCache();
  const secretFor = (appId: string) => (appId === options.vendorAppId ? options.vendorSecret : undefined);
  return {
    verify(request) {
      const verdict = verifySignedRequest({
        method: request.method,
        path: request.path,
        headers: request.headers,
        body: request.rawBody,
        secretFor,
        nonces,
        now: options.now,
      });
      if (!verdict.ok) return verdict;

      const contentType = request.headers['content-type'];
      if (typeof contentType !== 'string' || contentType.split(';')[0].trim().toLowerCase() !== 'application/json') {
        return { ok: false, error: 'invalid_request' };
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(typeof request.rawBody === 'string' ? request.rawBody : Buffer.from(request.rawBody).toString('utf8'));
      } catch {
        return { ok: false, error: 'invalid_request' };
      }
      const result = parseFaceFinalResult(parsed);
      return result === undefined ? { ok: false, error: 'invalid_request' } : { ok: true, result };
    },
  };
}
