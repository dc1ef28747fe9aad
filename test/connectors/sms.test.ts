import t from 'tap';
import { ConnectorError } from '../../src/connectors/errors.ts';
import { signRequest } from '../../src/connectors/signed-http.ts';
import { createHttpSmsGateway } from '../../src/connectors/sms/http-gateway-client.ts';
import { startSandboxSmsGateway } from '../../src/connectors/sms/sandbox-gateway.ts';
import type { SmsMessage } from '../../src/connectors/sms/types.ts';

const APP_ID = 'gov-idp';
const SECRET = 'sandbox-test-secret';
const PATH = '/v1/sms/send';

const otp = (to: string, code = '123456'): SmsMessage => ({
  to,
  template: 'otp_login',
  params: { code, minutes: '5' },
  text: `【政务服务统一身份认证】验证码 ${code}，5 分钟内有效。请勿告诉他人。`,
});

async function failureOf(promise: Promise<unknown>): Promise<ConnectorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ConnectorError)) throw new Error('expected a ConnectorError');
  return error;
}

const logLines: string[] = [];
const sandbox = await startSandboxSmsGateway({ appId: APP_ID, secret: SECRET, log: (line) => logLines.push(line) });
t.teardown(() => sandbox.close());
const gateway = createHttpSmsGateway({ url: sandbox.url, appId: APP_ID, secret: SECRET, timeoutMs: 2000 });

/** Signs once; the returned function can send the very same request any number of times. */
function signedRaw(body: unknown, options: { now?: () => number; rawBody?: string } = {}) {
  const payload = options.rawBody ?? JSON.stringify(body);
  const headers = signRequest({ appId: APP_ID, secret: SECRET, method: 'POST', path: PATH, body: payload, now: options.now });
  return async () => {
    const response = await fetch(sandbox.url + PATH, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: payload });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
}

