import type { Queryable } from '../db/database.ts';

export type LevelPolicy = { clientId: string; scope: string; minLevel: string; maxAuthAgeSeconds: number | null; updatedBy: string; updatedAt: Date };

type Row = { client_id: string; scope: string; min_level: string; max_auth_age_seconds: number | null; updated_by: string; updated_at: Date };
const toPolicy = (r: Row): LevelPolicy => ({
  clientId: r.client_id, scope: r.scope, minLevel: r.min_level, maxAuthAgeSeconds: r.max_auth_age_seconds, updatedBy: r.updated_by, updatedAt: r.updated_at,
});
const COLUMNS = 'client_id, scope, min_level, max_auth_age_seconds, updated_by, updated_at';

export function createPolicyRepository(db: Queryable) {
  return {
    async forClient(clientId: string): Promise<LevelPolicy[]> {
      return (await db.query<Row>(`SELECT ${COLUMNS} FROM level_policies WHERE client_id = $1 ORDER BY scope`, [clientId])).rows.map(toPolicy);
    },
    async all(): Promise<LevelPolicy[]> {
      return (await db.query<Row>(`SELECT ${COLUMNS} FROM level_policies ORDER BY client_id, scope`)).rows.map(toPolicy);
    },
    async find(clientId: string, scope: string): Promise<LevelPolicy | undefined> {
      const row = (await db.query<Row>(`SELECT ${COLUMNS} FROM level_policies WHERE client_id = $1 AND scope = $2 FOR UPDATE`, [clientId, scope])).rows[0];
      return row ? toPolicy(row) : undefined;
    },
    async upsert(policy: Omit<LevelPolicy, 'updatedAt'>): Promise<LevelPolicy> {
      const { rows } = await db.query<Row>(
        `INSERT INTO level_policies (client_id, scope, min_level, max_auth_age_seconds, updated_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (client_id, scope) DO UPDATE SET min_level = EXCLUDED.min_level, max_auth_age_seconds = EXCLUDED.max_auth_age_seconds,
           updated_by = EXCLUDED.updated_by, updated_at = now()
         RETURNING ${COLUMNS}`,
        [policy.clientId, policy.scope, policy.minLevel, policy.maxAuthAgeSeconds, policy.updatedBy]);
      return toPolicy(rows[0]);
    },
    async delete(clientId: string, scope: string): Promise<boolean> {
      return ((await db.query('DELETE FROM level_policies WHERE client_id = $1 AND scope = $2', [clientId, scope])).rowCount ?? 0) > 0;
    },
  };
}
