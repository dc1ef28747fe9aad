import type { Queryable } from '../db/database.ts';
import type { AccountRow, NewAccountRow } from './types.ts';

export const ACCOUNT_COLUMNS = `id, kind, id_number_hash, id_number_enc, id_number_masked, name_enc, phone_hash, phone_enc, phone_masked,
  phone_verified_at, password_hash, identity_verified_at, status, roles, status_reason, closes_at, merged_into,
  must_reset_password, legacy_password_hash, legacy_password_algorithm, created_at`;
const COLUMNS = ACCOUNT_COLUMNS;

/** Look-ups go through HMAC columns only: no query ever scans decrypted personal data. */
export function createAccountRepository(db: Queryable) {
  return {
    async findById(id: string): Promise<AccountRow | undefined> {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
      return (await db.query<AccountRow>(`SELECT ${COLUMNS} FROM accounts WHERE id = $1`, [id])).rows[0];
    },
    async findByIdNumberHash(hash: string): Promise<AccountRow | undefined> {
      return (await db.query<AccountRow>(`SELECT ${COLUMNS} FROM accounts WHERE id_number_hash = $1`, [hash])).rows[0];
    },
    async findByPhoneHash(hash: string): Promise<AccountRow | undefined> {
      return (await db.query<AccountRow>(`SELECT ${COLUMNS} FROM accounts WHERE phone_hash = $1`, [hash])).rows[0];
    },
    /** Returns undefined when the ID number or phone is already taken (unique constraints), writing nothing. */
    async insert(tx: Queryable, row: NewAccountRow): Promise<AccountRow | undefined> {
      const { rows } = await tx.query<AccountRow>(
        `INSERT INTO accounts (id_number_hash, id_number_enc, id_number_masked, name_enc, phone_hash, phone_enc, phone_masked,
           phone_verified_at, password_hash, password_changed_at, identity_verified_at, identity_verified_by, roles, name_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now(), $8, now(), now(), $9, $10, $11)
         ON CONFLICT DO NOTHING
         RETURNING ${COLUMNS}`,
        [row.idNumberHash, row.idNumberEnc, row.idNumberMasked, row.nameEnc, row.phoneHash, row.phoneEnc, row.phoneMasked,
          row.passwordHash, row.identityVerifiedBy, row.roles ?? [], row.nameHash]);
      return rows[0];
    },
    async updatePasswordHash(id: string, passwordHash: string): Promise<void> {
      await db.query('UPDATE accounts SET password_hash = $2, password_changed_at = now(), updated_at = now() WHERE id = $1', [id, passwordHash]);
    },
    async count(): Promise<number> {
      return Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM accounts')).rows[0].n);
    },
  };
}

export type AccountRepository = ReturnType<typeof createAccountRepository>;
