// Strict checks of the face-verification wire format (protocol in types.ts), shared by client, callback and sandbox.
import type { FaceFinalResult, FaceVerificationResult } from './types.ts';

export const FACE_TRANSACTION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const FACE_NONCE = /^[A-Za-z0-9_-]{16,128}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

const PENDING_KEYS = ['transactionId', 'nonce', 'status'];
const PASS_KEYS = [...PENDING_KEYS, 'liveness', 'score', 'completedAt'];
const FAIL_KEYS = [...PENDING_KEYS, 'liveness', 'completedAt'];
const ENDED_KEYS = [...PENDING_KEYS, 'completedAt'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasExactKeys(value: Record<string, unknown>, keys: readonly string[]): boolean {
  const present = Object.keys(value);
  return present.length === keys.length && present.every((key) => keys.includes(key));
}

export function isIsoUtcInstant(value: unknown): value is string {
  if (typeof value !== 'string' || !ISO_UTC.test(value)) return false;
  const ms = Date.parse(value);
  // Date.parse rolls 2025-02-30 over to March: compare the calendar fields back.
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 19) === value.slice(0, 19);
}

function isScore(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 100;
}

/** `undefined` for anything that is not exactly one of the shapes of the protocol. */
export function parseFaceVerificationResult(value: unknown): FaceVerificationResult | undefined {
  if (!isObject(value)) return undefined;
  const { transactionId, nonce, status, liveness, score, completedAt } = value;
  if (typeof transactionId !== 'string' || !FACE_TRANSACTION_ID.test(transactionId)) return undefined;
  if (typeof nonce !== 'string' || !FACE_NONCE.test(nonce)) return undefined;

  if (status === 'pending') return hasExactKeys(value, PENDING_KEYS) ? { transactionId, nonce, status } : undefined;
  if (!isIsoUtcInstant(completedAt)) return undefined;
  if (status === 'completed' && liveness === 'pass') {
    return hasExactKeys(value, PASS_KEYS) && isScore(score) ? { transactionId, nonce, status, liveness, score, completedAt } : undefined;
  }
  if (status === 'completed' && liveness === 'fail') {
    return hasExactKeys(value, FAIL_KEYS) ? { transactionId, nonce, status, liveness, completedAt } : undefined;
  }
  if (status === 'failed' || status === 'expired') {
    return hasExactKeys(value, ENDED_KEYS) ? { transactionId, nonce, status, completedAt } : undefined;
  }
  return undefined;
}

/** A callback reports an ended verification: `pending` is a protocol violation there. */
export function parseFaceFinalResult(value: unknown): FaceFinalResult | undefined {
  const result = parseFaceVerificationResult(value);
  return result === undefined || result.status === 'pending' ? undefined : result;
}
