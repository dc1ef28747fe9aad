import { createServer } from 'node:http';
import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { BANK_CARD_TRANSACTION_ID, createHttpBankCardVerifier } from '../../src/connectors/bank-card/http-client.ts';
import { loadSandboxBankCards, startSandboxBankCardService } from '../../src/connectors/bank-card/sandbox-service.ts';
import type { BankCardClaim } from '../../src/connectors/bank-card/types.ts';
import { ConnectorError } from '../../src/connectors/errors.ts';
import { signRequest } from '../../src/connectors/signed-http.ts';
import { loadBinTable, validateCardNumber } from '../../src/identity/bank-card.ts';
import { validateIdNumber } from '../../src/identity/id-number.ts';

const APP_ID = 'gov-idp';
const SECRET = 'sandbox-test-secret';
const PATH = '/v1/bankcard/verify';
const CARDS_FILE = new URL('../../config/sandbox-bank-cards.json', import.meta.url).pathname;
const BINS_FILE = new URL('../../config/bank-bins.json', import.meta.url).pathname;

async function failureOf(promise: Promise<unknown>): Promise<ConnectorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ConnectorError)) throw new Error('expected a ConnectorError');
  return error;
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

const cards = await loadSandboxBankCards(CARDS_FILE);
const sandbox = await startSandboxBankCardService({ appId: APP_ID, secret: SECRET, cards });
t.teardown(() => sandbox.close());
const verifier = createHttpBankCardVerifier({ url: sandbox.url, appId: APP_ID, secret: SECRET, timeoutMs: 2000 });

const [zhang, li, zhao] = cards;
const sun = cards.find((card) => card.outage === true);
const claimOf = (card: BankCardClaim): BankCardClaim => ({ name: card.name, idNumber: card.idNumber, cardNumber: card.cardNumber, phone: card.phone });
// A valid card number (Luhn and a listed BIN) that no test card has.
const UNLISTED_CARD = '6216612800001234565';

function signedRaw(body: unknown) {
  const payload = JSON.stringify(body);
  const headers = signRequest({ appId: APP_ID, secret: SECRET, method: 'POST', path: PATH, body: payload });
  return async () => {
    const response = await fetch(sandbox.url + PATH, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: payload });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
}

t.test('the sandbox bank cards file', async (t) => {
  t.same(cards, [
    { name: '张三', idNumber: '11010519491231002X', cardNumber: '6222020200123456788', phone: '+8613800138000' },
    { name: '李四', idNumber: '440305199002281231', cardNumber: '6217000310098765438', phone: '+8613900139000' },
    { name: '赵六', idNumber: '310104198507160215', cardNumber: '6225880123456783', phone: '+8613600136000' },
    { name: '孙七', idNumber: '320102199211030343', cardNumber: '6228480088123405677', phone: '+8613500135000', outage: true },
  ]);
  const bins = await loadBinTable(BINS_FILE);
  for (const card of cards) {
    const checked = validateCardNumber(card.cardNumber, bins);
    t.ok(checked.ok && checked.cardNumber === card.cardNumber && checked.issuer !== undefined, `${card.name}: valid Luhn, listed BIN`);
    const id = validateIdNumber(card.idNumber);
    t.ok(id.ok && id.idNumber === card.idNumber, `${card.name}: valid ID number`);
  }
  const unlisted = validateCardNumber(UNLISTED_CARD, bins);
  t.ok(unlisted.ok && unlisted.issuer !== undefined, 'the unlisted card of these tests is itself valid');
});

t.test('match for the exact four elements of every test card', async (t) => {
  t.equal(verifier.name, 'bank-card');
  const transactionIds = new Set<string>();
  for (const card of [zhang, li, zhao]) {
    const answer = await verifier.verify(claimOf(card));
    t.equal(answer.match, true, card.name);
    t.match(answer.transactionId, BANK_CARD_TRANSACTION_ID);
    transactionIds.add(answer.transactionId);
  }
  t.equal(transactionIds.size, 3, 'every check has its own transaction id');
});

