import type { Queryable } from '../../db/database.ts';

export type ClientRow = { client_id: string; metadata: Record<string, unknown>; created_at: Date; updated_at: Date };

export function createClientRepository(db: Queryable) {
  return {
    async find(clientId: string): Promise<ClientRow | undefined> {
      return (await db.query<ClientRow>('SELECT client_id, metadata, created_at, updated_at FROM oidc_clients WHERE client_id = $1', [clientId])).rows[0];
    },
    async list(): Promise<ClientRow[]> {
      return (await db.query<ClientRow>('SELECT client_id, metadata, created_at, updated_at FROM oidc_clients ORDER BY client_id')).rows;
    },
    /** false when the id is taken; nothing written. */
    async insert(clientId: string, metadata: Record<string, unknown>): Promise<boolean> {
      const { rowCount } = await db.query(
        'INSERT INTO oidc_clients (client_id, metadata) VALUES ($1, $2) ON CONFLICT (client_id) DO NOTHING',
        [clientId, JSON.stringify(metadata)]);
      return rowCount === 1;
    },
    async update(clientId: string, metadata: Record<string, unknown>): Promise<boolean> {
      const { rowCount } = await db.query(
        'UPDATE oidc_clients SET metadata = $2, updated_at = now() WHERE client_id = $1', [clientId, JSON.stringify(metadata)]);
      return rowCount === 1;
    },
    async delete(clientId: string): Promise<boolean> {
      const { rowCount } = await db.query('DELETE FROM oidc_clients WHERE client_id = $1', [clientId]);
      return rowCount === 1;
    },
  };
}
