import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { HotStore } from '../cache/hot-store.ts';
import type { Database } from '../db/database.ts';

/**
 * What must survive a Redis restart: an SSO session, a consent grant, a refresh token. Everything else
 * oidc-provider stores (interactions, codes, access tokens, replay markers) is short-lived and lives in
 * the hot store; losing it costs an in-flight login or a token refresh, never an account's session.
 */
export const DURABLE_MODELS: ReadonlySet<string> = new Set(['Session', 'Grant', 'RefreshToken']);

export type ClientSource = { find(clientId: string): Promise<AdapterPayload | undefined> };

type HotEntry = { payload: AdapterPayload; expiresAt: number };

function createDurableAdapter(model: string, db: Database): Adapter {
  return {
    async upsert(id, payload, expiresIn) {
      await db.query(
        `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, user_code, account_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8::int IS NULL THEN NULL ELSE now() + make_interval(secs => $8::int) END)
         ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, uid = EXCLUDED.uid,
           user_code = EXCLUDED.user_code, account_id = EXCLUDED.account_id, expires_at = EXCLUDED.expires_at`,
        [model, id, JSON.stringify(payload), payload.grantId ?? null, payload.uid ?? null, payload.userCode ?? null,
          payload.accountId ?? null, expiresIn ? Math.ceil(expiresIn) : null]);
    },
    async find(id) {
      return findWhere(db, model, 'id', id);
    },
    async findByUid(uid) {
      return findWhere(db, model, 'uid', uid);
    },
    async findByUserCode(userCode) {
      return findWhere(db, model, 'user_code', userCode);
    },
    async consume(id) {
      await db.query('UPDATE oidc_payloads SET consumed_at = now() WHERE model = $1 AND id = $2 AND consumed_at IS NULL', [model, id]);
    },
    async destroy(id) {
      await db.query('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [model, id]);
    },
    async revokeByGrantId(grantId) {
      await db.query('DELETE FROM oidc_payloads WHERE model = $1 AND grant_id = $2', [model, grantId]);
    },
  };
}

async function findWhere(db: Database, model: string, column: 'id' | 'uid' | 'user_code', value: string) {
  const { rows } = await db.query<{ payload: AdapterPayload; consumed: number | null }>(
    `SELECT payload, extract(epoch FROM consumed_at)::bigint AS consumed FROM oidc_payloads
     WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > now())`,
    [model, value]);
  const row = rows[0];
  if (!row) return undefined;
  return row.consumed ? { ...row.payload, consumed: Number(row.consumed) } : row.payload;
}

function createHotAdapter(model: string, store: HotStore): Adapter {
  const key = (id: string) => `oidc:${model}:${id}`;
  const consumedKey = (id: string) => `oidc:${model}:${id}:consumed`;
  const grantKey = (grantId: string) => `oidc:grant:${model}:${grantId}`;
  const indexKey = (kind: 'uid' | 'user_code', value: string) => `oidc:${model}:${kind}:${value}`;

  async function find(id: string) {
    const raw = await store.get(key(id));
    if (!raw) return undefined;
    const entry = JSON.parse(raw) as HotEntry;
    const consumed = await store.get(consumedKey(id));
    return consumed ? { ...entry.payload, consumed: Number(consumed) } : entry.payload;
  }

  return {
    async upsert(id, payload, expiresIn) {
      const ttl = Math.max(1, Math.ceil(expiresIn ?? 600));
      const entry: HotEntry = { payload, expiresAt: Date.now() + ttl * 1000 };
      await store.set(key(id), JSON.stringify(entry), ttl);
      if (payload.grantId) await store.addToSet(grantKey(payload.grantId), id, ttl);
      if (payload.uid) await store.set(indexKey('uid', payload.uid), id, ttl);
      if (payload.userCode) await store.set(indexKey('user_code', payload.userCode), id, ttl);
    },
    find,
    async findByUid(uid) {
      const id = await store.get(indexKey('uid', uid));
      return id ? find(id) : undefined;
    },
    async findByUserCode(userCode) {
      const id = await store.get(indexKey('user_code', userCode));
      return id ? find(id) : undefined;
    },
    async consume(id) {
      const raw = await store.get(key(id));
      if (!raw) return;
      const { expiresAt } = JSON.parse(raw) as HotEntry;
      // A separate marker set only if absent: two concurrent redemptions of one code cannot both clear it.
      await store.setIfAbsent(consumedKey(id), String(Math.floor(Date.now() / 1000)), Math.max(1, Math.ceil((expiresAt - Date.now()) / 1000)));
    },
    async destroy(id) {
      await store.delete(key(id), consumedKey(id));
    },
    async revokeByGrantId(grantId) {
      const ids = await store.setMembers(grantKey(grantId));
      await store.delete(...ids.flatMap((id) => [key(id), consumedKey(id)]), grantKey(grantId));
    },
  };
}

function createClientAdapter(clients: ClientSource): Adapter {
  const readOnly = async () => {
    throw new Error('clients are managed through the admin API, not by the provider');
  };
  return {
    find: (id) => clients.find(id),
    upsert: readOnly,
    consume: readOnly,
    destroy: readOnly,
    revokeByGrantId: readOnly,
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
  };
}

/** The adapter class oidc-provider instantiates once per model name. */
export function createAdapterClass(deps: { db: Database; hot: HotStore; clients: ClientSource }) {
  return class StorageAdapter {
    constructor(model: string) {
      const adapter = model === 'Client' ? createClientAdapter(deps.clients)
        : DURABLE_MODELS.has(model) ? createDurableAdapter(model, deps.db)
        : createHotAdapter(model, deps.hot);
      return adapter as unknown as StorageAdapter;
    }
  } as unknown as new (model: string) => Adapter;
}

export async function sweepExpiredPayloads(db: Database): Promise<number> {
  const { rowCount } = await db.query("DELETE FROM oidc_payloads WHERE expires_at < now() - interval '10 minutes'");
  return rowCount ?? 0;
}