t.test('one wrong element gives the same generic mismatch', async (t) => {
  const wrong: [string, BankCardClaim][] = [
    ['name', { ...claimOf(zhang), name: '张四' }],
    ['name with a trailing space', { ...claimOf(zhang), name: '张三 ' }],
    ['ID number', { ...claimOf(zhang), idNumber: li.idNumber }],
    ['card number', { ...claimOf(zhang), cardNumber: UNLISTED_CARD }],
    ["another person's card", { ...claimOf(zhang), cardNumber: li.cardNumber }],
    ['phone', { ...claimOf(zhang), phone: '+8613800138001' }],
    ["another person's reserved phone", { ...claimOf(zhang), phone: li.phone }],
  ];
  for (const [label, claim] of wrong) {
    const answer = await verifier.verify(claim);
    t.equal(answer.match, false, `wrong ${label}`);
    t.match(answer.transactionId, BANK_CARD_TRANSACTION_ID);
    const raw = await signedRaw(claim)();
    t.equal(raw.status, 200);
    t.same(Object.keys(raw.body).sort(), ['result', 'transactionId'], `wrong ${label}: the answer carries nothing else`);
    t.equal(raw.body.result, 'mismatch', `wrong ${label}`);
  }
});

t.test('a card whose issuer is down makes the service answer 503: unavailable', async (t) => {
  t.ok(sun, 'an outage card is listed');
  const error = await failureOf(verifier.verify(claimOf(sun!)));
  t.equal(error.code, 'unavailable');
  t.equal(error.status, 503);
  t.equal(error.connector, 'bank-card');
  t.notMatch(error.message, /6228480088123405677|320102199211030343|13500135000|孙/, 'no personal data in the message');
  t.equal((await failureOf(verifier.verify({ ...claimOf(zhang), cardNumber: sun!.cardNumber }))).code, 'unavailable', 'whoever asks');
});

t.test('malformed bodies are refused with 400 invalid_request', async (t) => {
  const cases: [string, BankCardClaim][] = [
    ['card number failing Luhn', { ...claimOf(zhang), cardNumber: '6222020200123456789' }],
    ['card number with spaces', { ...claimOf(zhang), cardNumber: '6222 0202 0012 3456 788' }],
    ['15-digit card number', { ...claimOf(zhang), cardNumber: '622202020012344' }],
    ['national phone number', { ...claimOf(zhang), phone: '13800138000' }],
    ['landline', { ...claimOf(zhang), phone: '+861088888888' }],
    ['wrong ID check character', { ...claimOf(zhang), idNumber: '110105194912310021' }],
    ['empty name', { ...claimOf(zhang), name: '' }],
    ['missing phone', { name: zhang.name, idNumber: zhang.idNumber, cardNumber: zhang.cardNumber } as BankCardClaim],
  ];
  for (const [label, claim] of cases) {
    const error = await failureOf(verifier.verify(claim));
    t.equal(error.code, 'rejected', label);
    t.equal(error.status, 400, label);
    t.equal(error.remoteError, 'invalid_request', label);
    t.notMatch(error.message, /6222020200123456|11010519491231002|13800138000|张/, `${label}: no personal data in the message`);
  }
  t.equal((await signedRaw([zhang.name, zhang.idNumber, zhang.cardNumber, zhang.phone])()).status, 400, 'array body');
  t.equal((await signedRaw({ ...claimOf(zhang), cvv: '123' })()).status, 400, 'unknown field');
});

t.test('wrong credentials are rejected', async (t) => {
  const wrongSecret = createHttpBankCardVerifier({ url: sandbox.url, appId: APP_ID, secret: 'not-the-secret', timeoutMs: 2000 });
  const error = await failureOf(wrongSecret.verify(claimOf(zhang)));
  t.equal(error.code, 'rejected');
  t.equal(error.status, 401);
  t.equal(error.remoteError, 'invalid_signature');

  const unknownApp = createHttpBankCardVerifier({ url: sandbox.url, appId: 'someone-else', secret: SECRET, timeoutMs: 2000 });
  t.equal((await failureOf(unknownApp.verify(claimOf(zhang)))).remoteError, 'unknown_app');
});

