import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import t from 'tap';
import type { Test } from 'tap';
import { ConnectorError } from '../../src/connectors/errors.ts';
import { createFaceCallbackVerifier } from '../../src/connectors/face/callback.ts';
import type { FaceCallbackVerdict } from '../../src/connectors/face/callback.ts';
import { createHttpFaceService } from '../../src/connectors/face/http-client.ts';
import {
  loadSandboxFaceSubjects,
  parseSandboxFaceSubjects,
  SANDBOX_FACE_CSP,
  startSandboxFaceService,
} from '../../src/connectors/face/sandbox-service.ts';
import type { FaceVerificationRequest } from '../../src/connectors/face/types.ts';
import { loadSandboxCitizens } from '../../src/connectors/population-register/sandbox-register.ts';
import { signRequest } from '../../src/connectors/signed-http.ts';
import { idNumberCheckChar } from '../../src/identity/id-number.ts';

const APP_ID = 'gov-idp';
const SECRET = 'sandbox-test-secret';
const VENDOR_APP_ID = 'face-vendor';
const VENDOR_SECRET = 'sandbox-vendor-secret';
const SUBJECTS_FILE = new URL('../../config/sandbox-face-service.json', import.meta.url).pathname;
const CITIZENS_FILE = new URL('../../config/sandbox-population-register.json', import.meta.url).pathname;
const CALLBACK_PATH = '/face/callback?attempt=a1';

async function failureOf(promise: Promise<unknown>): Promise<ConnectorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ConnectorError)) throw new Error('expected a ConnectorError');
  return error;
}

const newNonce = () => randomBytes(24).toString('base64url');
const withCheck = (body17: string) => body17 + idNumberCheckChar(body17);

/** Signed-HTTP headers as Node hands them to a server. */
function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

async function startStub(listener: RequestListener): Promise<{ url: string; close(): void }> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

type Received = { path: string; headers: Record<string, string>; rawBody: Buffer; verdict: FaceCallbackVerdict };

