import { randomBytes } from 'node:crypto';
import type { Account } from '../accounts/types.ts';
import { faceUnavailable } from '../authn/face/face-verification.ts';
import { bankCardUnavailable } from '../authn/bank-card/bank-card-verification.ts';
import type { Runtime } from '../bootstrap/runtime.ts';
import { AppError } from '../http/errors.ts';

export type SecondFactor = 'face' | 'bank';

/** Which self-service flow a face verification belongs to: a password reset (by flow id) or a phone change (by account-page session). */
export type FaceFlow = { kind: 'reset' | 'phone'; ref: string };

/**
 * face.start builds the vendor's return URL as /interaction/<uid>/face/return. Self-service uids start
 * with this prefix, whose '.' no interaction uid contains, and a more specific route takes them.
 */
export const FACE_UID_PREFIX = 'acct.';
const FACE_FLOW_SECONDS = 900;

type StoredFace = FaceFlow & { accountId: string };

export const faceAttemptUnknown = () =>
  new AppError('face_attempt_unknown', 'This face verification does not belong to this request. Please start again.', { status: 400 });

/** Face and bank-card verification outside a login: for a password reset and for a phone change without the old number. */
export function createSecondFactors(runtime: Runtime) {
  const key = (token: string) => `acct-face:${token}`;

  /** What this deployment can offer this account now (face only while not paused after repeated failures). */
  async function available(accountId: string): Promise<SecondFactor[]> {
    const factors: SecondFactor[] = [];
    if (runtime.face && (await runtime.face.isAvailable(accountId))) factors.push('face');
    if (runtime.bankCard) factors.push('bank');
    return factors;
  }

  async function flowOf(token: string): Promise<StoredFace | undefined> {
    if (!/^[A-Za-z0-9_-]{32}$/.test(token)) return undefined;
    const raw = await runtime.hot.get(key(token));
    return raw ? (JSON.parse(raw) as StoredFace) : undefined;
  }

  return {
    available,
    flowOf,

    /**
     * A password reset asks for face or bank card besides the SMS code only when the account's proofing is
     * above the population-register check (it reaches L3 services, so a SIM swap alone must not take it
     * over) and such a service is available; otherwise the SMS code to the bound phone suffices.
     */
    async requiredForReset(accountId: string): Promise<SecondFactor[]> {
      const { catalog } = runtime;
      const best = await runtime.proofing.best(accountId);
      if (catalog.proofingRank(best) <= catalog.proofingRank('register_verified')) return [];
      return available(accountId);
    },

    async startFace(input: { flow: FaceFlow; account: Account; ip: string }): Promise<{ captureUrl: string }> {
      if (!runtime.face) throw faceUnavailable();
      const token = randomBytes(24).toString('base64url');
      await runtime.hot.set(key(token), JSON.stringify({ ...input.flow, accountId: input.account.id } satisfies StoredFace), FACE_FLOW_SECONDS);
      return runtime.face.start({
        uid: `${FACE_UID_PREFIX}${token}`, accountId: input.account.id, name: input.account.name, idNumber: input.account.idNumber, ip: input.ip,
      });
    },

    /** Judges the vendor's result (the face service records the evidence and the audit event). */
    async completeFace(input: { token: string; transactionId: string; ip: string }): Promise<StoredFace> {
      const flow = await flowOf(input.token);
      if (!flow || !runtime.face) throw faceAttemptUnknown();
      await runtime.face.complete({ uid: `${FACE_UID_PREFIX}${input.token}`, accountId: flow.accountId, transactionId: input.transactionId, ip: input.ip });
      await runtime.hot.delete(key(input.token));
      return flow;
    },

    async checkBank(input: { binding: string; account: Account; cardNumber: string; phone: string; ip: string }) {
      if (!runtime.bankCard) throw bankCardUnavailable();
      return runtime.bankCard.checkCard({ uid: `${FACE_UID_PREFIX}bank.${input.binding}`, account: input.account, cardNumber: input.cardNumber, phone: input.phone, ip: input.ip });
    },

    async confirmBank(input: { binding: string; account: Account; code: string; ip: string }) {
      if (!runtime.bankCard) throw bankCardUnavailable();
      return runtime.bankCard.confirm({ uid: `${FACE_UID_PREFIX}bank.${input.binding}`, account: input.account, code: input.code, ip: input.ip });
    },
  };
}

export type SecondFactors = ReturnType<typeof createSecondFactors>;
