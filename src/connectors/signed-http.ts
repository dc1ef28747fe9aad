/**
 * Signed JSON-over-HTTPS protocol spoken by the SMS gateway and the population register, and by the sandboxes
 * that stand in for them in development and tests.
 *
 * Every call is a POST with a JSON body (`content-type: application/json`) and four headers:
 *
 *   X-App-Id     the caller's application id
 *   X-Timestamp  unix time in seconds (decimal)
 *   X-Nonce      16 random bytes as 32 lowercase hex characters, never reused
 *   X-Signature  base64url (no padding) of HMAC-SHA256(secret, canonical), where
 *                canonical = METHOD + "\n" + PATH + "\n" + TIMESTAMP + "\n" + NONCE + "\n" + hex(SHA-256(body bytes))
 *
 * METHOD is upper case; PATH is the request target as sent on the wire (path plus query, e.g. `/v1/sms/send`).
 *
 * The server checks, in this order, and answers 401 `{ "error": ... }` with:
 *
 *   unknown_app        X-App-Id missing or not known
 *   stale_timestamp    X-Timestamp missing, malformed or more than 300 s away from the server clock
 *   invalid_signature  X-Nonce or X-Signature missing or malformed, or the signature does not match
 *   replayed_nonce     a correctly signed request whose nonce was already seen in the last 600 s
 *
 * Nonces are remembered only after the signature has been verified, so unsigned traffic cannot fill the cache
 * or burn a legitimate caller's nonce. Remembering them for 600 s (twice the clock window) covers the whole
 * time a captured request could still pass the timestamp check.
 *
 * A well-signed request with a malformed body gets 400 `{ "error": "invalid_request", "error_description": ... }`;
 * success is 200 with a JSON object.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { ConnectorError } from './errors.ts';

export const TIMESTAMP_WINDOW_SECONDS = 300;
export const NONCE_TTL_SECONDS = 600;

export type SignedHeaders = {
  'X-App-Id': string;
  'X-Timestamp': string;
  'X-Nonce': string;
  'X-Signature': string;
};

export type SignatureError = 'invalid_signature' | 'stale_timestamp' | 'replayed_nonce' | 'unknown_app';

export type VerifyResult = { ok: true; appId: string } | { ok: false; error: SignatureError };

const NONCE_PATTERN = /^[0-9a-f]{32}$/;
const TIMESTAMP_PATTERN = /^\d{1,12}$/;
// 32 bytes of HMAC-SHA256 in unpadded base64url.
const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{43}$/;

function canonicalString(method: string, path: string, timestamp: string, nonce: string, body: string | Uint8Array): string {
  const bodyHash = createHash('sha256').update(body).digest('hex');
  return `${method.toUpperCase()}\n${path}\n${timestamp}\n${nonce}\n${bodyHash}`;
}

function computeSignature(secret: string, canonical: string): string {
  return createHmac('sha256', secret).update(canonical).digest('base64url');
}

/** `now` returns milliseconds since the epoch (default `Date.now`); `body` must be the exact bytes sent. */
export function signRequest(input: {
  appId: string;
  secret: string;
  method: string;
  path: string;
  body: string | Uint8Array;
  now?: () => number;
  nonce?: string;
}): SignedHeaders {
  const timestamp = String(Math.floor((input.now ?? Date.now)() / 1000));
  const nonce = input.nonce ?? randomBytes(16).toString('hex');
  return {
    'X-App-Id': input.appId,
    'X-Timestamp': timestamp,
    'X-Nonce': nonce,
    'X-Signature': computeSignature(input.secret, canonicalString(input.method, input.path, timestamp, nonce, input.body)),
  };
}

export type NonceCache = {
  /** False when `key` was already remembered and has not expired; otherwise remembers it and returns true. */
  remember(key: string, nowSeconds: number): boolean;
  size(): number;
};

export function createNonceCache(ttlSeconds: number = NONCE_TTL_SECONDS): NonceCache {
  const expiries = new Map<string, number>();
  const prune = (nowSeconds: number) => {
    // Insertion order is expiry order (constant TTL), so the expired entries are all at the front.
    for (const [key, expiresAt] of expiries) {
      if (expiresAt > nowSeconds) break;
      expiries.delete(key);
    }
  };
  return {
    remember(key, nowSeconds) {
      prune(nowSeconds);
      if (expiries.has(key)) return false;
      expiries.set(key, nowSeconds + ttlSeconds);
      return true;
    },
    size: () => expiries.size,
  };
}