t.test('a replayed request is refused with 401 replayed_nonce', async (t) => {
  const send = signedRaw(claimOf(li));
  const first = await send();
  t.equal(first.status, 200);
  t.equal(first.body.result, 'match');
  t.same(await send(), { status: 401, body: { error: 'replayed_nonce' } });
});

t.test('requests() counts the signed requests that reached the endpoint', async (t) => {
  const before = sandbox.requests();
  await verifier.verify(claimOf(zhao));
  await failureOf(verifier.verify(claimOf(sun!)));
  await failureOf(verifier.verify({ ...claimOf(zhao), phone: '13600136000' }));
  t.equal(sandbox.requests(), before + 3, 'match, outage and malformed body');
  const wrongSecret = createHttpBankCardVerifier({ url: sandbox.url, appId: APP_ID, secret: 'not-the-secret', timeoutMs: 2000 });
  await failureOf(wrongSecret.verify(claimOf(zhao)));
  t.equal(sandbox.requests(), before + 3, 'an unsigned request is not counted');
});

t.test('a malformed vendor answer is a bad_response', async (t) => {
  const answers: [string, string][] = [
    ['boolean match instead of result', '{"match":true,"transactionId":"tx-1"}'],
    ['unknown result', '{"result":"partial","transactionId":"tx-1"}'],
    ['which element mismatched', '{"result":"mismatch","transactionId":"tx-1","mismatched":"phone"}'],
    ['no transaction id', '{"result":"match"}'],
    ['empty transaction id', '{"result":"match","transactionId":""}'],
    ['transaction id with a space', '{"result":"match","transactionId":"tx 1"}'],
    ['numeric transaction id', '{"result":"match","transactionId":1}'],
    ['array', '["match","tx-1"]'],
    ['null', 'null'],
    ['not JSON', 'match'],
  ];
  let answer = '';
  const stub = await startStub((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end(answer);
  });
  t.teardown(() => stub.close());
  const client = createHttpBankCardVerifier({ url: stub.url, appId: APP_ID, secret: SECRET, timeoutMs: 2000, name: 'unionpay' });
  answer = '{"result":"match","transactionId":"tx-1"}';
  t.same(await client.verify(claimOf(zhang)), { match: true, transactionId: 'tx-1' }, 'a well-formed answer is accepted');
  for (const [label, text] of answers) {
    answer = text;
    const error = await failureOf(client.verify(claimOf(zhang)));
    t.equal(error.code, 'bad_response', label);
    t.equal(error.connector, 'unionpay', label);
  }
});

t.test('the client refuses plain http to a remote host', async (t) => {
  t.throws(() => createHttpBankCardVerifier({ url: 'http://bankcard.example.com', appId: APP_ID, secret: SECRET, timeoutMs: 2000 }));
  t.doesNotThrow(() => createHttpBankCardVerifier({ url: 'https://bankcard.example.com', appId: APP_ID, secret: SECRET, timeoutMs: 2000 }));
});

t.test('the sandbox refuses an invalid card list and a non-loopback address', async (t) => {
  const start = (list: unknown, host?: string) =>
    startSandboxBankCardService({ appId: APP_ID, secret: SECRET, cards: list as BankCardClaim[], host });
  await t.rejects(start([{ ...claimOf(zhang), cardNumber: '6222020200123456789' }]), 'card failing Luhn');
  await t.rejects(start([{ ...claimOf(zhang), idNumber: '110105194912310021' }]), 'bad ID number');
  await t.rejects(start([{ ...claimOf(zhang), phone: '13800138000' }]), 'phone not in E.164 form');
  await t.rejects(start([{ ...claimOf(zhang), name: ' 张三' }]), 'untrimmed name');
  await t.rejects(start([{ ...claimOf(zhang), outage: 'yes' }]), 'outage not a boolean');
  await t.rejects(start([{ ...claimOf(zhang), cvv: '123' }]), 'unknown field');
  await t.rejects(start([claimOf(zhang), { ...claimOf(li), cardNumber: zhang.cardNumber }]), 'duplicate card number');
  await t.rejects(start(cards, '0.0.0.0'), 'non-loopback address');
});
