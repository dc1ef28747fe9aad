import type { Account } from '../../accounts/types.ts';
import { invalidPhone } from '../../accounts/errors.ts';
import type { ProofingRepository } from '../../assurance/proofing-repository.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { HotStore } from '../../cache/hot-store.ts';
import type { RateLimiter } from '../../cache/rate-limiter.ts';
import type { Config } from '../../config/types.ts';
import { ConnectorError } from '../../connectors/errors.ts';
import type { BankCardVerifier } from '../../connectors/bank-card/types.ts';
import type { Database } from '../../db/database.ts';
import { maskCardNumber, validateCardNumber, type BinTable } from '../../identity/bank-card.ts';
import type { DataProtector } from '../../identity/data-protection.ts';
import { maskPhone, normalizeMainlandMobile } from '../../identity/phone.ts';
import { AppError, rateLimited } from '../../http/errors.ts';
import { expiredCode } from '../errors.ts';
import type { OtpService } from '../sms-otp/otp-service.ts';
import type { Verified } from '../types.ts';

type Pending = { cardHash: string; bin: string; last4: string; issuer: string | null; phone: string; transactionId: string };

const PENDING_CONTEXT = 'bank_card.pending';

export const invalidCard = (reason: string) =>
  new AppError('invalid_card', 'The card number is not valid.', { status: 400, detail: { field: 'card_number', reason } });
/** One message for every mismatch: never which of name, ID number, card or phone was wrong (standards §5). */
export const bankCardNotVerified = () =>
  new AppError('bank_card_not_verified', 'The bank card could not be verified with your details.', { status: 401 });
export const bankCardUnavailable = () =>
  new AppError('bank_card_unavailable', 'The bank-card verification service is unavailable. Please try again later or use another method.', { status: 503 });

/**
 * Bank-card verification: the card network checks that the card, the account's name and ID number and the
 * card's reserved mobile number belong together (four elements), then an SMS code to that reserved number
 * must come back. The card number never leaves this request in full: kept are its BIN, last four digits and
 * a keyed hash; logs and audit see the masked form only.
 */
export function createBankCardVerification(deps: {
  verifier: BankCardVerifier;
  otp: OtpService;
  store: HotStore;
  limiter: RateLimiter;
  proofing: ProofingRepository;
  protector: DataProtector;
  db: Database;
  audit: AuditLog;
  clock: () => Date;
  settings: Config['bankCard'];
  binTable: BinTable;
}) {
  const { settings } = deps;
  const pendingKey = (uid: string) => `bank:pending:${uid}`;

  return {
    async checkCard(input: { uid: string; account: Account; cardNumber: string; phone: string; ip: string; clientId?: string }): Promise<{ phoneMasked: string; cardMasked: string }> {
      const card = validateCardNumber(input.cardNumber, deps.binTable);
      if (!card.ok) throw invalidCard(card.reason);
      const phone = normalizeMainlandMobile(input.phone);
      if (!phone.ok) throw invalidPhone();
      const cardHash = deps.protector.lookupHash('bank_card', card.cardNumber);
      const base = { event: 'bank_card.verify', accountId: input.account.id, actor: input.account.idNumberMasked, clientId: input.clientId, ip: input.ip } as const;
      const evidence = { bin: card.bin, last4: card.last4, card: maskCardNumber(card.cardNumber) };

      for (const [rule, subject] of [
        [{ name: 'bank-account-day', limit: settings.perAccountPerDay, windowSeconds: 86400 }, input.account.id],
        [{ name: 'bank-card-day', limit: settings.perCardPerDay, windowSeconds: 86400 }, cardHash],
        [{ name: 'bank-ip-hour', limit: settings.perIpPerHour, windowSeconds: 3600 }, input.ip],
      ] as const) {
        const decision = await deps.limiter.hit(rule, subject);
        if (!decision.allowed) {
          await deps.audit.record({ ...base, result: 'failure', detail: { ...evidence, reason: `limit:${rule.name}` } });
          throw rateLimited(decision.retryAfterSeconds);
        }
      }

      let answer;
      try {
        answer = await deps.verifier.verify({ name: input.account.name, idNumber: input.account.idNumber, cardNumber: card.cardNumber, phone: phone.phone });
      } catch (error) {
        await deps.audit.record({ ...base, result: 'failure', detail: { ...evidence, reason: 'vendor_unavailable' } });
        if (error instanceof ConnectorError) throw bankCardUnavailable();
        throw error;
      }
      if (!answer.match) {
        await deps.audit.record({ ...base, result: 'failure', detail: { ...evidence, reason: 'mismatch', transactionId: answer.transactionId } });
        throw bankCardNotVerified();
      }
      const pending: Pending = {
        cardHash, bin: card.bin, last4: card.last4, issuer: card.issuer?.name['zh-CN'] ?? null, phone: phone.phone, transactionId: answer.transactionId,
      };
      await deps.store.set(pendingKey(input.uid), deps.protector.encrypt(JSON.stringify(pending), PENDING_CONTEXT), 600);
      await deps.otp.issue({ purpose: 'bank', binding: input.uid, phone: phone.phone, ip: input.ip, deliver: true });
      await deps.audit.record({ ...base, result: 'success', detail: { ...evidence, step: 'four_elements', transactionId: answer.transactionId } });
      return { phoneMasked: maskPhone(phone.phone), cardMasked: evidence.card };
    },

    async confirm(input: { uid: string; account: Account; code: string; ip: string; clientId?: string }): Promise<Verified> {
      const stored = await deps.store.get(pendingKey(input.uid));
      if (!stored) throw expiredCode();
      const pending = JSON.parse(deps.protector.decrypt(stored, PENDING_CONTEXT)) as Pending;
      const base = { event: 'bank_card.verify', accountId: input.account.id, actor: input.account.idNumberMasked, clientId: input.clientId, ip: input.ip } as const;
      try {
        await deps.otp.verify({ purpose: 'bank', binding: input.uid, phone: pending.phone, code: input.code });
      } catch (error) {
        await deps.audit.record({ ...base, result: 'failure', detail: { bin: pending.bin, last4: pending.last4, reason: (error as AppError).code } });
        throw error;
      }
      if (!(await deps.store.take(pendingKey(input.uid)))) throw expiredCode();
      const evidence = { vendor: deps.verifier.name, transactionId: pending.transactionId, bin: pending.bin, last4: pending.last4, cardHash: pending.cardHash, issuer: pending.issuer };
      await deps.db.transaction(async (tx) => {
        await deps.proofing.record(tx, input.account.id, 'bank_verified', evidence, deps.clock());
        await deps.audit.recordWithin(tx, { ...base, result: 'success', detail: { bin: pending.bin, last4: pending.last4, step: 'reserved_phone', transactionId: pending.transactionId } });
      });
      return { accountId: input.account.id, method: 'bank', amr: ['bank'] };
    },
  };
}

export type BankCardVerification = ReturnType<typeof createBankCardVerification>;
