import t from 'tap';
import { ConnectorError } from '../../src/connectors/errors.ts';
import { createHttpPopulationRegister } from '../../src/connectors/population-register/http-client.ts';
import { loadSandboxCitizens, startSandboxPopulationRegister } from '../../src/connectors/population-register/sandbox-register.ts';
import { signRequest } from '../../src/connectors/signed-http.ts';
import { idNumberCheckChar, validateIdNumber } from '../../src/identity/id-number.ts';

const APP_ID = 'gov-idp';
const SECRET = 'sandbox-test-secret';
const PATH = '/v1/identity/verify';
const CITIZENS_FILE = new URL('../../config/sandbox-population-register.json', import.meta.url).pathname;

const withCheck = (body17: string) => body17 + idNumberCheckChar(body17);

async function failureOf(promise: Promise<unknown>): Promise<ConnectorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ConnectorError)) throw new Error('expected a ConnectorError');
  return error;
}

const citizens = await loadSandboxCitizens(CITIZENS_FILE);
const sandbox = await startSandboxPopulationRegister({ appId: APP_ID, secret: SECRET, citizens });
t.teardown(() => sandbox.close());
const register = createHttpPopulationRegister({ url: sandbox.url, appId: APP_ID, secret: SECRET, timeoutMs: 2000 });

function signedRaw(body: unknown, options: { now?: () => number } = {}) {
  const payload = JSON.stringify(body);
  const headers = signRequest({ appId: APP_ID, secret: SECRET, method: 'POST', path: PATH, body: payload, now: options.now });
  return async () => {
    const response = await fetch(sandbox.url + PATH, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: payload });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
}

t.test('the sandbox citizens file', async (t) => {
  t.same(citizens.slice(0, 3), [
    { name: '张三', idNumber: '11010519491231002X' },
    { name: '李四', idNumber: '440305199002281231' },
    { name: '王五', idNumber: '510107200002292462' },
  ]);
  t.ok(citizens.length >= 10);
  for (const name of ['赵六', '孙七']) t.ok(citizens.some((c) => c.name === name), `${name} is listed`);
  t.ok(citizens.slice(3).some((c) => c.idNumber.endsWith('X')), 'an added citizen has check character X');
  t.equal(new Set(citizens.map((c) => c.idNumber)).size, citizens.length, 'ID numbers are unique');
  for (const citizen of citizens) {
    const result = validateIdNumber(citizen.idNumber);
    t.ok(result.ok && result.idNumber === citizen.idNumber, `${citizen.name} has a valid GB 11643 number`);
  }
});

t.test('match true for every listed (name, ID number) pair', async (t) => {
  t.equal(register.name, 'population-register');
  for (const citizen of citizens) t.same(await register.verifyIdentity(citizen), { match: true }, citizen.name);
});

t.test('match false, without saying which element is wrong', async (t) => {
  t.same(await register.verifyIdentity({ name: '张四', idNumber: '11010519491231002X' }), { match: false }, 'right ID, wrong name');
  t.same(await register.verifyIdentity({ name: '李四', idNumber: '11010519491231002X' }), { match: false }, "another citizen's name");
  t.same(await register.verifyIdentity({ name: '张三 ', idNumber: '11010519491231002X' }), { match: false }, 'the name must be exact');
  const unlisted = withCheck('11010519800101001');
  t.ok(validateIdNumber(unlisted).ok);
  t.same(await register.verifyIdentity({ name: '张三', idNumber: unlisted }), { match: false }, 'unlisted ID');
  t.same(await signedRaw({ name: '张四', idNumber: '11010519491231002X' })(), { status: 200, body: { match: false } }, 'the answer carries nothing else');
});

t.test('malformed bodies are refused with 400 invalid_request', async (t) => {
  const cases: [string, { name: string; idNumber: string }][] = [
    ['wrong check character', { name: '张三', idNumber: '110105194912310021' }],
    ['lower-case x', { name: '张三', idNumber: '11010519491231002x' }],
    ['15-digit legacy number', { name: '张三', idNumber: '110105491231002' }],
    ['empty name', { name: '', idNumber: '11010519491231002X' }],
    ['name too long', { name: '张'.repeat(51), idNumber: '11010519491231002X' }],
    ['missing ID number', { name: '张三' } as { name: string; idNumber: string }],
  ];
  for (const [label, input] of cases) {
    const error = await failureOf(register.verifyIdentity(input));
    t.equal(error.code, 'rejected', label);
    t.equal(error.status, 400, label);
    t.equal(error.remoteError, 'invalid_request', label);
    t.notMatch(error.message, /11010519491231002|张/, `${label}: no personal data in the message`);
  }
  t.equal((await signedRaw(['张三', '11010519491231002X'])()).status, 400, 'array body');
  t.equal((await signedRaw({ name: '张三', idNumber: '11010519491231002X', birthDate: '1949-12-31' })()).status, 400, 'unknown field');
});

t.test('wrong credentials are rejected', async (t) => {
  const wrongSecret = createHttpPopulationRegister({ url: sandbox.url, appId: APP_ID, secret: 'not-the-secret', timeoutMs: 2000 });
  const error = await failureOf(wrongSecret.verifyIdentity(citizens[0]));
  t.equal(error.code, 'rejected');
  t.equal(error.status, 401);
  t.equal(error.remoteError, 'invalid_signature');

  const unknownApp = createHttpPopulationRegister({ url: sandbox.url, appId: 'someone-else', secret: SECRET, timeoutMs: 2000 });
  t.equal((await failureOf(unknownApp.verifyIdentity(citizens[0]))).remoteError, 'unknown_app');
});

t.test('a replayed request is refused with replayed_nonce', async (t) => {
  const send = signedRaw(citizens[1]);
  t.same(await send(), { status: 200, body: { match: true } });
  t.same(await send(), { status: 401, body: { error: 'replayed_nonce' } });
});

t.test('stale timestamps are refused with stale_timestamp', async (t) => {
  t.same(await signedRaw(citizens[1], { now: () => Date.now() - 301_000 })(), { status: 401, body: { error: 'stale_timestamp' } });
  t.same(await signedRaw(citizens[1], { now: () => Date.now() + 301_000 })(), { status: 401, body: { error: 'stale_timestamp' } });
});

t.test('the sandbox refuses an invalid citizen list and a non-loopback address', async (t) => {
  await t.rejects(startSandboxPopulationRegister({ appId: APP_ID, secret: SECRET, citizens: [{ name: '张三', idNumber: '110105194912310021' }] }));
  await t.rejects(startSandboxPopulationRegister({ appId: APP_ID, secret: SECRET, citizens: [{ name: '', idNumber: '11010519491231002X' }] }));
  await t.rejects(
    startSandboxPopulationRegister({ appId: APP_ID, secret: SECRET, citizens: [citizens[0], { name: '张叁', idNumber: citizens[0].idNumber }] }),
    'duplicate ID number',
  );
  await t.rejects(startSandboxPopulationRegister({ appId: APP_ID, secret: SECRET, citizens, host: '0.0.0.0' }));
});
