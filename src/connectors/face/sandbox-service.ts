import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import Fastify from 'fastify';
import type { FastifyReply } from 'fastify';
import { idNumberCheckChar, validateIdNumber } from '../../identity/id-number.ts';
import { invalidRequest, isPlainObject, startSignedSandbox } from '../sandbox-server.ts';
import type { RunningSandbox, SandboxReply } from '../sandbox-server.ts';
import { assertConnectorUrl, isLoopbackHost, postSigned } from '../signed-http.ts';
import { FACE_RESULT_PATH, FACE_START_PATH } from './http-client.ts';
import { FACE_NONCE, FACE_TRANSACTION_ID } from './result.ts';
import type { FaceFinalResult, FaceVerificationResult } from './types.ts';

export type SandboxFaceOutcome = 'match' | 'no_match' | 'liveness_fail' | 'timeout' | 'vendor_error';

export type SandboxFaceSubject = Readonly<{ idNumber: string; outcome: SandboxFaceOutcome; score?: number }>;

export type SandboxFaceTransaction = Readonly<{
  transactionId: string;
  nonce: string;
  outcome: Exclude<SandboxFaceOutcome, 'vendor_error'>;
  /** ISO 8601 */
  createdAt: string;
  /** ISO 8601 */
  expiresAt: string;
  /** The capture form was submitted. */
  captured: boolean;
  result: FaceVerificationResult;
  callback: 'not_sent' | 'sending' | 'delivered' | 'failed';
}>;

export type SandboxFaceService = {
  /** Base URL of the signed API, for createHttpFaceService. */
  url: string;
  /** Newest first, as of the sandbox clock. */
  transactions(): readonly SandboxFaceTransaction[];
  close(): Promise<void>;
};

export const SANDBOX_FACE_TTL_MS = 5 * 60 * 1000;
export const SANDBOX_FACE_CALLBACK_TIMEOUT_MS = 2000;

const OUTCOMES: readonly SandboxFaceOutcome[] = ['match', 'no_match', 'liveness_fail', 'timeout', 'vendor_error'];
const DEFAULT_SCORES: Readonly<Record<string, number>> = { match: 92, no_match: 35 };
const UNLISTED_SUBJECT = { outcome: 'no_match', score: 20 } as const;
const SUBJECT_KEYS = new Set(['idNumber', 'outcome', 'score']);
const START_KEYS = new Set(['name', 'idNumber', 'nonce', 'callbackUrl', 'returnUrl']);
const ID_NUMBER_18 = /^\d{17}[\dX]$/;
const MAX_NAME_LENGTH = 50;
const MAX_URL_LENGTH = 2048;
const MAX_TRANSACTIONS = 1000;

/** Errors name the position in the list only, never the data. */
export function parseSandboxFaceSubjects(value: unknown): readonly SandboxFaceSubject[] {
  if (!Array.isArray(value)) throw new Error('sandbox face subjects must be an array');
  const seen = new Set<string>();
  return Object.freeze(
    value.map((entry: unknown, index) => {
      if (!isPlainObject(entry)) throw new Error(`sandbox face subject #${index}: must be an object`);
      for (const key of Object.keys(entry)) {
        if (!SUBJECT_KEYS.has(key)) throw new Error(`sandbox face subject #${index}: unknown field "${key.slice(0, 32)}"`);
      }
      const { idNumber, outcome, score } = entry;
      const checked = typeof idNumber === 'string' ? validateIdNumber(idNumber) : undefined;
      if (checked === undefined || !checked.ok || checked.idNumber !== idNumber) {
        throw new Error(`sandbox face subject #${index}: idNumber must be a valid 18-character citizen ID number (GB 11643)`);
      }
      if (seen.has(idNumber as string)) throw new Error(`sandbox face subject #${index}: duplicate idNumber`);
      seen.add(idNumber as string);
      if (typeof outcome !== 'string' || !OUTCOMES.includes(outcome as SandboxFaceOutcome)) {
        throw new Error(`sandbox face subject #${index}: outcome must be one of ${OUTCOMES.join(', ')}`);
      }
      if (score === undefined) return Object.freeze({ idNumber: idNumber as string, outcome: outcome as SandboxFaceOutcome });
      if (outcome !== 'match' && outcome !== 'no_match') throw new Error(`sandbox face subject #${index}: only match and no_match take a score`);
      if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 100) {
        throw new Error(`sandbox face subject #${index}: score must be a number from 0 to 100`);
      }
      return Object.freeze({ idNumber: idNumber as string, outcome, score });
    }),
  );
}

