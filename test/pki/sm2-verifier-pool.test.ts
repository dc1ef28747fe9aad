import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { sm2 } from 'sm-crypto-v2';
import { installGmEngine, SM2_DEFAULT_USER_ID, verifySm2 } from '../../src/pki/gm-engine.ts';
import {
  configureSharedSm2VerifierPool, createSm2VerifierPool, Sm2VerifierUnavailableError, type Sm2VerificationRequest,
} from '../../src/pki/sm2-verifier-pool.ts';
import { createTestPki } from '../helpers/test-pki.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const bytes = (hexString: string) => new Uint8Array(Buffer.from(hexString, 'hex'));
const encode = (text: string) => new TextEncoder().encode(text);
const flip = (value: Uint8Array, index: number): Uint8Array => {
  const copy = Uint8Array.from(value);
  copy[index] ^= 0x01;
  return copy;
};

function keyPair() {
  const { privateKey, publicKey } = sm2.generateKeyPairHex();
  return { privateKey, publicKey: bytes(publicKey), compressed: bytes(sm2.compressPublicKeyHex(publicKey)) };
}

const sign = (message: Uint8Array, privateKey: string, userId = SM2_DEFAULT_USER_ID) =>
  bytes(sm2.doSignature(message, privateKey, { der: true, hash: true, userId }));

/** The same verification run directly on this thread, as verifySm2 did before the pool. */
function direct(request: Sm2VerificationRequest): boolean {
  try {
    return sm2.doVerifySignature(request.data, hex(request.signature), hex(request.publicKey), { der: true, hash: true, userId: request.userId });
  } catch {
    return false;
  }
}

/** Worker threads started from now on, as the pool starts them (the process's own `worker` event, not a hook of ours). */
function watchWorkers(t: Test): Worker[] {
  const started: Worker[] = [];
  const onWorker = (worker: Worker) => started.push(worker);
  process.on('worker', onWorker);
  t.teardown(() => { process.off('worker', onWorker); });
  return started;
}

const alice = keyPair();
const bob = keyPair();
const message = encode('GOV-IDP-CERT-LOGIN/1\nnonce=4f1c2a');
const good = sign(message, alice.privateKey);
const request = (overrides: Partial<Sm2VerificationRequest> = {}): Sm2VerificationRequest =>
  ({ data: message, signature: good, publicKey: alice.publicKey, userId: SM2_DEFAULT_USER_ID, ...overrides });

t.test('answers as a direct verification does, for good and bad signatures', async (t) => {
  const pool = createSm2VerifierPool({ workers: 1 });
  t.teardown(() => pool.close());
  const otherId = sign(message, alice.privateKey, 'alice@example.gov.cn');
  const cases: [string, Sm2VerificationRequest, boolean][] = [
    ['valid, uncompressed key', request(), true],
    ['valid, compressed key', request({ publicKey: alice.compressed }), true],
    ['valid with its own user ID', request({ signature: otherId, userId: 'alice@example.gov.cn' }), true],
    ['another user ID than the signer used', request({ signature: otherId }), false],
    ['an empty user ID', request({ userId: '' }), false],
    ['tampered message', request({ data: flip(message, 3) }), false],
    ['flipped last signature byte', request({ signature: flip(good, good.length - 1) }), false],
    ['flipped byte in r', request({ signature: flip(good, 8) }), false],
    ['wrong key', request({ publicKey: bob.publicKey }), false],
    ['signed by another key', request({ signature: sign(message, bob.privateKey) }), false],
    ['empty message, its own signature', request({ data: new Uint8Array(), signature: sign(new Uint8Array(), alice.privateKey) }), true],
    ['empty signature', request({ signature: new Uint8Array() }), false],
    ['one byte', request({ signature: new Uint8Array([0x30]) }), false],
    ['random 71 bytes', request({ signature: new Uint8Array(randomBytes(71)) }), false],
    ['raw r‖s instead of DER', request({ signature: new Uint8Array(64) }), false],
    ['a point not on the curve', request({ publicKey: bytes(`04${'11'.repeat(64)}`) }), false],
    ['an empty key', request({ publicKey: new Uint8Array() }), false],
  ];
  for (const [label, input, expected] of cases) {
    const answer = await pool.verify(input);
    t.equal(answer, expected, label);
    t.equal(answer, direct(input), `${label}: same as on the main thread`);
  }
  t.equal(await pool.verify({ ...request(), data: 'not bytes' as unknown as Uint8Array }), false, 'a message that is not bytes');
  t.equal(await pool.verify({ ...request(), userId: undefined as unknown as string }), false, 'no user ID');
});

