// SM2 signature verification in worker threads. sm-crypto-v2 is pure JavaScript (~3.4 ms a signature); on the
// server's event loop every login's challenge signature would hold up every other request for that long.
// This module is both sides: the pool (main thread) and, in a worker it started, the verifier.
import { availableParallelism, setPriority } from 'node:os';
import { isMainThread, parentPort, Worker, workerData, type MessagePort } from 'node:worker_threads';

export type Sm2VerificationRequest = {
  data: Uint8Array;
  /** DER `SEQUENCE { r, s }`. */
  signature: Uint8Array;
  /** The public point, uncompressed (04‖x‖y) or compressed (02/03‖x). */
  publicKey: Uint8Array;
  /** Signer ID hashed into Z (GM/T 0009: `1234567812345678` unless the signer used another). */
  userId: string;
};

export type Sm2VerifierPoolOptions = {
  /** Worker threads; default: one fewer than the CPUs available to this process, at least 1. */
  workers?: number;
  /** Verifications waiting for a free worker (beyond those being verified) before new ones are refused. */
  maxQueue?: number;
};

export type Sm2VerifierFailure = 'sm2_verifier_crashed' | 'sm2_verifier_busy' | 'sm2_verifier_closed';

/** No answer about the signature could be obtained (the verifier failed, not the signature). Never remembered. */
export class Sm2VerifierUnavailableError extends Error {
  readonly code: Sm2VerifierFailure;
  constructor(code: Sm2VerifierFailure, message: string) {
    super(message);
    this.name = 'Sm2VerifierUnavailableError';
    this.code = code;
  }
}

export type Sm2VerifierPool = {
  /** True if the signature verifies, false if it does not or any input is malformed; rejects with Sm2VerifierUnavailableError. */
  verify(request: Sm2VerificationRequest): Promise<boolean>;
  readonly workers: number;
  /** Stops the workers; pending and later verifications are refused with `sm2_verifier_closed`. */
  close(): Promise<void>;
};

export const DEFAULT_MAX_QUEUE = 1024;
const ROLE = 'sm2-verifier';
const VERIFIER_NICE = 10;

export const defaultWorkerCount = (): number => Math.max(1, availableParallelism() - 1);

/** One message to a worker: the three byte strings packed into one buffer that is transferred, not copied. */
type Job = { id: number; buffer: ArrayBuffer; dataLength: number; signatureLength: number; userId: string };
type Answer = { id: number; valid: boolean };

type Pending = { job: Job; resolve: (valid: boolean) => void; reject: (error: Error) => void };
type Slot = { worker?: Worker; current?: Pending; answered: boolean; crash?: Error };

function settingsOf(options: Sm2VerifierPoolOptions): { size: number; maxQueue: number } {
  const size = options.workers ?? defaultWorkerCount();
  const maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`SM2 verifier workers must be a whole number ≥ 1, got ${size}`);
  if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new RangeError(`SM2 verifier queue size must be a whole number ≥ 0, got ${maxQueue}`);
  return { size, maxQueue };
}

