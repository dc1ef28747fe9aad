/**
 * Face verification: an outside vendor checks that a live person is in front of the camera (liveness) and
 * compares the capture with the authoritative ID portrait of `idNumber` (similarity score). The identity server
 * orchestrates it; the vendor never decides whether someone may log in, it only reports what it measured.
 *
 * Every call in both directions is signed with the scheme of signed-http.ts (same headers, same 401 errors).
 *
 * 1. Start. The identity server calls `POST /v1/face/verifications` with its own app id and secret:
 *
 *      { "name", "idNumber", "nonce", "callbackUrl", "returnUrl" }
 *    → 200 { "transactionId", "captureUrl", "expiresAt" }
 *
 *    `nonce` (16 to 128 base64url characters, chosen by the identity server) binds the verification to the
 *    server-side login attempt and is echoed in every result. `callbackUrl` must be https:// (plain http:// only
 *    on a loopback address); `returnUrl` is an absolute http(s) URL. The person's browser is sent to
 *    `captureUrl` (https://, or http:// on loopback) for liveness and capture. The verification expires at
 *    `expiresAt` (5 minutes). A malformed body gets 400 `invalid_request`; a vendor outage 503.
 *
 * 2. Completion. When the person has finished, the vendor
 *    (a) POSTs the result JSON (below, never `pending`) to `callbackUrl`, signed with the VENDOR's app id and
 *        secret (`X-App-Id` = vendor id); the identity server checks it with verifySignedRequest, so a forged,
 *        stale or replayed callback is refused. The receiver answers 200 with a JSON object; delivery is best
 *        effort (one attempt, 2 s), so the identity server must be able to query instead;
 *    (b) redirects the browser (303) to `returnUrl` with `transactionId` added to its query.
 *
 * 3. Query. `POST /v1/face/verifications/result` `{ "transactionId" }` → 200 result JSON;
 *    404 `{ "error": "unknown_transaction" }` for an id the vendor does not know.
 *
 * Result JSON, `{ transactionId, nonce, status, liveness?, score?, completedAt? }`, exactly one of:
 *
 *   status "pending"                            the person has not finished; no other field
 *   status "completed", liveness "pass", score  similarity 0–100 with the ID portrait
 *   status "completed", liveness "fail"         no live person was seen; no score
 *   status "failed"                             the vendor could not process the capture; no liveness, no score
 *   status "expired"                            not finished in time; no liveness, no score
 *
 * `completedAt` (ISO 8601 UTC, e.g. `2025-01-31T08:00:00.000Z`) is present for every status but "pending"; for
 * "expired" it is the expiry time. Any other shape is a protocol violation.
 *
 * What the identity server must still check itself: that the nonce is the one it issued for this attempt, that
 * the transaction belongs to this attempt, and whether the score reaches its threshold.
 */

export type FaceVerificationRequest = {
  name: string;
  /** 18-character citizen ID number whose portrait the capture is compared with. */
  idNumber: string;
  nonce: string;
  callbackUrl: string;
  returnUrl: string;
};

export type FaceVerificationStart = {
  transactionId: string;
  /** Where the person's browser goes for liveness and capture. */
  captureUrl: string;
  /** ISO 8601 UTC */
  expiresAt: string;
};

export type FaceVerificationStatus = 'pending' | 'completed' | 'failed' | 'expired';

export type FaceLiveness = 'pass' | 'fail';

export type FacePendingResult = { transactionId: string; nonce: string; status: 'pending' };

export type FaceFinalResult =
  | { transactionId: string; nonce: string; status: 'completed'; liveness: 'pass'; score: number; completedAt: string }
  | { transactionId: string; nonce: string; status: 'completed'; liveness: 'fail'; completedAt: string }
  | { transactionId: string; nonce: string; status: 'failed' | 'expired'; completedAt: string };

export type FaceVerificationResult = FacePendingResult | FaceFinalResult;

export type FaceService = {
  name: string;
  start(request: FaceVerificationRequest): Promise<FaceVerificationStart>;
  result(transactionId: string): Promise<FaceVerificationResult>;
};