t.test('verifySm2 and certificate signatures go through the pool', async (t) => {
  installGmEngine();
  const pki = createTestPki(t);
  const ca = pki.root({ name: 'Pool SM2 Root', keyType: 'sm2' });
  const leaf = ca.leaf({ keyType: 'sm2' });
  const other = ca.leaf({ keyType: 'sm2' });
  const ecLeaf = pki.root({ name: 'Pool EC Root', keyType: 'ec' }).leaf({ keyType: 'ec' });
  const spki = leaf.cert.pkijs.subjectPublicKeyInfo;
  t.equal(await verifySm2(message, leaf.sign(message), spki), true, 'a challenge signed with the leaf key');
  t.equal(await verifySm2(message, other.sign(message), spki), false, 'signed by another leaf');
  t.equal(await verifySm2(message, leaf.sign(message, { encoding: 'raw' }), spki), false, 'raw r‖s is not DER');
  t.equal(await verifySm2(message, new Uint8Array(randomBytes(72)), spki), false, 'garbage');
  t.equal(await verifySm2(message, leaf.sign(message), ecLeaf.cert.pkijs.subjectPublicKeyInfo), false, 'a P-256 key is never used as SM2');
  t.equal(await leaf.cert.pkijs.verify(ca.cert.pkijs), true, 'the leaf certificate, signed by OpenSSL, under its CA key');
  t.equal(await leaf.cert.pkijs.verify(leaf.cert.pkijs), false, 'the leaf certificate under its own key');
});

t.test('many verifications at once: every answer belongs to its own request', async (t) => {
  const pool = createSm2VerifierPool({ workers: 2 });
  t.teardown(() => pool.close());
  const inputs = Array.from({ length: 120 }, (_, i) => {
    const data = encode(`challenge ${i}`);
    const signer = i % 3 === 0 ? bob : alice;
    return { input: request({ data, signature: sign(data, signer.privateKey) }), expected: signer === alice };
  });
  const answers = await Promise.all(inputs.map(({ input }) => pool.verify(input)));
  t.same(answers, inputs.map(({ expected }) => expected), 'valid for alice\'s, invalid for bob\'s');
  t.equal(answers.filter(Boolean).length, 80, 'two thirds valid');
  t.ok(inputs.every(({ input }) => input.data.byteLength > 0 && input.signature.byteLength > 0), 'the callers\' buffers are not transferred away');
});

t.test('the queue is bounded', async (t) => {
  const pool = createSm2VerifierPool({ workers: 1, maxQueue: 2 });
  t.teardown(() => pool.close());
  const settled = await Promise.allSettled(Array.from({ length: 5 }, () => pool.verify(request())));
  t.same(settled.slice(0, 3).map((s) => s.status === 'fulfilled' && s.value), [true, true, true], 'one verifying and two waiting are answered');
  for (const refused of settled.slice(3)) {
    t.equal(refused.status, 'rejected');
    const reason = (refused as PromiseRejectedResult).reason;
    t.ok(reason instanceof Sm2VerifierUnavailableError, 'a typed error');
    t.equal(reason.code, 'sm2_verifier_busy');
  }
  t.equal(await pool.verify(request()), true, 'accepted again once the queue drained');
});

