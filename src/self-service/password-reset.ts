import { randomBytes } from 'node:crypto';
import { invalidIdNumber } from '../accounts/errors.ts';
import type { Account } from '../accounts/types.ts';
import { codeVoided, expiredCode, invalidCode } from '../authn/errors.ts';
import type { Runtime } from '../bootstrap/runtime.ts';
import { AppError } from '../http/errors.ts';
import { maskIdNumber, validateIdNumber } from '../identity/id-number.ts';
import type { SecondFactor, SecondFactors } from './second-factor.ts';
import type { SelfService } from './service.ts';

export type ResetFlow = {
  csrf: string;
  step: 'code' | 'second' | 'password';
  /** Set only when the ID number matched an account that can receive the code. */
  accountId?: string;
  /** The masked ID number typed, for audit records. */
  actor?: string;
  /** Epoch ms of the code (real or decoy). */
  issuedAt?: number;
  /** Wrong tries of the decoy code: an unknown ID number fails exactly like a wrong code. */
  decoyTries?: number;
  factors?: SecondFactor[];
  secondFactor?: SecondFactor;
  bankSent?: { phoneMasked: string; cardMasked: string };
  /** The error of a step completed by a redirect (the face return), shown on the next page of the reset. */
  lastError?: string;
};

export const RESET_FLOW_SECONDS = 1800;
/** A closing account may reset its password too: someone who forgot it can then sign in and so cancel the closure. */
export const RESETTABLE_STATUSES: readonly string[] = ['active', 'closing'];
const FLOW_ID = /^[A-Za-z0-9_-]{32}$/;

export const passwordMismatch = () => new AppError('password_mismatch', 'The two passwords do not match.', { status: 400 });
export const resetExpired = () => new AppError('reset_expired', 'This password reset has expired. Please start again.', { status: 400 });

/**
 * Password reset without signing in: ID number, then an SMS code to the bound phone (the same answer
 * whether or not the ID number has an account), then face or bank card where the account's proofing calls
 * for it, then the new password.
 */