t.test('the sandbox listens on loopback only', async (t) => {
  t.match(sandbox.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  await t.rejects(startSandboxSmsGateway({ appId: APP_ID, secret: SECRET, host: '0.0.0.0' }));
});

t.test('happy path: sent, kept in the outbox, logged', async (t) => {
  const before = sandbox.outbox().length;
  const { messageId } = await gateway.send(otp('+8613800138000', '654321'));
  t.match(messageId, /^sandbox-[0-9a-f-]{36}$/);
  t.equal(gateway.name, 'sms-gateway');

  const outbox = sandbox.outbox();
  t.equal(outbox.length, before + 1);
  t.same(outbox[0], {
    messageId,
    to: '+8613800138000',
    template: 'otp_login',
    params: { code: '654321', minutes: '5' },
    text: '【政务服务统一身份认证】验证码 654321，5 分钟内有效。请勿告诉他人。',
    receivedAt: outbox[0].receivedAt,
  });
  t.ok(Math.abs(Date.parse(outbox[0].receivedAt) - Date.now()) < 10_000, 'receivedAt is an ISO timestamp of now');
  t.ok(Object.isFrozen(outbox[0]), 'records cannot be altered by callers');
  t.equal(sandbox.latestTo('+8613800138000')?.messageId, messageId);
  t.equal(logLines.at(-1), '[sandbox-sms] to=+8613800138000 template=otp_login text="【政务服务统一身份认证】验证码 654321，5 分钟内有效。请勿告诉他人。"');
});

t.test('outbox is newest first and latestTo picks the newest message for a phone', async (t) => {
  const first = await gateway.send(otp('+8613900139000', '111111'));
  const other = await gateway.send({ to: '+8615000150000', template: 'notice', params: {}, text: '您的账号信息已更新。' });
  const second = await gateway.send({ ...otp('+8613900139000', '222222'), template: 'otp_register' });
  const ids = sandbox.outbox().map((record) => record.messageId);
  t.same(ids.slice(0, 3), [second.messageId, other.messageId, first.messageId]);
  t.equal(sandbox.latestTo('+8613900139000')?.params.code, '222222');
  t.equal(sandbox.latestTo('+8613900139000')?.template, 'otp_register');
  t.equal(sandbox.latestTo('+8618800188000'), undefined);
});

t.test('invalid messages are refused with 400 invalid_request and not stored', async (t) => {
  const cases: [string, SmsMessage][] = [
    ['foreign number', otp('+14155550100')],
    ['national form without +86', otp('13800138000')],
    ['mainland landline', otp('+861088888888')],
    ['bad template', { ...otp('+8613800138000'), template: 'marketing' as SmsMessage['template'] }],
    ['text over 500 characters', { to: '+8613800138000', template: 'notice', params: {}, text: '通'.repeat(501) }],
    ['empty text', { to: '+8613800138000', template: 'notice', params: {}, text: '' }],
    ['otp without a code', { ...otp('+8613800138000'), params: { minutes: '5' } }],
    ['otp text without its code', { ...otp('+8613800138000'), text: '验证码 000000' }],
    ['non-string param', { ...otp('+8613800138000'), params: { code: '123456', minutes: 5 as unknown as string } }],
  ];
  const before = sandbox.outbox().length;
  for (const [label, message] of cases) {
    const error = await failureOf(gateway.send(message));
    t.equal(error.code, 'rejected', label);
    t.equal(error.status, 400, label);
    t.equal(error.remoteError, 'invalid_request', label);
    t.notMatch(error.message, /4155550100|13800138000/, `${label}: no phone number in the message`);
  }
  t.equal(sandbox.outbox().length, before);
  t.ok(await gateway.send({ to: '+8613800138000', template: 'notice', params: {}, text: '通'.repeat(500) }), '500 characters is fine');
});

t.test('malformed bodies of correctly signed requests', async (t) => {
  t.same(await signedRaw([otp('+8613800138000')])(), { status: 400, body: { error: 'invalid_request', error_description: 'the body must be a JSON object' } });
  const extra = await signedRaw({ ...otp('+8613800138000'), priority: 'high' })();
  t.equal(extra.status, 400);
  t.equal(extra.body.error, 'invalid_request');
  const notJson = await signedRaw(undefined, { rawBody: '{"to":' })();
  t.same(notJson, { status: 400, body: { error: 'invalid_request', error_description: 'the body is not valid JSON' } });
});

t.test('wrong credentials are rejected and nothing is sent', async (t) => {
  const before = sandbox.outbox().length;
  const cases: [string, { appId: string; secret: string }, string][] = [
    ['wrong secret', { appId: APP_ID, secret: 'not-the-secret' }, 'invalid_signature'],
    ['unknown app', { appId: 'someone-else', secret: SECRET }, 'unknown_app'],
  ];
  for (const [label, credentials, remoteError] of cases) {
    const client = createHttpSmsGateway({ url: sandbox.url, ...credentials, timeoutMs: 2000 });
    const error = await failureOf(client.send(otp('+8613800138000')));
    t.equal(error.code, 'rejected', label);
    t.equal(error.status, 401, label);
    t.equal(error.remoteError, remoteError, label);
  }
  const unsigned = await fetch(sandbox.url + PATH, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(otp('+8613800138000')) });
  t.equal(unsigned.status, 401);
  t.same(await unsigned.json(), { error: 'unknown_app' });
  t.equal(sandbox.outbox().length, before);
});

t.test('a replayed request is refused with replayed_nonce', async (t) => {
  const send = signedRaw(otp('+8613700137000', '777777'));
  const first = await send();
  t.equal(first.status, 200);
  t.type(first.body.messageId, 'string');
  t.same(await send(), { status: 401, body: { error: 'replayed_nonce' } });
  t.equal(sandbox.outbox().filter((record) => record.to === '+8613700137000').length, 1, 'delivered once');
});

t.test('stale timestamps are refused with stale_timestamp', async (t) => {
  t.same(await signedRaw(otp('+8613800138000'), { now: () => Date.now() - 301_000 })(), { status: 401, body: { error: 'stale_timestamp' } });
  t.same(await signedRaw(otp('+8613800138000'), { now: () => Date.now() + 301_000 })(), { status: 401, body: { error: 'stale_timestamp' } });
});

t.test('the outbox is bounded, oldest dropped', async (t) => {
  const small = await startSandboxSmsGateway({ appId: APP_ID, secret: SECRET, log: () => {}, outboxLimit: 3 });
  t.teardown(() => small.close());
  const client = createHttpSmsGateway({ url: small.url, appId: APP_ID, secret: SECRET, timeoutMs: 2000 });
  for (const code of ['100001', '100002', '100003', '100004', '100005']) await client.send(otp('+8613800138000', code));
  t.same(small.outbox().map((record) => record.params.code), ['100005', '100004', '100003']);
});