t.test('a worker that crashes fails its verification and is replaced', async (t) => {
  const started = watchWorkers(t);
  const pool = createSm2VerifierPool({ workers: 1 });
  t.teardown(() => pool.close());

  t.equal(await pool.verify(request()), true, 'first verification');
  t.equal(started.length, 1, 'one worker started');
  const [first] = started;

  // A malformed message is an uncaught exception in the worker: it dies while the next two requests wait on it.
  first.postMessage({ id: 'not a job' });
  const [crashed, queuedGood, queuedBad] = await Promise.allSettled([
    pool.verify(request()), pool.verify(request()), pool.verify(request({ publicKey: bob.publicKey })),
  ]);
  t.equal(crashed.status, 'rejected', 'the verification in the crashed worker fails');
  const reason = (crashed as PromiseRejectedResult).reason;
  t.ok(reason instanceof Sm2VerifierUnavailableError, 'with a typed error');
  t.equal(reason.code, 'sm2_verifier_crashed');
  t.match(reason.message, /malformed SM2 verification job/, 'naming the worker\'s error');
  t.same([queuedGood, queuedBad].map((s) => s.status === 'fulfilled' && s.value), [true, false], 'waiting requests are answered by the new worker');
  t.equal(started.length, 2, 'a second worker was started');

  // Killed from outside in the middle of a verification.
  const second = started[1];
  const pending = pool.verify(request());
  await second.terminate();
  await t.rejects(pending, { code: 'sm2_verifier_crashed' }, 'the interrupted verification fails');
  if (started.length < 3) await once(process, 'worker');
  t.equal(started.length, 3, 'a worker that had answered before is replaced straight away');
  t.equal(await pool.verify(request()), true, 'verifications work again');
  t.equal(await pool.verify(request({ data: flip(message, 0) })), false, 'and still refuse bad signatures');
});

t.test('close refuses waiting and later verifications', async (t) => {
  const pool = createSm2VerifierPool({ workers: 1 });
  const answers = Promise.allSettled([pool.verify(request()), pool.verify(request())]);
  await pool.close();
  for (const answer of await answers) {
    t.equal(answer.status, 'rejected');
    t.equal((answer as PromiseRejectedResult).reason.code, 'sm2_verifier_closed', 'the verifying one and the waiting one');
  }
  await t.rejects(pool.verify(request()), { code: 'sm2_verifier_closed' });
});

t.test('bad pool settings are refused', async (t) => {
  t.throws(() => createSm2VerifierPool({ workers: 0 }), RangeError);
  t.throws(() => createSm2VerifierPool({ workers: 1.5 }), RangeError);
  t.throws(() => createSm2VerifierPool({ maxQueue: -1 }), RangeError);
  await t.rejects(configureSharedSm2VerifierPool({ workers: 0 }), RangeError);
  t.equal(createSm2VerifierPool().workers >= 1, true, 'the default has at least one worker');
});

t.test('a script that verifies and ends exits by itself (idle workers do not keep it alive)', async (t) => {
  const pool = fileURLToPath(new URL('../../src/pki/sm2-verifier-pool.ts', import.meta.url));
  const script = `
    import { sharedSm2VerifierPool } from ${JSON.stringify(pool)};
    const input = ${JSON.stringify({ data: hex(message), signature: hex(good), publicKey: hex(alice.publicKey) })};
    const b = (h) => new Uint8Array(Buffer.from(h, 'hex'));
    const request = { data: b(input.data), signature: b(input.signature), publicKey: b(input.publicKey), userId: '1234567812345678' };
    const valid = await sharedSm2VerifierPool().verify(request);
    const tampered = await sharedSm2VerifierPool().verify({ ...request, data: b('00') });
    console.log(valid, tampered);
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  t.equal(run.signal, null, `not killed for hanging${run.stderr ? `; stderr: ${run.stderr}` : ''}`);
  t.equal(run.status, 0, 'exit code 0 (13 would mean a verification was left unanswered)');
  t.equal(run.stdout.trim(), 'true false', 'both answers arrived');
});
