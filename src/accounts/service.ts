import type { AuditLog } from '../audit/audit-log.ts';
import { checkPassword } from '../authn/password/policy.ts';
import { hashPassword } from '../authn/password/hashing.ts';
import type { PopulationRegister } from '../connectors/population-register/types.ts';
import type { Database } from '../db/database.ts';
import type { DataProtector } from '../identity/data-protection.ts';
import { maskIdNumber, validateIdNumber } from '../identity/id-number.ts';
import { maskPhone, normalizeMainlandMobile } from '../identity/phone.ts';
import { AppError } from '../http/errors.ts';
import { alreadyRegistered, identityNotConfirmed, invalidIdNumber, invalidName, invalidPhone, weakPassword } from './errors.ts';
import { createAccountRepository } from './repository.ts';
import type { Account, AccountRow } from './types.ts';

export type RegistrationDetails = { name: string; idNumber: string; phone: string };

const NAME_PATTERN = /^[\p{L}\p{M}·•．. '-]{2,50}$/u;

export function createAccountService(deps: {
  db: Database;
  protector: DataProtector;
  populationRegister: PopulationRegister;
  audit: AuditLog;
  commonPasswords: ReadonlySet<string>;
  minPasswordLength: number;
}) {
  const repo = createAccountRepository(deps.db);
  const { protector } = deps;

  function toAccount(row: AccountRow): Account {
    const phone = row.phone_enc ? protector.decrypt(row.phone_enc, 'accounts.phone') : null;
    return {
      id: row.id,
      kind: row.kind,
      // A closed account keeps no personal data: empty strings rather than nulls keep callers simple.
      idNumber: row.id_number_enc ? protector.decrypt(row.id_number_enc, 'accounts.id_number') : '',
      idNumberMasked: row.id_number_masked,
      name: row.name_enc ? protector.decrypt(row.name_enc, 'accounts.name') : '',
      phone,
      phoneMasked: row.phone_masked,
      phoneVerified: row.phone_verified_at !== null,
      passwordHash: row.password_hash,
      status: row.status,
      roles: row.roles,
      identityVerifiedAt: row.identity_verified_at,
      statusReason: row.status_reason,
      closesAt: row.closes_at,
      mergedInto: row.merged_into,
      mustResetPassword: row.must_reset_password,
      legacyPasswordHash: row.legacy_password_hash,
      legacyPasswordAlgorithm: row.legacy_password_algorithm,
      createdAt: row.created_at,
    };
  }

  /** Normalises and validates the three identity elements; throws the precise field error. */
  function parseRegistrationDetails(input: { name: string; idNumber: string; phone: string }): RegistrationDetails {
    const name = input.name.normalize('NFKC').trim().replace(/\s+/g, ' ');
    if (!NAME_PATTERN.test(name)) throw invalidName();
    const id = validateIdNumber(input.idNumber);
    if (!id.ok) throw invalidIdNumber(id.reason);
    const phone = normalizeMainlandMobile(input.phone);
    if (!phone.ok) throw invalidPhone();
    return { name, idNumber: id.idNumber, phone: phone.phone };
  }

  return {
    parseRegistrationDetails,
    toAccount,

    async findById(id: string): Promise<Account | undefined> {
      const row = await repo.findById(id);
      return row ? toAccount(row) : undefined;
    },

    /** Resolves what a person typed at login: an ID number (any accepted form) or a mobile number. */
    async findByIdentifier(identifier: string): Promise<{ account?: Account; identifierHash: string }> {
      const phone = normalizeMainlandMobile(identifier);
      if (phone.ok) {
        const identifierHash = protector.lookupHash('phone', phone.phone);
        const row = await repo.findByPhoneHash(identifierHash);
        return { account: row ? toAccount(row) : undefined, identifierHash };
      }
      const id = validateIdNumber(identifier);
      if (id.ok) {
        const identifierHash = protector.lookupHash('id_number', id.idNumber);
        const row = await repo.findByIdNumberHash(identifierHash);
        return { account: row ? toAccount(row) : undefined, identifierHash };
      }
      return { identifierHash: protector.lookupHash('login_identifier', identifier.trim()) };
    },

    async findByPhone(phone: string): Promise<Account | undefined> {
      const row = await repo.findByPhoneHash(protector.lookupHash('phone', phone));
      return row ? toAccount(row) : undefined;
    },

    /**
     * Creates the account after the phone was proven by SMS. Order matters: cheap local checks first,
     * then the population register, then one INSERT that the unique constraints guard against races.
     */
    async register(input: RegistrationDetails & { password: string; ip: string; clientId?: string; roles?: readonly string[] }): Promise<Account> {
      const details = parseRegistrationDetails(input);
      const actor = maskIdNumber(details.idNumber);
      const refuse = async (error: AppError) => {
        await deps.audit.record({ event: 'account.registration_refused', result: 'failure', actor, ip: input.ip, clientId: input.clientId, detail: { reason: error.code } });
        return error;
      };
      const violations = checkPassword(input.password, {
        minLength: deps.minPasswordLength, idNumber: details.idNumber, phone: details.phone, commonPasswords: deps.commonPasswords,
      });
      if (violations.length > 0) throw weakPassword(violations);

      const idNumberHash = protector.lookupHash('id_number', details.idNumber);
      const phoneHash = protector.lookupHash('phone', details.phone);
      if ((await repo.findByIdNumberHash(idNumberHash)) || (await repo.findByPhoneHash(phoneHash))) throw await refuse(alreadyRegistered());

      const { match } = await deps.populationRegister.verifyIdentity({ name: details.name, idNumber: details.idNumber });
      if (!match) throw await refuse(identityNotConfirmed());

      const passwordHash = await hashPassword(input.password);
      const row = await deps.db.transaction(async (tx) => {
        const inserted = await createAccountRepository(tx).insert(tx, {
          idNumberHash,
          idNumberEnc: protector.encrypt(details.idNumber, 'accounts.id_number'),
          idNumberMasked: actor,
          nameEnc: protector.encrypt(details.name, 'accounts.name'),
          nameHash: protector.lookupHash('name', details.name),
          phoneHash,
          phoneEnc: protector.encrypt(details.phone, 'accounts.phone'),
          phoneMasked: maskPhone(details.phone),
          passwordHash,
          identityVerifiedBy: deps.populationRegister.name,
          roles: input.roles,
        });
        if (!inserted) return undefined;
        await deps.audit.recordWithin(tx, {
          event: 'account.registered', result: 'success', actor, accountId: inserted.id, clientId: input.clientId, ip: input.ip,
          detail: { identityVerifiedBy: deps.populationRegister.name },
        });
        return inserted;
      });
      if (!row) throw await refuse(alreadyRegistered());
      return toAccount(row);
    },

    async updatePasswordHash(accountId: string, passwordHash: string) {
      await repo.updatePasswordHash(accountId, passwordHash);
    },

    count: () => repo.count(),
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
