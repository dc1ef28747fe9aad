import { invalidPhone } from '../accounts/errors.ts';
import type { Account } from '../accounts/types.ts';
import type { Runtime } from '../bootstrap/runtime.ts';
import { AppError } from '../http/errors.ts';
import { maskPhone, normalizeMainlandMobile } from '../identity/phone.ts';
import type { SecondFactors } from './second-factor.ts';
import { phoneTaken, samePhone, type PhoneChangeMethod, type SelfService } from './service.ts';

export type PhoneFlow = {
  proven?: PhoneChangeMethod;
  oldSent?: boolean;
  /** The new number waiting for its code, encrypted: the hot store may be a Redis outside the database's protection. */
  newPhoneEnc?: string;
  newPhoneMasked?: string;
  bankSent?: { phoneMasked: string; cardMasked: string };
};

const FLOW_SECONDS = 900;
const NEW_PHONE_CONTEXT = 'self_service.new_phone';

export const phoneFlowExpired = () => new AppError('phone_flow_expired', 'This change has expired. Please start again.', { status: 400 });

/**
 * Change of the bound mobile number by the signed-in person, keyed by their account-page session: first the
 * old number's code (or face / bank card when the old number is lost), then the new number's code.
 */
export function createPhoneChange(deps: { runtime: Runtime; service: SelfService; factors: SecondFactors }) {
  const { runtime } = deps;
  const key = (ref: string) => `acct-phone:${ref}`;

  async function save(ref: string, flow: PhoneFlow) {
    await runtime.hot.set(key(ref), JSON.stringify(flow), FLOW_SECONDS);
  }

  async function recordCodeFailure(account: Account, purpose: string, error: unknown, ip: string) {
    await runtime.audit.record({
      event: 'otp.verify', result: 'failure', actor: account.idNumberMasked, accountId: account.id, ip, detail: { purpose, reason: (error as AppError).code },
    });
  }

  return {
    async load(ref: string): Promise<PhoneFlow | undefined> {
      const raw = await runtime.hot.get(key(ref));
      return raw ? (JSON.parse(raw) as PhoneFlow) : undefined;
    },

    async discard(ref: string) {
      await runtime.hot.delete(key(ref));
    },

    async sendOld(ref: string, flow: PhoneFlow, account: Account, ip: string): Promise<PhoneFlow> {
      if (!account.phone) throw phoneFlowExpired();
      const base = { actor: maskPhone(account.phone), accountId: account.id, ip } as const;
      try {
        await runtime.otp.issue({ purpose: 'login', binding: `phone-old.${ref}`, phone: account.phone, ip, deliver: true });
      } catch (error) {
        await runtime.audit.record({ ...base, event: 'sms.refused', result: 'failure', detail: { purpose: 'phone_change_old', reason: (error as AppError).code } });
        throw error;
      }
      await runtime.audit.record({ ...base, event: 'sms.sent', result: 'success', detail: { purpose: 'phone_change_old' } });
      const next = { ...flow, oldSent: true };
      await save(ref, next);
      return next;
    },

    async verifyOld(ref: string, flow: PhoneFlow, account: Account, code: string, ip: string): Promise<PhoneFlow> {
      if (!flow.oldSent || !account.phone) throw phoneFlowExpired();
      try {
        await runtime.otp.verify({ purpose: 'login', binding: `phone-old.${ref}`, phone: account.phone, code });
      } catch (error) {
        await recordCodeFailure(account, 'phone_change_old', error, ip);
        throw error;
      }
      const next: PhoneFlow = { proven: 'old_sms' };
      await save(ref, next);
      return next;
    },

    async startFace(ref: string, account: Account, ip: string) {
      return deps.factors.startFace({ flow: { kind: 'phone', ref }, account, ip });
    },

    async faceDone(ref: string): Promise<PhoneFlow> {
      const next: PhoneFlow = { proven: 'face' };
      await save(ref, next);
      return next;
    },

    async checkBank(ref: string, flow: PhoneFlow, account: Account, input: { cardNumber: string; phone: string; ip: string }): Promise<PhoneFlow> {
      const sent = await deps.factors.checkBank({ binding: `phone.${ref}`, account, cardNumber: input.cardNumber, phone: input.phone, ip: input.ip });
      const next = { ...flow, bankSent: sent };
      await save(ref, next);
      return next;
    },

    async confirmBank(ref: string, flow: PhoneFlow, account: Account, code: string, ip: string): Promise<PhoneFlow> {
      if (!flow.bankSent) throw phoneFlowExpired();
      await deps.factors.confirmBank({ binding: `phone.${ref}`, account, code, ip });
      const next: PhoneFlow = { proven: 'bank' };
      await save(ref, next);
      return next;
    },

    async sendNew(ref: string, flow: PhoneFlow, account: Account, input: string, ip: string): Promise<PhoneFlow> {
      if (!flow.proven) throw phoneFlowExpired();
      const parsed = normalizeMainlandMobile(input);
      if (!parsed.ok) throw invalidPhone();
      const phone = parsed.phone;
      const base = { actor: account.idNumberMasked, accountId: account.id, ip } as const;
      if (phone === account.phone) throw samePhone();
      const owner = await runtime.accounts.findByPhone(phone);
      if (owner) {
        await runtime.audit.record({ ...base, event: 'account.phone_changed', result: 'failure', detail: { reason: 'phone_taken', method: flow.proven, after: maskPhone(phone) } });
        throw phoneTaken();
      }
      try {
        await runtime.otp.issue({ purpose: 'login', binding: `phone-new.${ref}`, phone, ip, deliver: true });
      } catch (error) {
        await runtime.audit.record({ ...base, actor: maskPhone(phone), event: 'sms.refused', result: 'failure', detail: { purpose: 'phone_change_new', reason: (error as AppError).code } });
        throw error;
      }
      await runtime.audit.record({ ...base, actor: maskPhone(phone), event: 'sms.sent', result: 'success', detail: { purpose: 'phone_change_new' } });
      const next: PhoneFlow = { ...flow, newPhoneEnc: runtime.protector.encrypt(phone, NEW_PHONE_CONTEXT), newPhoneMasked: maskPhone(phone) };
      await save(ref, next);
      return next;
    },

    async verifyNew(ref: string, flow: PhoneFlow, account: Account, input: { code: string; ip: string; sid: string }) {
      if (!flow.proven || !flow.newPhoneEnc) throw phoneFlowExpired();
      const phone = runtime.protector.decrypt(flow.newPhoneEnc, NEW_PHONE_CONTEXT);
      try {
        await runtime.otp.verify({ purpose: 'login', binding: `phone-new.${ref}`, phone, code: input.code });
      } catch (error) {
        await recordCodeFailure(account, 'phone_change_new', error, input.ip);
        throw error;
      }
      try {
        const changed = await deps.service.changePhone(account.id, phone, { ip: input.ip, method: flow.proven, sid: input.sid });
        await runtime.hot.delete(key(ref));
        return changed;
      } catch (error) {
        if ((error as AppError).code === 'phone_taken') {
          await runtime.audit.record({ event: 'account.phone_changed', result: 'failure', actor: account.idNumberMasked, accountId: account.id, ip: input.ip, detail: { reason: 'phone_taken', method: flow.proven } });
        }
        throw error;
      }
    },
  };
}

export type PhoneChange = ReturnType<typeof createPhoneChange>;
