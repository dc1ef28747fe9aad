import { createHash, createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { ConnectorError } from '../../src/connectors/errors.ts';
import { assertConnectorUrl, createNonceCache, postSigned, signRequest, verifySignedRequest } from '../../src/connectors/signed-http.ts';
import type { SignedHeaders } from '../../src/connectors/signed-http.ts';

const T0 = Date.UTC(2024, 5, 15, 4, 0, 0);
const NONCE = '00112233445566778899aabbccddeeff';
const BODY = JSON.stringify({ to: '+8613800138000', text: 'hello' });

const lower = (headers: SignedHeaders) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));

function verify(headers: Record<string, string>, options: { nowMs?: number; body?: string; path?: string; method?: string; nonces?: ReturnType<typeof createNonceCache> } = {}) {
  return verifySignedRequest({
    method: options.method ?? 'POST',
    path: options.path ?? '/v1/sms/send',
    headers,
    body: options.body ?? BODY,
    secretFor: (appId) => (appId === 'gov-idp' ? 'top-secret' : undefined),
    nonces: options.nonces ?? createNonceCache(),
    now: () => options.nowMs ?? T0,
  });
}

const sign = (overrides: Partial<Parameters<typeof signRequest>[0]> = {}) =>
  lower(signRequest({ appId: 'gov-idp', secret: 'top-secret', method: 'POST', path: '/v1/sms/send', body: BODY, now: () => T0, nonce: NONCE, ...overrides }));

async function rejection(promise: Promise<unknown>): Promise<ConnectorError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConnectorError) return error;
    throw error;
  }
  throw new Error('expected a ConnectorError');
}

t.test('signRequest follows the documented canonical string', async (t) => {
  const headers = signRequest({ appId: 'gov-idp', secret: 'top-secret', method: 'post', path: '/v1/sms/send', body: BODY, now: () => T0 + 999, nonce: NONCE });
  const timestamp = String(T0 / 1000);
  const canonical = `POST\n/v1/sms/send\n${timestamp}\n${NONCE}\n${createHash('sha256').update(BODY).digest('hex')}`;
  t.same(headers, {
    'X-App-Id': 'gov-idp',
    'X-Timestamp': timestamp,
    'X-Nonce': NONCE,
    'X-Signature': createHmac('sha256', 'top-secret').update(canonical).digest('base64url'),
  });
  t.match(headers['X-Signature'], /^[A-Za-z0-9_-]{43}$/);
});

t.test('signRequest defaults: fresh random 16-byte hex nonce, current unix seconds', async (t) => {
  const a = signRequest({ appId: 'a', secret: 's', method: 'POST', path: '/', body: '' });
  const b = signRequest({ appId: 'a', secret: 's', method: 'POST', path: '/', body: '' });
  t.match(a['X-Nonce'], /^[0-9a-f]{32}$/);
  t.not(a['X-Nonce'], b['X-Nonce']);
  t.ok(Math.abs(Number(a['X-Timestamp']) - Date.now() / 1000) < 5);
});

t.test('verifySignedRequest accepts a correct request', async (t) => {
  t.same(verify(sign()), { ok: true, appId: 'gov-idp' });
  t.same(verify(sign(), { nowMs: T0 + 300_000 }), { ok: true, appId: 'gov-idp' }, 'exactly 300 s late is still fresh');
  t.same(verify(sign(), { nowMs: T0 - 300_000 }), { ok: true, appId: 'gov-idp' }, 'exactly 300 s early is still fresh');
});

t.test('unknown_app', async (t) => {
  t.same(verify(sign({ appId: 'someone-else' })), { ok: false, error: 'unknown_app' });
  const { 'x-app-id': _, ...withoutApp } = sign();
  t.same(verify(withoutApp), { ok: false, error: 'unknown_app' });
});

t.test('stale_timestamp', async (t) => {
  t.same(verify(sign(), { nowMs: T0 + 301_000 }), { ok: false, error: 'stale_timestamp' });
  t.same(verify(sign(), { nowMs: T0 - 301_000 }), { ok: false, error: 'stale_timestamp' });
  t.same(verify({ ...sign(), 'x-timestamp': 'yesterday' }), { ok: false, error: 'stale_timestamp' });
  const { 'x-timestamp': _, ...withoutTimestamp } = sign();
  t.same(verify(withoutTimestamp), { ok: false, error: 'stale_timestamp' });
});

t.test('invalid_signature', async (t) => {
  const bad = { ok: false, error: 'invalid_signature' };
  t.same(verify(sign({ secret: 'wrong' })), bad, 'wrong secret');
  t.same(verify(sign(), { body: BODY.replace('hello', 'hellO') }), bad, 'tampered body');
  t.same(verify(sign(), { path: '/v1/identity/verify' }), bad, 'other path');
  t.same(verify(sign(), { method: 'PUT' }), bad, 'other method');
  t.same(verify({ ...sign(), 'x-timestamp': String(T0 / 1000 + 1) }), bad, 'timestamp changed after signing');
  t.same(verify({ ...sign(), 'x-nonce': 'ffffffffffffffffffffffffffffffff' }), bad, 'nonce changed after signing');
  t.same(verify(sign({ nonce: 'not-hex' })), bad, 'malformed nonce');
  t.same(verify({ ...sign(), 'x-signature': 'short' }), bad, 'malformed signature');
  const { 'x-signature': _, ...unsigned } = sign();
  t.same(verify(unsigned), bad, 'missing signature');
});

