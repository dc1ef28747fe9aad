import type { Queryable } from '../db/database.ts';
import type { AccountStatus } from '../accounts/types.ts';

export type LinkedAccount = { accountId: string; idNumberHash: string | null; status: AccountStatus };
export type NewUpstreamAccount = { idNumberHash: string; idNumberEnc: string; idNumberMasked: string; nameEnc: string; nameHash: string; verifiedBy: string | null };

/** upstream_links and the few account reads and writes that recognising an upstream login needs. */
export function createLinkRepository(db: Queryable) {
  return {
    async findLink(upstream: string, subject: string): Promise<LinkedAccount | undefined> {
      const { rows } = await db.query<{ account_id: string; id_number_hash: string | null; status: AccountStatus }>(
        `SELECT l.account_id, a.id_number_hash, a.status FROM upstream_links l JOIN accounts a ON a.id = l.account_id
         WHERE l.upstream = $1 AND l.subject = $2`, [upstream, subject]);
      return rows[0] && { accountId: rows[0].account_id, idNumberHash: rows[0].id_number_hash, status: rows[0].status };
    },
    async findAccountByIdNumberHash(hash: string): Promise<{ id: string; status: AccountStatus } | undefined> {
      return (await db.query<{ id: string; status: AccountStatus }>('SELECT id, status FROM accounts WHERE id_number_hash = $1', [hash])).rows[0];
    },
    /** False when the subject is already linked (a concurrent first login). */
    async insertLink(upstream: string, subject: string, accountId: string, at: Date): Promise<boolean> {
      const { rowCount } = await db.query(
        'INSERT INTO upstream_links (upstream, subject, account_id, linked_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
        [upstream, subject, accountId, at]);
      return rowCount === 1;
    },
    /** Whether the account is linked to any source whose name starts with `prefix` (e.g. `ca:` for certificates). */
    async hasLinkWithPrefix(accountId: string, prefix: string): Promise<boolean> {
      const { rows } = await db.query("SELECT 1 FROM upstream_links WHERE account_id = $1 AND starts_with(upstream, $2) LIMIT 1", [accountId, prefix]);
      return rows.length > 0;
    },
    async deleteLink(upstream: string, subject: string): Promise<void> {
      await db.query('DELETE FROM upstream_links WHERE upstream = $1 AND subject = $2', [upstream, subject]);
    },
    /** An account with no password and no phone; undefined when the ID number is already taken. */
    async insertAccount(row: NewUpstreamAccount): Promise<string | undefined> {
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO accounts (id_number_hash, id_number_enc, id_number_masked, name_enc, name_hash, identity_verified_at, identity_verified_by)
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $6::text IS NULL THEN NULL ELSE now() END, $6)
         ON CONFLICT DO NOTHING RETURNING id`,
        [row.idNumberHash, row.idNumberEnc, row.idNumberMasked, row.nameEnc, row.nameHash, row.verifiedBy]);
      return rows[0]?.id;
    },
  };
}

export type LinkRepository = ReturnType<typeof createLinkRepository>;