export function createPasswordReset(deps: { runtime: Runtime; service: SelfService; factors: SecondFactors }) {
  const { runtime } = deps;
  const key = (id: string) => `acct-reset:${id}`;
  const binding = (id: string) => `reset.${id}`;
  const now = () => runtime.clock().getTime();

  async function save(id: string, flow: ResetFlow) {
    await runtime.hot.set(key(id), JSON.stringify(flow), RESET_FLOW_SECONDS);
  }

  async function accountOf(flow: ResetFlow): Promise<Account> {
    const account = flow.accountId ? await runtime.accounts.findById(flow.accountId) : undefined;
    if (!account || !RESETTABLE_STATUSES.includes(account.status)) throw resetExpired();
    return account;
  }

  function decoyVerify(flow: ResetFlow): AppError {
    const { ttlSeconds, maxAttempts } = runtime.config.otp;
    if (!flow.issuedAt || now() > flow.issuedAt + ttlSeconds * 1000) {
      flow.issuedAt = undefined;
      return expiredCode();
    }
    flow.decoyTries = (flow.decoyTries ?? 0) + 1;
    if (flow.decoyTries >= maxAttempts) {
      flow.issuedAt = undefined;
      return codeVoided();
    }
    return invalidCode();
  }

  return {
    save,

    async load(id: string | undefined): Promise<ResetFlow | undefined> {
      if (!id || !FLOW_ID.test(id)) return undefined;
      const raw = await runtime.hot.get(key(id));
      return raw ? (JSON.parse(raw) as ResetFlow) : undefined;
    },

    async discard(id: string) {
      await runtime.hot.delete(key(id));
    },

    /**
     * Sends the code; the flow is created here, after the ID number was checked, so that pages merely
     * opened keep nothing. A flow asked again (a new code) keeps its id and CSRF token.
     */
    async start(current: { id: string; flow: ResetFlow } | undefined, input: { idNumber: string; ip: string }): Promise<{ id: string; flow: ResetFlow }> {
      const parsed = validateIdNumber(input.idNumber);
      if (!parsed.ok) throw invalidIdNumber(parsed.reason);
      const id = current?.id ?? randomBytes(24).toString('base64url');
      const actor = maskIdNumber(parsed.idNumber);
      const { account } = await runtime.accounts.findByIdentifier(parsed.idNumber);
      const deliverable = account && RESETTABLE_STATUSES.includes(account.status) && account.phone && account.phoneVerified ? account : undefined;
      // The send limits are charged on a stand-in for an unknown ID number, so refusals look the same.
      const phone = deliverable?.phone ?? `reset:${runtime.protector.lookupHash('id_number', parsed.idNumber)}`;
      const base = { actor, accountId: account?.id, ip: input.ip } as const;
      try {
        await runtime.otp.issue({ purpose: 'login', binding: binding(id), phone, ip: input.ip, deliver: Boolean(deliverable) });
      } catch (error) {
        await runtime.audit.record({ ...base, event: 'sms.refused', result: 'failure', detail: { purpose: 'password_reset', reason: (error as AppError).code } });
        throw error;
      }
      await runtime.audit.record(deliverable
        ? { ...base, event: 'sms.sent', result: 'success', detail: { purpose: 'password_reset' } }
        : { ...base, event: 'sms.refused', result: 'failure', detail: { purpose: 'password_reset', reason: account ? `account_${account.status}_or_no_phone` : 'no_account' } });
      const flow: ResetFlow = {
        csrf: current?.flow.csrf ?? randomBytes(32).toString('base64url'), step: 'code', accountId: deliverable?.id, actor, issuedAt: now(), decoyTries: 0,
      };
      await save(id, flow);
      return { id, flow };
    },

    async verifyCode(id: string, flow: ResetFlow, input: { code: string; ip: string }): Promise<ResetFlow> {
      const fail = async (error: AppError) => {
        await runtime.audit.record({
          event: 'otp.verify', result: 'failure', actor: flow.actor, accountId: flow.accountId, ip: input.ip,
          detail: { purpose: 'password_reset', reason: error.code, ...(flow.accountId ? {} : { noAccount: true }) },
        });
        await save(id, flow);
        return error;
      };
      if (!flow.accountId) throw await fail(decoyVerify(flow));
      const account = await accountOf(flow);
      try {
        await runtime.otp.verify({ purpose: 'login', binding: binding(id), phone: account.phone ?? '', code: input.code });
      } catch (error) {
        if (error instanceof AppError) throw await fail(error);
        throw error;
      }
      const factors = await deps.factors.requiredForReset(account.id);
      const next: ResetFlow = { ...flow, step: factors.length > 0 ? 'second' : 'password', factors, issuedAt: undefined };
      await save(id, next);
      return next;
    },

    async startFace(id: string, flow: ResetFlow, ip: string) {
      if (flow.step !== 'second' || !flow.factors?.includes('face')) throw resetExpired();
      return deps.factors.startFace({ flow: { kind: 'reset', ref: id }, account: await accountOf(flow), ip });
    },

    async faceDone(id: string, flow: ResetFlow): Promise<ResetFlow> {
      const next: ResetFlow = { ...flow, step: 'password', secondFactor: 'face' };
      await save(id, next);
      return next;
    },

    async checkBank(id: string, flow: ResetFlow, input: { cardNumber: string; phone: string; ip: string }): Promise<ResetFlow> {
      if (flow.step !== 'second' || !flow.factors?.includes('bank')) throw resetExpired();
      const sent = await deps.factors.checkBank({ binding: binding(id), account: await accountOf(flow), cardNumber: input.cardNumber, phone: input.phone, ip: input.ip });
      const next: ResetFlow = { ...flow, bankSent: sent };
      await save(id, next);
      return next;
    },

    async confirmBank(id: string, flow: ResetFlow, input: { code: string; ip: string }): Promise<ResetFlow> {
      if (flow.step !== 'second' || !flow.bankSent) throw resetExpired();
      await deps.factors.confirmBank({ binding: binding(id), account: await accountOf(flow), code: input.code, ip: input.ip });
      const next: ResetFlow = { ...flow, step: 'password', secondFactor: 'bank', bankSent: undefined };
      await save(id, next);
      return next;
    },

    async complete(id: string, flow: ResetFlow, input: { password: string; confirm: string; ip: string }) {
      if (flow.step !== 'password') throw resetExpired();
      if (input.password !== input.confirm) throw passwordMismatch();
      const account = await accountOf(flow);
      await deps.service.resetPassword(account.id, input.password, { ip: input.ip, secondFactor: flow.secondFactor });
      await runtime.hot.delete(key(id));
    },
  };
}

export type PasswordReset = ReturnType<typeof createPasswordReset>;