t.test('replayed_nonce, and nonces expire after 600 s', async (t) => {
  const nonces = createNonceCache();
  t.same(verify(sign(), { nonces }), { ok: true, appId: 'gov-idp' });
  t.same(verify(sign(), { nonces }), { ok: false, error: 'replayed_nonce' });
  // Re-signed later with the same nonce: fresh timestamp, still within the nonce memory.
  t.same(verify(sign({ now: () => T0 + 599_000 }), { nonces, nowMs: T0 + 599_000 }), { ok: false, error: 'replayed_nonce' });
  t.same(verify(sign({ now: () => T0 + 601_000 }), { nonces, nowMs: T0 + 601_000 }), { ok: true, appId: 'gov-idp' });
  t.equal(nonces.size(), 1, 'expired nonces are pruned');
});

t.test('a badly signed request does not burn the nonce', async (t) => {
  const nonces = createNonceCache();
  t.same(verify(sign({ secret: 'wrong' }), { nonces }), { ok: false, error: 'invalid_signature' });
  t.equal(nonces.size(), 0);
  t.same(verify(sign(), { nonces }), { ok: true, appId: 'gov-idp' });
});

t.test('assertConnectorUrl: https, or http on loopback only', async (t) => {
  for (const url of ['https://sms.example.gov.cn', 'http://127.0.0.1:8080', 'http://localhost:1', 'http://[::1]:9']) {
    t.doesNotThrow(() => assertConnectorUrl(url), url);
  }
  for (const url of ['http://sms.example.gov.cn', 'ftp://127.0.0.1', 'not a url', 'http://10.0.0.1']) {
    t.throws(() => assertConnectorUrl(url), url);
  }
});

t.test('ConnectorError keeps only a safe remote error token in its message', async (t) => {
  const safe = new ConnectorError('sms-gateway', 'rejected', { status: 401, remoteError: 'invalid_signature' });
  t.equal(safe.message, 'sms-gateway: rejected (HTTP 401 invalid_signature)');
  t.equal(safe.remoteError, 'invalid_signature');
  const unsafe = new ConnectorError('sms-gateway', 'rejected', { status: 400, remoteError: 'bad number +8613800138000' });
  t.equal(unsafe.remoteError, undefined);
  t.notMatch(unsafe.message, '13800138000');
  t.equal(new ConnectorError('population-register', 'timeout').message, 'population-register: timeout');
});

t.test('postSigned', async (t) => {
  const seen: { url?: string; headers?: Record<string, unknown>; body?: string }[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      seen.push({ url: request.url, headers: request.headers, body });
      if (request.url === '/ok') {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"fine":true}');
      } else if (request.url === '/refuse') {
        response.writeHead(403, { 'content-type': 'application/json' }).end('{"error":"forbidden_app","error_description":"+8613800138000"}');
      } else if (request.url === '/redirect') {
        response.writeHead(307, { location: '/ok' }).end();
      } else {
        // Headers sent, body never finished.
        response.writeHead(200, { 'content-type': 'application/json' });
        response.write('{"partial":');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const call = (path: string, timeoutMs = 2000) =>
    postSigned({ url, path, appId: 'gov-idp', secret: 'top-secret', body: { a: 1 }, timeoutMs, connector: 'test-connector' });

  t.same(await call('/ok'), { fine: true });
  const request = seen[0];
  t.equal(request.url, '/ok', 'the trailing slash of the base URL is not doubled');
  t.equal(request.body, '{"a":1}');
  t.equal(request.headers?.['content-type'], 'application/json');
  const verdict = verifySignedRequest({
    method: 'POST', path: '/ok', headers: request.headers as Record<string, string>, body: request.body ?? '',
    secretFor: () => 'top-secret', nonces: createNonceCache(),
  });
  t.same(verdict, { ok: true, appId: 'gov-idp' }, 'what postSigned sends verifies');

  const refused = await rejection(call('/refuse'));
  t.equal(refused.code, 'rejected');
  t.equal(refused.status, 403);
  t.equal(refused.remoteError, 'forbidden_app');
  t.equal(refused.connector, 'test-connector');
  t.notMatch(refused.message, '13800138000');

  const redirected = await rejection(call('/redirect'));
  t.equal(redirected.code, 'bad_response', 'redirects are not followed');
  t.equal(seen.filter((r) => r.url === '/ok').length, 1);

  const stalled = await rejection(call('/stall', 200));
  t.equal(stalled.code, 'timeout', 'the timeout also covers reading the answer');
});