/** What the identity server's callback route will do: verify the raw bytes, answer 200 `{}` or the error. */
async function startCallbackReceiver() {
  const verifier = createFaceCallbackVerifier({ vendorAppId: VENDOR_APP_ID, vendorSecret: VENDOR_SECRET });
  const received: Received[] = [];
  const app = Fastify({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.post('/face/callback', async (request, reply) => {
    const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const verdict = verifier.verify({ method: request.method, path: request.url, headers: request.headers, rawBody });
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'x-app-id', 'x-timestamp', 'x-nonce', 'x-signature']) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    received.push({ path: request.url, headers, rawBody, verdict });
    if (verdict.ok) return reply.send({});
    return reply.code(verdict.error === 'invalid_request' ? 400 : 401).send({ error: verdict.error });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return { url, verifier, received, close: () => app.close() };
}

const receiver = await startCallbackReceiver();
t.teardown(() => receiver.close());
const subjects = await loadSandboxFaceSubjects(SUBJECTS_FILE);
const logLines: string[] = [];
const sandbox = await startSandboxFaceService({
  appId: APP_ID,
  secret: SECRET,
  vendorAppId: VENDOR_APP_ID,
  vendorSecret: VENDOR_SECRET,
  subjects,
  log: (line) => logLines.push(line),
});
t.teardown(() => sandbox.close());
const face = createHttpFaceService({ url: sandbox.url, appId: APP_ID, secret: SECRET, timeoutMs: 3000 });

function request(name: string, idNumber: string, overrides: Partial<FaceVerificationRequest> = {}): FaceVerificationRequest {
  return {
    name,
    idNumber,
    nonce: newNonce(),
    callbackUrl: receiver.url + CALLBACK_PATH,
    returnUrl: `${receiver.url}/face/return?attempt=a1`,
    ...overrides,
  };
}

/** The person's browser pressing Start; redirects are not followed. */
const submitCapture = (captureUrl: string) =>
  fetch(captureUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '', redirect: 'manual' });

function expectReturn(t: Test, response: Response, req: FaceVerificationRequest, transactionId: string) {
  t.equal(response.status, 303, 'redirected with 303');
  const location = new URL(response.headers.get('location') ?? '');
  t.equal(location.origin + location.pathname, `${receiver.url}/face/return`, 'to returnUrl');
  t.equal(location.searchParams.get('attempt'), new URL(req.returnUrl).searchParams.get('attempt'), 'keeping its query');
  t.equal(location.searchParams.get('transactionId'), transactionId, 'with the transactionId');
}

const callbacksFor = (transactionId: string) =>
  receiver.received.filter((r) => r.verdict.ok && r.verdict.result.transactionId === transactionId).map((r) => r.verdict);

t.test('the subjects file covers every sandbox citizen with the documented outcomes', async (t) => {
  const citizens = await loadSandboxCitizens(CITIZENS_FILE);
  const byId = new Map(subjects.map((s) => [s.idNumber, s]));
  for (const citizen of citizens) t.ok(byId.has(citizen.idNumber), `${citizen.name} has an outcome`);
  const outcomeOf = (name: string) => {
    const citizen = citizens.find((c) => c.name === name);
    const subject = citizen && byId.get(citizen.idNumber);
    return subject && { outcome: subject.outcome, score: subject.score };
  };
  t.same(outcomeOf('张三'), { outcome: 'match', score: undefined });
  t.same(outcomeOf('李四'), { outcome: 'match', score: 81 });
  t.same(outcomeOf('王五'), { outcome: 'no_match', score: undefined });
  t.same(outcomeOf('赵六'), { outcome: 'match', score: undefined });
  t.same(outcomeOf('孙七'), { outcome: 'liveness_fail', score: undefined });
  t.same(outcomeOf('周晓梅'), { outcome: 'timeout', score: undefined });
  t.same(outcomeOf('吴建国'), { outcome: 'vendor_error', score: undefined });
  t.same(outcomeOf('郑丽华'), { outcome: 'match', score: 75 });
  for (const name of ['陈志强', '刘洋', '黄婷婷']) t.equal(outcomeOf(name)?.outcome, 'match', name);
  t.ok(Object.isFrozen(subjects) && Object.isFrozen(subjects[0]));
});

t.test('invalid subject lists are refused', async (t) => {
  const id = '11010519491231002X';
  t.throws(() => parseSandboxFaceSubjects({ idNumber: id, outcome: 'match' }), 'not an array');
  t.throws(() => parseSandboxFaceSubjects([{ idNumber: '110105194912310021', outcome: 'match' }]), 'bad check character');
  t.throws(() => parseSandboxFaceSubjects([{ idNumber: id, outcome: 'approve' }]), 'unknown outcome');
  t.throws(() => parseSandboxFaceSubjects([{ idNumber: id, outcome: 'match', score: 101 }]), 'score above 100');
  t.throws(() => parseSandboxFaceSubjects([{ idNumber: id, outcome: 'liveness_fail', score: 50 }]), 'score without a comparison');
  t.throws(() => parseSandboxFaceSubjects([{ idNumber: id, outcome: 'match', name: '张三' }]), 'unknown field');
  t.throws(() => parseSandboxFaceSubjects([{ idNumber: id, outcome: 'match' }, { idNumber: id, outcome: 'no_match' }]), 'duplicate');
  const error = t.throws(() => parseSandboxFaceSubjects([{ idNumber: '110105194912310021', outcome: 'match' }])) as Error;
  t.notMatch(error.message, /110105/, 'errors do not repeat the data');
});

t.test('the sandbox listens on loopback only', async (t) => {
  t.match(sandbox.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const options = { appId: APP_ID, secret: SECRET, vendorAppId: VENDOR_APP_ID, vendorSecret: VENDOR_SECRET, subjects };
  await t.rejects(startSandboxFaceService({ ...options, host: '0.0.0.0' }));
  await t.rejects(startSandboxFaceService({ ...options, vendorSecret: '' }));
});

t.test('match: capture page, form POST, 303 back, signed callback, same result on query', async (t) => {
  const req = request('张三', '11010519491231002X');
  const started = await face.start(req);
  t.equal(face.name, 'face-verification');
  t.match(started.transactionId, /^sandbox-face-[0-9a-f-]{36}$/);
  t.match(started.captureUrl, /^http:\/\/127\.0\.0\.1:\d+\/capture\/sandbox-face-/);
  t.ok(Math.abs(Date.parse(started.expiresAt) - (Date.now() + 300_000)) < 10_000, 'expires in 5 minutes');
  t.same(await face.result(started.transactionId), { transactionId: started.transactionId, nonce: req.nonce, status: 'pending' });

  const page = await fetch(started.captureUrl);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /^text\/html; charset=utf-8/);
  const csp = page.headers.get('content-security-policy') ?? '';
  t.equal(csp, SANDBOX_FACE_CSP);
  t.match(csp, /default-src 'none'/);
  t.match(csp, /frame-ancestors 'none'/);
  t.notMatch(csp, /unsafe-inline|unsafe-eval|script-src/);
  t.equal(page.headers.get('x-frame-options'), 'DENY');
  t.equal(page.headers.get('referrer-policy'), 'no-referrer');
  t.equal(page.headers.get('cache-control'), 'no-store');
  const html = await page.text();
  t.match(html, /<html lang="zh-CN">/);
  t.match(html, '请正对摄像头');
  t.match(html, 'Face the camera');
  t.match(html, `<form method="post" action="/capture/${started.transactionId}">`);
  t.match(html, /<button id="capture-submit" type="submit"[^>]*>开始检测 <span lang="en">Start<\/span><\/button>/);
  t.notMatch(html, /<script|<input|\son\w+=/i, 'no script, no choice to make');
  t.notMatch(html, /张三|11010519491231002X/, 'no personal data on the page');

  const response = await submitCapture(started.captureUrl);
  expectReturn(t, response, req, started.transactionId);

  const callbacks = callbacksFor(started.transactionId);
  t.equal(callbacks.length, 1, 'one callback, received before the browser is sent back');
  const delivered = receiver.received.find((r) => r.verdict.ok && r.verdict.result.transactionId === started.transactionId);
  t.equal(delivered?.path, CALLBACK_PATH, 'POSTed to callbackUrl, query included');
  t.equal(delivered?.headers['x-app-id'], VENDOR_APP_ID, 'signed with the vendor credentials');
  const callback = callbacks[0];
  if (!callback.ok) throw new Error('unreachable');
  t.match(callback.result, { transactionId: started.transactionId, nonce: req.nonce, status: 'completed', liveness: 'pass', score: 92 });
  t.ok(Math.abs(Date.parse(callback.result.status === 'completed' ? callback.result.completedAt : '') - Date.now()) < 10_000);

  t.same(await face.result(started.transactionId), callback.result, 'query returns the same result');
  t.match(sandbox.transactions()[0], { transactionId: started.transactionId, outcome: 'match', captured: true, callback: 'delivered' });

  const again = await submitCapture(started.captureUrl);
  expectReturn(t, again, req, started.transactionId);
  t.equal(callbacksFor(started.transactionId).length, 1, 'a second POST is not called back again');
  const finished = await fetch(started.captureUrl);
  t.equal(finished.status, 200);
  const finishedHtml = await finished.text();
  t.notMatch(finishedHtml, /capture-submit/, 'a finished verification cannot be captured again');
  t.match(finishedHtml, 'id="return-link"');
});

async function runToCompletion(name: string, idNumber: string) {
  const req = request(name, idNumber);
  const started = await face.start(req);
  const response = await submitCapture(started.captureUrl);
  return { req, started, response, result: await face.result(started.transactionId) };
}

t.test('configured and default scores of a match', async (t) => {
  for (const [name, idNumber, score] of [
    ['李四', '440305199002281231', 81],
    ['郑丽华', '12010119870214104X', 75],
    ['赵六', '310104198507160215', 92],
  ] as const) {
    const { req, started, response, result } = await runToCompletion(name, idNumber);
    t.equal(response.status, 303, name);
    t.match(result, { nonce: req.nonce, status: 'completed', liveness: 'pass', score }, name);
    t.same(callbacksFor(started.transactionId).map((v) => v.ok && v.result), [result], `${name}: callback matches`);
  }
});

t.test('no_match: completed, liveness passed, low score (listed and unlisted ID numbers)', async (t) => {
  const listed = await runToCompletion('王五', '510107200002292462');
  t.equal(listed.response.status, 303);
  t.match(listed.result, { status: 'completed', liveness: 'pass', score: 35 });
  const unlisted = await runToCompletion('张三', withCheck('11010519800101001'));
  t.match(unlisted.result, { status: 'completed', liveness: 'pass', score: 20 }, 'an ID number not in the list never matches');
  t.same(callbacksFor(unlisted.started.transactionId).map((v) => v.ok && v.result), [unlisted.result]);
});

t.test('liveness_fail: completed, liveness failed, no score', async (t) => {
  const { req, started, response, result } = await runToCompletion('孙七', '320102199211030343');
  expectReturn(t, response, req, started.transactionId);
  t.match(result, { transactionId: started.transactionId, nonce: req.nonce, status: 'completed', liveness: 'fail' });
  t.same(Object.keys(result).sort(), ['completedAt', 'liveness', 'nonce', 'status', 'transactionId'], 'no score');
  t.same(callbacksFor(started.transactionId).map((v) => v.ok && v.result), [result]);
});

t.test('timeout: the page says processing, the result stays pending, no callback', async (t) => {
  const { req, started, response, result } = await runToCompletion('周晓梅', '330106197805220126');
  t.equal(response.status, 200, 'no redirect');
  const html = await response.text();
  t.match(html, '正在处理');
  t.match(html, 'Processing');
  t.notMatch(html, /capture-submit/);
  t.same(result, { transactionId: started.transactionId, nonce: req.nonce, status: 'pending' });
  const again = await fetch(started.captureUrl);
  t.match(await again.text(), 'id="capture-status"', 'reloading shows processing again');
  t.equal((await submitCapture(started.captureUrl)).status, 200, 'submitting again does not complete it');
  t.same(await face.result(started.transactionId), result);
  t.equal(callbacksFor(started.transactionId).length, 0);
  t.equal(receiver.received.filter((r) => r.rawBody.includes(started.transactionId)).length, 0, 'nothing was called back');
});

t.test('vendor_error: start answers 503, the client reports unavailable', async (t) => {
  const before = sandbox.transactions().length;
  const error = await failureOf(face.start(request('吴建国', '420106196309090454')));
  t.equal(error.code, 'unavailable');
  t.equal(error.status, 503);
  t.equal(error.connector, 'face-verification');
  t.notMatch(error.message, /420106196309090454|吴建国/);
  t.equal(sandbox.transactions().length, before, 'no verification was created');
});

t.test('unknown transaction', async (t) => {
  const error = await failureOf(face.result('sandbox-face-00000000-0000-4000-8000-000000000000'));
  t.equal(error.code, 'rejected');
  t.equal(error.status, 404);
  t.equal(error.remoteError, 'unknown_transaction');
  const page = await fetch(`${new URL((await face.start(request('赵六', '310104198507160215'))).captureUrl).origin}/capture/nope`);
  t.equal(page.status, 404);
  t.equal(page.headers.get('content-security-policy'), SANDBOX_FACE_CSP);
  t.equal((await failureOf(face.result('../etc'))).status, 400, 'a malformed id is invalid_request');
});

t.test('wrong credentials are rejected', async (t) => {
  const wrongSecret = createHttpFaceService({ url: sandbox.url, appId: APP_ID, secret: 'not-the-secret', timeoutMs: 2000 });
  const error = await failureOf(wrongSecret.start(request('张三', '11010519491231002X')));
  t.equal(error.code, 'rejected');
  t.equal(error.status, 401);
  t.equal(error.remoteError, 'invalid_signature');
  t.equal((await failureOf(wrongSecret.result(sandbox.transactions()[0].transactionId))).remoteError, 'invalid_signature');
  const vendorCredentials = createHttpFaceService({ url: sandbox.url, appId: VENDOR_APP_ID, secret: VENDOR_SECRET, timeoutMs: 2000 });
  const vendorKeyError = await failureOf(vendorCredentials.start(request('张三', '11010519491231002X')));
  t.equal(vendorKeyError.remoteError, 'unknown_app', 'the vendor key is not a client key');
});

t.test('malformed start requests are refused with 400 invalid_request', async (t) => {
  const cases: [string, Partial<FaceVerificationRequest> & Record<string, unknown>][] = [
    ['short nonce', { nonce: 'abc' }],
    ['nonce with other characters', { nonce: 'a'.repeat(20) + '/+=' }],
    ['plain http callback to a public host', { callbackUrl: 'http://idp.example.gov.cn/face/callback' }],
    ['callback with credentials', { callbackUrl: 'https://user:pw@idp.example.gov.cn/face/callback' }],
    ['javascript: returnUrl', { returnUrl: 'javascript:alert(1)' }],
    ['relative returnUrl', { returnUrl: '/face/return' }],
    ['wrong check character', { idNumber: '110105194912310021' }],
    ['empty name', { name: '' }],
  ];
  for (const [label, overrides] of cases) {
    const error = await failureOf(face.start({ ...request('张三', '11010519491231002X'), ...overrides }));
    t.equal(error.code, 'rejected', label);
    t.equal(error.status, 400, label);
    t.equal(error.remoteError, 'invalid_request', label);
  }
  t.ok(await face.start(request('张三', '11010519491231002X', { callbackUrl: 'https://idp.example.gov.cn/face/callback' })), 'https callback is fine');

  const extra = await signedRaw('/v1/face/verifications', { ...request('张三', '11010519491231002X'), portrait: 'data:image/png;base64,AAAA' });
  t.same(extra, { status: 400, body: { error: 'invalid_request', error_description: 'unknown field "portrait"' } });
  t.equal((await signedRaw('/v1/face/verifications', [request('张三', '11010519491231002X')])).status, 400, 'array body');
  t.equal((await signedRaw('/v1/face/verifications/result', { transactionId: 'tx-1', nonce: newNonce() })).status, 400, 'unknown field in a query');
});

async function signedRaw(path: string, body: unknown) {
  const payload = JSON.stringify(body);
  const headers = signRequest({ appId: APP_ID, secret: SECRET, method: 'POST', path, body: payload });
  const response = await fetch(sandbox.url + path, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: payload });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A callback as the vendor would send it, signed once so it can be replayed byte for byte. */
function vendorCallback(body: unknown, options: { secret?: string; appId?: string; now?: () => number; contentType?: string } = {}) {
  const payload = JSON.stringify(body);
  const headers = signRequest({
    appId: options.appId ?? VENDOR_APP_ID,
    secret: options.secret ?? VENDOR_SECRET,
    method: 'POST',
    path: CALLBACK_PATH,
    body: payload,
    now: options.now,
  });
  return async () => {
    const response = await fetch(receiver.url + CALLBACK_PATH, {
      method: 'POST',
      headers: { ...headers, 'content-type': options.contentType ?? 'application/json' },
      body: payload,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
}

const completedBody = () => ({
  transactionId: 'sandbox-face-11111111-1111-4111-8111-111111111111',
  nonce: newNonce(),
  status: 'completed',
  liveness: 'pass',
  score: 99,
  completedAt: new Date().toISOString(),
});

t.test('callback verification', async (t) => {
  t.test('a correctly signed callback is accepted, including status failed', async (t) => {
    t.same(await vendorCallback(completedBody())(), { status: 200, body: {} });
    const failed = { transactionId: 'tx-1', nonce: newNonce(), status: 'failed', completedAt: new Date().toISOString() };
    t.same(await vendorCallback(failed)(), { status: 200, body: {} });
    t.same(receiver.received.at(-1)?.verdict, { ok: true, result: failed });
  });

  t.test('a forged callback (wrong vendor secret) is refused', async (t) => {
    t.same(await vendorCallback(completedBody(), { secret: 'guessed-secret' })(), { status: 401, body: { error: 'invalid_signature' } });
    const ownKey = await vendorCallback(completedBody(), { appId: APP_ID, secret: SECRET })();
    t.same(ownKey, { status: 401, body: { error: 'unknown_app' } }, "the identity server's own key");
    const unsigned = await fetch(receiver.url + CALLBACK_PATH, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(completedBody()),
    });
    t.equal(unsigned.status, 401);
  });

  t.test('a signature over another path is refused', async (t) => {
    const payload = JSON.stringify(completedBody());
    const signed = signRequest({ appId: VENDOR_APP_ID, secret: VENDOR_SECRET, method: 'POST', path: '/face/callback?attempt=other', body: payload });
    const headers = { ...lower(signed), 'content-type': 'application/json' };
    const verdict = receiver.verifier.verify({ method: 'POST', path: CALLBACK_PATH, headers, rawBody: payload });
    t.same(verdict, { ok: false, error: 'invalid_signature' });
  });

  t.test('a replayed callback is refused the second time', async (t) => {
    const real = await runToCompletion('赵六', '310104198507160215');
    const original = receiver.received.find((r) => r.verdict.ok && r.verdict.result.transactionId === real.started.transactionId);
    if (original === undefined) throw new Error('the sandbox did not call back');
    const replay = await fetch(receiver.url + original.path, { method: 'POST', headers: original.headers, body: new Uint8Array(original.rawBody) });
    t.equal(replay.status, 401);
    t.same(await replay.json(), { error: 'replayed_nonce' });

    const send = vendorCallback(completedBody());
    t.equal((await send()).status, 200);
    t.same(await send(), { status: 401, body: { error: 'replayed_nonce' } });
  });

  t.test('a stale callback is refused', async (t) => {
    t.same(await vendorCallback(completedBody(), { now: () => Date.now() - 301_000 })(), { status: 401, body: { error: 'stale_timestamp' } });
    t.same(await vendorCallback(completedBody(), { now: () => Date.now() + 301_000 })(), { status: 401, body: { error: 'stale_timestamp' } });
    const skewed = createFaceCallbackVerifier({ vendorAppId: VENDOR_APP_ID, vendorSecret: VENDOR_SECRET, now: () => Date.now() + 400_000 });
    const payload = JSON.stringify(completedBody());
    const headers = lower(signRequest({ appId: VENDOR_APP_ID, secret: VENDOR_SECRET, method: 'POST', path: CALLBACK_PATH, body: payload }));
    t.same(skewed.verify({ method: 'POST', path: CALLBACK_PATH, headers: { ...headers, 'content-type': 'application/json' }, rawBody: payload }), {
      ok: false,
      error: 'stale_timestamp',
    });
  });

  t.test('correctly signed callbacks with a bad body are refused', async (t) => {
    const base = completedBody();
    const { score: _score, ...withoutScore } = base;
    const cases: [string, unknown][] = [
      ['pending is not a callback', { transactionId: base.transactionId, nonce: base.nonce, status: 'pending' }],
      ['liveness pass without a score', withoutScore],
      ['liveness fail with a score', { ...base, liveness: 'fail' }],
      ['score above 100', { ...base, score: 100.5 }],
      ['score as a string', { ...base, score: '99' }],
      ['unknown status', { ...base, status: 'approved' }],
      ['unknown field', { ...base, match: true }],
      ['short nonce', { ...base, nonce: 'abc' }],
      ['local time', { ...base, completedAt: '2025-01-31 08:00:00' }],
      ['impossible date', { ...base, completedAt: '2025-02-30T08:00:00.000Z' }],
      ['expired with a score', { transactionId: 'tx-1', nonce: base.nonce, status: 'expired', score: 0, completedAt: base.completedAt }],
      ['an array', [base]],
    ];
    for (const [label, body] of cases) t.same(await vendorCallback(body)(), { status: 400, body: { error: 'invalid_request' } }, label);
    t.same(await vendorCallback(base, { contentType: 'text/plain' })(), { status: 400, body: { error: 'invalid_request' } }, 'not JSON content');
  });
});

t.test('expiry after 5 minutes (sandbox clock)', async (t) => {
  let clock = Date.parse('2025-01-31T08:00:00.000Z');
  const clocked = await startSandboxFaceService({
    appId: APP_ID,
    secret: SECRET,
    vendorAppId: VENDOR_APP_ID,
    vendorSecret: VENDOR_SECRET,
    subjects,
    now: () => clock,
    log: () => {},
  });
  t.teardown(() => clocked.close());
  const client = createHttpFaceService({ url: clocked.url, appId: APP_ID, secret: SECRET, timeoutMs: 2000 });

  const req = request('张三', '11010519491231002X');
  const started = await client.start(req);
  t.equal(started.expiresAt, '2025-01-31T08:05:00.000Z');
  clock += 5 * 60_000 - 1;
  t.equal((await client.result(started.transactionId)).status, 'pending', 'still pending just before');
  t.match(await (await fetch(started.captureUrl)).text(), 'capture-submit');
  clock += 1;
  const expired = { transactionId: started.transactionId, nonce: req.nonce, status: 'expired', completedAt: '2025-01-31T08:05:00.000Z' };
  t.same(await client.result(started.transactionId), expired);
  const page = await fetch(started.captureUrl);
  t.equal(page.status, 410);
  t.notMatch(await page.text(), /capture-submit/, 'no capture once expired');

  const late = await submitCapture(started.captureUrl);
  expectReturn(t, late, req, started.transactionId);
  t.same(callbacksFor(started.transactionId).map((v) => v.ok && v.result), [expired], 'the expiry is called back, never a match');
  t.same(await client.result(started.transactionId), expired, 'still expired');

  const timedOut = await client.start(request('周晓梅', '330106197805220126'));
  t.equal((await submitCapture(timedOut.captureUrl)).status, 200);
  clock += 5 * 60_000;
  t.equal((await client.result(timedOut.transactionId)).status, 'expired', 'a verification that never completes ends up expired');

  const finished = await client.start(request('李四', '440305199002281231'));
  t.equal((await submitCapture(finished.captureUrl)).status, 303);
  clock += 60 * 60_000;
  t.match(await client.result(finished.transactionId), { status: 'completed', score: 81 }, 'a completed result does not expire');
});

t.test('latency: pending while the vendor processes the capture', async (t) => {
  const slow = await startSandboxFaceService({
    appId: APP_ID,
    secret: SECRET,
    vendorAppId: VENDOR_APP_ID,
    vendorSecret: VENDOR_SECRET,
    subjects,
    latencyMs: 500,
    log: () => {},
  });
  t.teardown(() => slow.close());
  const client = createHttpFaceService({ url: slow.url, appId: APP_ID, secret: SECRET, timeoutMs: 2000 });
  const started = await client.start(request('赵六', '310104198507160215'));
  const submitted = submitCapture(started.captureUrl);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal((await client.result(started.transactionId)).status, 'pending');
  t.match(await (await fetch(started.captureUrl)).text(), 'id="capture-status"');
  t.equal((await submitted).status, 303);
  t.match(await client.result(started.transactionId), { status: 'completed', score: 92 });
  const options = { appId: APP_ID, secret: SECRET, vendorAppId: VENDOR_APP_ID, vendorSecret: VENDOR_SECRET, subjects };
  await t.rejects(startSandboxFaceService({ ...options, latencyMs: -1 }));
});

t.test('a callback that cannot be delivered is logged, not fatal', async (t) => {
  const closed = await startStub(() => {});
  closed.close();
  const req = request('张三', '11010519491231002X', { callbackUrl: `${closed.url}/face/callback` });
  const started = await face.start(req);
  const response = await submitCapture(started.captureUrl);
  expectReturn(t, response, req, started.transactionId);
  t.match(await face.result(started.transactionId), { status: 'completed', score: 92 }, 'the result can still be queried');
  t.match(sandbox.transactions()[0], { transactionId: started.transactionId, callback: 'failed' });
  const line = logLines.find((l) => l.includes(started.transactionId) && l.includes('not delivered'));
  t.match(line, /sandbox-face-callback: unavailable/);
  t.notMatch(line, /11010519491231002X|张三/);
});

t.test('malformed vendor answers are bad_response', async (t) => {
  let answer: unknown = {};
  const stub = await startStub((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  });
  t.teardown(() => stub.close());
  const client = createHttpFaceService({ url: stub.url, appId: APP_ID, secret: SECRET, timeoutMs: 2000, name: 'face-vendor-x' });
  const goodStart = { transactionId: 'tx-1', captureUrl: 'https://face.example.com/capture/tx-1', expiresAt: '2025-01-31T08:05:00.000Z' };

  answer = goodStart;
  t.same(await client.start(request('张三', '11010519491231002X')), goodStart, 'the fake answers well-formed first');
  const startCases: [string, unknown][] = [
    ['missing captureUrl', { transactionId: 'tx-1', expiresAt: goodStart.expiresAt }],
    ['plain http captureUrl to a public host', { ...goodStart, captureUrl: 'http://face.example.com/capture/tx-1' }],
    ['javascript: captureUrl', { ...goodStart, captureUrl: 'javascript:alert(1)' }],
    ['transactionId with a slash', { ...goodStart, transactionId: '../tx' }],
    ['expiresAt not a time', { ...goodStart, expiresAt: 'in 5 minutes' }],
    ['unknown field', { ...goodStart, verified: true }],
    ['an array', [goodStart]],
    ['null', null],
  ];
  for (const [label, value] of startCases) {
    answer = value;
    const error = await failureOf(client.start(request('张三', '11010519491231002X')));
    t.equal(error.code, 'bad_response', label);
    t.equal(error.connector, 'face-vendor-x', label);
  }

  const nonce = newNonce();
  const pass = { transactionId: 'tx-1', nonce, status: 'completed', liveness: 'pass', score: 88.5, completedAt: '2025-01-31T08:01:00.000Z' };
  answer = pass;
  t.same(await client.result('tx-1'), pass, 'a fractional score is fine');
  const resultCases: [string, unknown][] = [
    ['another transaction', { ...pass, transactionId: 'tx-2' }],
    ['pass without a score', { ...pass, score: undefined }],
    ['negative score', { ...pass, score: -1 }],
    ['fail with a score', { ...pass, liveness: 'fail' }],
    ['pending with a score', { transactionId: 'tx-1', nonce, status: 'pending', score: 90 }],
    ['completed without completedAt', { ...pass, completedAt: undefined }],
    ['missing nonce', { ...pass, nonce: undefined }],
    ['boolean match', { transactionId: 'tx-1', nonce, match: true }],
  ];
  for (const [label, value] of resultCases) {
    answer = value;
    t.equal((await failureOf(client.result('tx-1'))).code, 'bad_response', label);
  }
});

t.test('the client refuses plain http to a non-loopback host', async (t) => {
  t.throws(() => createHttpFaceService({ url: 'http://face.example.com', appId: APP_ID, secret: SECRET, timeoutMs: 1000 }));
  t.ok(createHttpFaceService({ url: 'https://face.example.com', appId: APP_ID, secret: SECRET, timeoutMs: 1000 }));
});