export function createSm2VerifierPool(options: Sm2VerifierPoolOptions = {}): Sm2VerifierPool {
  const { size, maxQueue } = settingsOf(options);

  const slots: Slot[] = Array.from({ length: size }, () => ({ answered: false }));
  const queue: Pending[] = [];
  let nextId = 1;
  let closed = false;

  function spawn(slot: Slot): Worker {
    // Workers inherit the process's Node options; `--input-type` (a script given with -e) makes a worker refuse to start.
    const execArgv = process.execArgv.filter((option) => !option.startsWith('--input-type'));
    const worker = new Worker(new URL(import.meta.url), { workerData: { role: ROLE }, execArgv });
    // An idle verifier must not keep the process alive; a busy one is ref'd so an awaited answer still arrives.
    worker.unref();
    slot.worker = worker;
    slot.answered = false;
    slot.crash = undefined;
    worker.on('message', (answer: Answer) => {
      const pending = slot.current;
      if (slot.worker !== worker || !pending || pending.job.id !== answer.id) return;
      slot.current = undefined;
      slot.answered = true;
      pending.resolve(answer.valid === true);
      const next = queue.shift();
      if (next) send(slot, next);
      else worker.unref();
    });
    worker.on('error', (error) => { if (slot.worker === worker) slot.crash = error; });
    worker.on('exit', (code) => {
      if (slot.worker !== worker) return;
      const pending = slot.current;
      const { answered, crash } = slot;
      slot.worker = undefined;
      slot.current = undefined;
      if (pending) {
        pending.reject(closed
          ? new Sm2VerifierUnavailableError('sm2_verifier_closed', 'The SM2 verifier pool was closed during the verification.')
          : new Sm2VerifierUnavailableError('sm2_verifier_crashed',
            `The SM2 verifier worker stopped (exit code ${code}${crash ? `: ${crash.message}` : ''}) during the verification.`));
      }
      if (closed) return;
      const next = queue.shift();
      if (next) send(slot, next);
      // A worker that never answered may be unable to start at all: it is started again for the next request only.
      else if (answered) spawn(slot);
    });
    return worker;
  }

  function send(slot: Slot, pending: Pending): void {
    const worker = slot.worker ?? spawn(slot);
    slot.current = pending;
    worker.ref();
    worker.postMessage(pending.job, [pending.job.buffer]);
  }

  function verify(request: Sm2VerificationRequest): Promise<boolean> {
    if (closed) return Promise.reject(new Sm2VerifierUnavailableError('sm2_verifier_closed', 'The SM2 verifier pool is closed.'));
    const { data, signature, publicKey, userId } = request;
    if (!(data instanceof Uint8Array) || !(signature instanceof Uint8Array) || !(publicKey instanceof Uint8Array) || typeof userId !== 'string') {
      return Promise.resolve(false);
    }
    const idle = slots.find((slot) => !slot.current);
    if (!idle && queue.length >= maxQueue) {
      return Promise.reject(new Sm2VerifierUnavailableError('sm2_verifier_busy',
        `${queue.length} SM2 verifications are already waiting for a worker; try again later.`));
    }
    const bytes = new Uint8Array(data.byteLength + signature.byteLength + publicKey.byteLength);
    bytes.set(data, 0);
    bytes.set(signature, data.byteLength);
    bytes.set(publicKey, data.byteLength + signature.byteLength);
    const job: Job = { id: nextId++, buffer: bytes.buffer, dataLength: data.byteLength, signatureLength: signature.byteLength, userId };
    return new Promise<boolean>((resolve, reject) => {
      const pending = { job, resolve, reject };
      if (idle) send(idle, pending);
      else queue.push(pending);
    });
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    for (const pending of queue.splice(0)) {
      pending.reject(new Sm2VerifierUnavailableError('sm2_verifier_closed', 'The SM2 verifier pool was closed before the verification started.'));
    }
    await Promise.all(slots.map((slot) => slot.worker?.terminate()));
  }

  return { verify, close, workers: size };
}

let shared: Sm2VerifierPool | undefined;
let sharedOptions: Sm2VerifierPoolOptions = {};

/** The process-wide pool the SM2 engine uses, started on first use. */
export function sharedSm2VerifierPool(): Sm2VerifierPool {
  shared ??= createSm2VerifierPool(sharedOptions);
  return shared;
}

/** Sets the process-wide pool's size; a pool already started is closed and replaced on next use. */
export async function configureSharedSm2VerifierPool(options: Sm2VerifierPoolOptions): Promise<void> {
  settingsOf(options);
  sharedOptions = { ...options };
  const previous = shared;
  shared = undefined;
  await previous?.close();
}

/** The worker's side: answers each job in order. A malformed job is a bug in the pool and crashes the worker. */
async function serve(port: MessagePort): Promise<void> {
  // The event loop serves every request; a verification only delays its own login. So when the CPUs are short, this
  // thread yields to it (Linux nice values are per thread, and pid 0 is the calling thread). Measured on 2 CPUs:
  // docs/benchmarks-certificates.md.
  try {
    setPriority(0, VERIFIER_NICE);
  } catch {
    // not permitted here: the default priority
  }
  const { sm2 } = await import('sm-crypto-v2');
  port.on('message', (job: Job) => {
    if (!(job?.buffer instanceof ArrayBuffer) || !Number.isInteger(job.id) || typeof job.userId !== 'string'
      || !Number.isInteger(job.dataLength) || !Number.isInteger(job.signatureLength)
      || job.dataLength < 0 || job.signatureLength < 0 || job.dataLength + job.signatureLength > job.buffer.byteLength) {
      throw new TypeError('malformed SM2 verification job');
    }
    const bytes = new Uint8Array(job.buffer);
    const signatureEnd = job.dataLength + job.signatureLength;
    const data = bytes.subarray(0, job.dataLength);
    const signatureHex = Buffer.from(bytes.subarray(job.dataLength, signatureEnd)).toString('hex');
    const pointHex = Buffer.from(bytes.subarray(signatureEnd)).toString('hex');
    let valid = false;
    try {
      valid = sm2.doVerifySignature(data, signatureHex, pointHex, { der: true, hash: true, userId: job.userId });
    } catch {
      valid = false; // malformed signature or point: not a valid signature
    }
    port.postMessage({ id: job.id, valid } satisfies Answer);
  });
}

if (!isMainThread && (workerData as { role?: unknown } | null)?.role === ROLE) await serve(parentPort!);
