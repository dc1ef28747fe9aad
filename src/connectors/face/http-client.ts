import { ConnectorError } from '../errors.ts';
import { assertConnectorUrl, postSigned } from '../signed-http.ts';
import { FACE_TRANSACTION_ID, isIsoUtcInstant, parseFaceVerificationResult } from './result.ts';
import type { FaceService, FaceVerificationStart } from './types.ts';

export const FACE_START_PATH = '/v1/face/verifications';
export const FACE_RESULT_PATH = '/v1/face/verifications/result';

const START_KEYS = ['transactionId', 'captureUrl', 'expiresAt'];

function parseStart(value: unknown): FaceVerificationStart | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== START_KEYS.length || !keys.every((key) => START_KEYS.includes(key))) return undefined;
  const { transactionId, captureUrl, expiresAt } = value as Record<string, unknown>;
  if (typeof transactionId !== 'string' || !FACE_TRANSACTION_ID.test(transactionId)) return undefined;
  if (!isIsoUtcInstant(expiresAt) || typeof captureUrl !== 'string') return undefined;
  // The person's browser is sent there with their identity at stake: the same https rule as for our own calls.
  try {
    assertConnectorUrl(captureUrl);
  } catch {
    return undefined;
  }
  return { transactionId, captureUrl, expiresAt };
}

/** Client of the face-verification vendor's signed HTTP API (protocol in types.ts). `name` doubles as the ConnectorError connector. */
export function createHttpFaceService(options: {
  url: string;
  appId: string;
  secret: string;
  timeoutMs: number;
  name?: string;
}): FaceService {
  assertConnectorUrl(options.url);
  const name = options.name ?? 'face-verification';
  const call = (path: string, body: unknown) =>
    postSigned({ url: options.url, path, appId: options.appId, secret: options.secret, body, timeoutMs: options.timeoutMs, connector: name });
  return {
    name,
    async start(request) {
      const answer = await call(FACE_START_PATH, {
        name: request.name,
        idNumber: request.idNumber,
        nonce: request.nonce,
        callbackUrl: request.callbackUrl,
        returnUrl: request.returnUrl,
      });
      const started = parseStart(answer);
      if (started === undefined) throw new ConnectorError(name, 'bad_response', { status: 200 });
      return started;
    },
    async result(transactionId) {
      const answer = await call(FACE_RESULT_PATH, { transactionId });
      const result = parseFaceVerificationResult(answer);
      if (result === undefined || result.transactionId !== transactionId) throw new ConnectorError(name, 'bad_response', { status: 200 });
      return result;
    },
  };
}
