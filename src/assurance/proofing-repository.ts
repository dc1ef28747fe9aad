import type { Database, Queryable } from '../db/database.ts';
import type { LevelCatalog } from './levels.ts';

/**
 * How well each account's identity was proofed. Registration against the population register counts as
 * `register_verified` (accounts.identity_verified_by); stronger proofing (face match, service hall) is a row
 * in account_proofings with its evidence.
 */
export function createProofingRepository(db: Database, catalog: LevelCatalog) {
  return {
    async best(accountId: string): Promise<string | null> {
      const { rows } = await db.query<{ verified: boolean; extra: string[] }>(
        `SELECT identity_verified_by IS NOT NULL AS verified,
                ARRAY(SELECT proofing FROM account_proofings p WHERE p.account_id = a.id AND p.revoked_at IS NULL) AS extra
         FROM accounts a WHERE id = $1`, [accountId]);
      if (!rows[0]) return null;
      let best = rows[0].verified ? 'register_verified' : 'self_asserted';
      for (const proofing of rows[0].extra) if (catalog.proofingRank(proofing) > catalog.proofingRank(best)) best = proofing;
      return best;
    },
    async record(q: Queryable, accountId: string, proofing: string, evidence: Record<string, unknown>, at: Date): Promise<void> {
      await q.query('INSERT INTO account_proofings (account_id, proofing, evidence, verified_at) VALUES ($1, $2, $3, $4)',
        [accountId, proofing, JSON.stringify(evidence), at]);
    },
  };
}

export type ProofingRepository = ReturnType<typeof createProofingRepository>;