/** Reads `{ "subjects": [{ "idNumber", "outcome", "score"? }, …] }` (config/sandbox-face-service.json). */
export async function loadSandboxFaceSubjects(path: string): Promise<readonly SandboxFaceSubject[]> {
  const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
  if (!isPlainObject(parsed)) throw new Error('sandbox face service file must hold a JSON object');
  return parseSandboxFaceSubjects(parsed.subjects);
}

type StartRequest = { idNumber: string; nonce: string; callbackUrl: string; returnUrl: string };

function isWellFormedName(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const length = Array.from(value).length;
  return length >= 1 && length <= MAX_NAME_LENGTH && !/\p{Cc}/u.test(value);
}

function httpUrl(value: unknown): URL | undefined {
  if (typeof value !== 'string' || value.length > MAX_URL_LENGTH || !URL.canParse(value)) return undefined;
  const url = new URL(value);
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '') return undefined;
  return url;
}

// Descriptions name the rule, never the submitted value.
function validateStart(body: unknown): { ok: true; request: StartRequest } | { ok: false; reply: SandboxReply } {
  const refuse = (description: string) => ({ ok: false, reply: invalidRequest(description) }) as const;
  if (!isPlainObject(body)) return refuse('the body must be a JSON object');
  for (const key of Object.keys(body)) if (!START_KEYS.has(key)) return refuse(`unknown field "${key.slice(0, 32)}"`);
  const { name, idNumber, nonce, callbackUrl, returnUrl } = body;
  if (!isWellFormedName(name)) return refuse(`name must be a string of 1 to ${MAX_NAME_LENGTH} characters`);
  if (typeof idNumber !== 'string' || !ID_NUMBER_18.test(idNumber) || idNumberCheckChar(idNumber.slice(0, 17)) !== idNumber[17]) {
    return refuse('idNumber must be 18 characters (17 digits and a digit or X) with a valid check character');
  }
  if (typeof nonce !== 'string' || !FACE_NONCE.test(nonce)) return refuse('nonce must be 16 to 128 base64url characters');
  const callback = httpUrl(callbackUrl);
  let callbackAllowed = callback !== undefined;
  try {
    if (callback !== undefined) assertConnectorUrl(callback.href);
  } catch {
    callbackAllowed = false;
  }
  if (!callbackAllowed) return refuse('callbackUrl must be an https URL (plain http only on a loopback address) without credentials');
  if (httpUrl(returnUrl) === undefined) return refuse('returnUrl must be an absolute http(s) URL without credentials');
  return { ok: true, request: { idNumber, nonce, callbackUrl: callbackUrl as string, returnUrl: returnUrl as string } };
}

const STYLE =
  'body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:2rem auto;max-width:36rem;padding:0 1rem;color:#1f2328}' +
  '.en{color:#59636e}button{font-size:1.1rem;padding:.6rem 1.6rem}.sandbox{border-left:4px solid #bf8700;background:#fff8c5;padding:.5rem 1rem}';

/**
 * No script at all; the one inline style is allowed by its hash. `form-action` is deliberately absent, as in
 * PAGE_CSP of the identity server: browsers apply it to the redirect after the POST, which goes to `returnUrl`.
 */
export const SANDBOX_FACE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => ESCAPES[c]);

function page(title: { zh: string; en: string }, body: string): string {
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title.zh)} / ${escapeHtml(title.en)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(title.zh)} <span class="en" lang="en">${escapeHtml(title.en)}</span></h1>
${body}
<p class="sandbox">沙箱服务：核验结果由测试数据决定。<br><span lang="en">Sandbox service: the outcome is set by test data.</span></p>
</main>
</body>
</html>
`;
}

function sendPage(reply: FastifyReply, status: number, markup: string) {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', SANDBOX_FACE_CSP)
    .header('x-frame-options', 'DENY')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store')
    .send(markup);
}

const capturePage = (transactionId: string) =>
  page(
    { zh: '人脸核验', en: 'Face verification' },
    `<p id="capture-instruction">请正对摄像头<br><span lang="en">Face the camera</span></p>