function singleHeader(headers: Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Server side of the protocol. `headers` are Node's incoming headers (lower-case names); `body` the raw bytes
 * received; `secretFor` returns the shared secret of a known app id.
 */
export function verifySignedRequest(input: {
  method: string;
  path: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: string | Uint8Array;
  secretFor: (appId: string) => string | undefined;
  nonces: NonceCache;
  now?: () => number;
}): VerifyResult {
  const appId = singleHeader(input.headers, 'x-app-id');
  const secret = appId === undefined ? undefined : input.secretFor(appId);
  if (appId === undefined || secret === undefined) return { ok: false, error: 'unknown_app' };

  const nowSeconds = Math.floor((input.now ?? Date.now)() / 1000);
  const timestamp = singleHeader(input.headers, 'x-timestamp');
  if (
    timestamp === undefined ||
    !TIMESTAMP_PATTERN.test(timestamp) ||
    Math.abs(Number(timestamp) - nowSeconds) > TIMESTAMP_WINDOW_SECONDS
  ) {
    return { ok: false, error: 'stale_timestamp' };
  }

  const nonce = singleHeader(input.headers, 'x-nonce');
  const signature = singleHeader(input.headers, 'x-signature');
  if (nonce === undefined || signature === undefined || !NONCE_PATTERN.test(nonce) || !SIGNATURE_PATTERN.test(signature)) {
    return { ok: false, error: 'invalid_signature' };
  }
  const expected = Buffer.from(computeSignature(secret, canonicalString(input.method, input.path, timestamp, nonce, input.body)));
  const received = Buffer.from(signature);
  if (expected.length !== received.length || !timingSafeEqual(expected, received)) {
    return { ok: false, error: 'invalid_signature' };
  }

  if (!input.nonces.remember(`${appId}\u0000${nonce}`, nowSeconds)) return { ok: false, error: 'replayed_nonce' };
  return { ok: true, appId };
}

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * Secrets and personal data travel in these requests, so plain http is refused except towards a loopback
 * address (where the sandboxes live). Throws a plain Error: this is a configuration mistake, not a failed call.
 */
export function assertConnectorUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('connector URL is not a valid URL');
  }
  if (parsed.protocol === 'https:') return;
  if (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname)) return;
  throw new Error('connector URL must be https:// (plain http:// is allowed only on a loopback address)');
}

function remoteErrorOf(text: string): unknown {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as { error?: unknown }).error : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Client side: signs and POSTs `body` as JSON to `url` + `path`, returns the parsed JSON answer.
 * Throws ConnectorError: `timeout` when `timeoutMs` elapses (including while reading the answer),
 * `unavailable` on network errors and 5xx, `rejected` on 4xx, `bad_response` on anything else that is not JSON 2xx.
 */
export async function postSigned(options: {
  url: string;
  path: string;
  appId: string;
  secret: string;
  body: unknown;
  timeoutMs: number;
  connector: string;
}): Promise<unknown> {
  const target = new URL(options.url.replace(/\/+$/, '') + options.path);
  const payload = JSON.stringify(options.body);
  const signed = signRequest({
    appId: options.appId,
    secret: options.secret,
    method: 'POST',
    path: target.pathname + target.search,
    body: payload,
  });
  const signal = AbortSignal.timeout(options.timeoutMs);
  const failure = (error: unknown, status?: number) =>
    new ConnectorError(options.connector, signal.aborted ? 'timeout' : 'unavailable', { status, cause: error });

  let response: Response;
  try {
    response = await fetch(target, {
      method: 'POST',
      headers: { ...signed, 'content-type': 'application/json', accept: 'application/json' },
      body: payload,
      signal,
      // A redirected POST would be re-sent somewhere else with our signature: treat it as a bad answer instead.
      redirect: 'manual',
    });
  } catch (error) {
    throw failure(error);
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw failure(error, response.status);
  }

  const status = response.status;
  if (status >= 500) throw new ConnectorError(options.connector, 'unavailable', { status });
  if (status >= 400) throw new ConnectorError(options.connector, 'rejected', { status, remoteError: remoteErrorOf(text) });
  if (status < 200 || status >= 300) throw new ConnectorError(options.connector, 'bad_response', { status });
  try {
    return JSON.parse(text);
  } catch {
    throw new ConnectorError(options.connector, 'bad_response', { status });
  }
}