<form method="post" action="/capture/${escapeHtml(transactionId)}">
<button id="capture-submit" type="submit" aria-describedby="capture-instruction">开始检测 <span lang="en">Start</span></button>
</form>`,
  );

const processingPage = () =>
  page(
    { zh: '正在处理', en: 'Processing' },
    '<p id="capture-status">正在处理，请稍候。<br><span lang="en">Processing, please wait.</span></p>',
  );

const endedPage = (title: { zh: string; en: string }, returnTo: string) =>
  page(title, `<p><a id="return-link" href="${escapeHtml(returnTo)}">返回 <span lang="en">Return</span></a></p>`);

const notFoundPage = () =>
  page({ zh: '未找到核验', en: 'Verification not found' }, '<p>链接无效或已失效。<br><span lang="en">This link is not valid.</span></p>');

type Transaction = {
  transactionId: string;
  nonce: string;
  outcome: Exclude<SandboxFaceOutcome, 'vendor_error'>;
  score?: number;
  callbackUrl: string;
  returnUrl: string;
  createdAtMs: number;
  expiresAtMs: number;
  captured: boolean;
  final?: FaceFinalResult;
  callback: SandboxFaceTransaction['callback'];
};

/**
 * Development stand-in for the face-verification vendor (protocol in types.ts): same endpoints and signature
 * checks, plus the browser capture page. The outcome comes from `subjects` by ID number (unlisted: no_match,
 * score 20), never from the page or the caller, so a login flow cannot pass by clicking. The signed API is
 * served by the shared sandbox server; the capture page by a second loopback server, since the shared one only
 * takes signed JSON. `now` (ms) drives creation, completion and expiry times, not the signature clock. There are
 * no timers: an unfinished verification turns `expired` when it is looked at after 5 minutes, and the expiry
 * is called back only if the person submits the capture form after it.
 */
export async function startSandboxFaceService(options: {
  appId: string;
  secret: string;
  vendorAppId: string;
  vendorSecret: string;
  subjects: readonly SandboxFaceSubject[];
  host?: string;
  port?: number;
  capturePort?: number;
  /** Processing time between the capture form and the result (default 0). */
  latencyMs?: number;
  now?: () => number;
  log?: (line: string) => void;
}): Promise<SandboxFaceService> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) throw new Error('a sandbox connector listens on a loopback address only');
  if (!options.vendorAppId || !options.vendorSecret) throw new Error('the sandbox face service needs the vendor app id and secret');
  const latencyMs = options.latencyMs ?? 0;
  if (!Number.isInteger(latencyMs) || latencyMs < 0) throw new Error('latencyMs must be a non-negative integer');
  const now = options.now ?? Date.now;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const subjects = new Map(parseSandboxFaceSubjects(options.subjects).map((subject) => [subject.idNumber, subject]));
  const store = new Map<string, Transaction>();

  const iso = (ms: number) => new Date(ms).toISOString();

  function resultOf(transaction: Transaction): FaceVerificationResult {
    const { transactionId, nonce } = transaction;
    if (transaction.final === undefined && now() >= transaction.expiresAtMs) {
      transaction.final = { transactionId, nonce, status: 'expired', completedAt: iso(transaction.expiresAtMs) };
    }
    return transaction.final ?? { transactionId, nonce, status: 'pending' };
  }

  function complete(transaction: Transaction): FaceFinalResult {
    const { transactionId, nonce } = transaction;
    const completedAt = iso(now());
    if (transaction.outcome === 'liveness_fail') return { transactionId, nonce, status: 'completed', liveness: 'fail', completedAt };
    const score = transaction.score ?? DEFAULT_SCORES[transaction.outcome];
    return { transactionId, nonce, status: 'completed', liveness: 'pass', score, completedAt };
  }

  async function deliverCallback(transaction: Transaction, result: FaceFinalResult) {
    transaction.callback = 'sending';
    const target = new URL(transaction.callbackUrl);
    try {
      await postSigned({
        url: target.origin,
        path: target.pathname + target.search,
        appId: options.vendorAppId,
        secret: options.vendorSecret,
        body: result,
        timeoutMs: SANDBOX_FACE_CALLBACK_TIMEOUT_MS,
        connector: 'sandbox-face-callback',
      });
      transaction.callback = 'delivered';
    } catch (error) {
      transaction.callback = 'failed';
      // ConnectorError messages carry no personal data.
      log(`[sandbox-face] transaction=${transaction.transactionId} callback not delivered: ${error instanceof Error ? error.message : 'error'}`);
    }
  }

  function returnTarget(transaction: Transaction): string {
    const target = new URL(transaction.returnUrl);
    target.searchParams.set('transactionId', transaction.transactionId);
    return target.href;
  }

  const pages = Fastify({ logger: false, bodyLimit: 1024 });
  // The capture form has no fields: its body is never read.
  pages.removeAllContentTypeParsers();
  pages.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (_request, _body, done) => done(null, undefined));
  pages.setNotFoundHandler((_request, reply) => sendPage(reply, 404, notFoundPage()));
  pages.setErrorHandler((error: { statusCode?: number }, _request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    return reply.code(status).header('content-type', 'text/plain; charset=utf-8').send(status < 500 ? 'invalid request' : 'server error');
  });

  pages.get<{ Params: { transactionId: string } }>('/capture/:transactionId', async (request, reply) => {
    const transaction = store.get(request.params.transactionId);
    if (transaction === undefined) return sendPage(reply, 404, notFoundPage());
    const result = resultOf(transaction);
    if (result.status === 'expired') return sendPage(reply, 410, endedPage({ zh: '核验已过期', en: 'Verification expired' }, returnTarget(transaction)));
    if (result.status !== 'pending') return sendPage(reply, 200, endedPage({ zh: '核验已结束', en: 'Verification finished' }, returnTarget(transaction)));
    return sendPage(reply, 200, transaction.captured ? processingPage() : capturePage(transaction.transactionId));
  });

  pages.post<{ Params: { transactionId: string } }>('/capture/:transactionId', async (request, reply) => {
    const transaction = store.get(request.params.transactionId);
    if (transaction === undefined) return sendPage(reply, 404, notFoundPage());
    const redirect = () =>
      reply.code(303).header('location', returnTarget(transaction)).header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').send();

    const current = resultOf(transaction);
    if (current.status !== 'pending') {
      // An expiry noticed here is called back once; a finished verification is not called back again.
      if (transaction.callback === 'not_sent') await deliverCallback(transaction, current);
      return redirect();
    }
    if (transaction.captured) return sendPage(reply, 200, processingPage());
    transaction.captured = true;
    if (transaction.outcome === 'timeout') {
      log(`[sandbox-face] transaction=${transaction.transactionId} captured, never completes (timeout)`);
      return sendPage(reply, 200, processingPage());
    }
    if (latencyMs > 0) await delay(latencyMs);
    transaction.final ??= complete(transaction);
    log(`[sandbox-face] transaction=${transaction.transactionId} ${transaction.final.status} outcome=${transaction.outcome}`);
    if (transaction.callback === 'not_sent') await deliverCallback(transaction, transaction.final);
    return redirect();
  });

  await pages.listen({ host, port: options.capturePort ?? 0 });
  const address = pages.server.address() as AddressInfo;
  const captureBase = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  let api: RunningSandbox;
  try {
    api = await startSignedSandbox({
      appId: options.appId,
      secret: options.secret,
      host,
      port: options.port,
      routes: [
        {
          path: FACE_START_PATH,
          handle(body) {
            const checked = validateStart(body);
            if (!checked.ok) return checked.reply;
            const { idNumber, nonce, callbackUrl, returnUrl } = checked.request;
            const subject = subjects.get(idNumber) ?? UNLISTED_SUBJECT;
            if (subject.outcome === 'vendor_error') {
              log('[sandbox-face] start refused with 503 (vendor_error)');
              return { status: 503, body: { error: 'temporarily_unavailable' } };
            }
            const createdAtMs = now();
            const transaction: Transaction = {
              transactionId: `sandbox-face-${randomUUID()}`,
              nonce,
              outcome: subject.outcome,
              score: subject.score,
              callbackUrl,
              returnUrl,
              createdAtMs,
              expiresAtMs: createdAtMs + SANDBOX_FACE_TTL_MS,
              captured: false,
              callback: 'not_sent',
            };
            store.set(transaction.transactionId, transaction);
            // Map iteration is insertion order: the first key is the oldest.
            if (store.size > MAX_TRANSACTIONS) store.delete(store.keys().next().value as string);
            log(`[sandbox-face] transaction=${transaction.transactionId} started outcome=${transaction.outcome}`);
            return {
              status: 200,
              body: {
                transactionId: transaction.transactionId,
                captureUrl: `${captureBase}/capture/${transaction.transactionId}`,
                expiresAt: iso(transaction.expiresAtMs),
              },
            };
          },
        },
        {
          path: FACE_RESULT_PATH,
          handle(body) {
            if (!isPlainObject(body)) return invalidRequest('the body must be a JSON object');
            for (const key of Object.keys(body)) if (key !== 'transactionId') return invalidRequest(`unknown field "${key.slice(0, 32)}"`);
            const { transactionId } = body;
            if (typeof transactionId !== 'string' || !FACE_TRANSACTION_ID.test(transactionId)) {
              return invalidRequest('transactionId must be 1 to 128 letters, digits, ".", "_" or "-"');
            }
            const transaction = store.get(transactionId);
            if (transaction === undefined) return { status: 404, body: { error: 'unknown_transaction' } };
            return { status: 200, body: resultOf(transaction) };
          },
        },
      ],
    });
  } catch (error) {
    await pages.close();
    throw error;
  }

  return {
    url: api.url,
    transactions: () =>
      [...store.values()].toReversed().map((transaction) =>
        Object.freeze({
          transactionId: transaction.transactionId,
          nonce: transaction.nonce,
          outcome: transaction.outcome,
          createdAt: iso(transaction.createdAtMs),
          expiresAt: iso(transaction.expiresAtMs),
          captured: transaction.captured,
          result: Object.freeze(resultOf(transaction)),
          callback: transaction.callback,
        }),
      ),
    close: async () => {
      await Promise.all([api.close(), pages.close()]);
    },
  };
}
