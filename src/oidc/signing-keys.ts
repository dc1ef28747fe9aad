import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Database, Queryable } from '../db/database.ts';
import type { DataProtector } from '../identity/data-protection.ts';

export type SigningAlg = 'RS256' | 'ES256';
export const SIGNING_ALGS: readonly SigningAlg[] = ['RS256', 'ES256'];

const CONTEXT = 'signing_keys.private_jwk';

type KeyRow = { kid: string; alg: SigningAlg; private_jwk_enc: string; origin: 'development' | 'production'; retired_at: Date | null };

async function generate(alg: SigningAlg): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg, use: 'sig', kid: await calculateJwkThumbprint(jwk) };
}

export function createSigningKeyStore(deps: { db: Database; protector: DataProtector; origin: 'development' | 'production' }) {
  async function insertKey(q: Queryable, alg: SigningAlg): Promise<string> {
    const jwk = await generate(alg);
    await q.query('INSERT INTO signing_keys (kid, alg, private_jwk_enc, origin) VALUES ($1, $2, $3, $4)',
      [jwk.kid, alg, deps.protector.encrypt(JSON.stringify(jwk), CONTEXT), deps.origin]);
    return jwk.kid as string;
  }

  return {
    /** Generates a key for every algorithm that has no active one (first start). */
    async ensureActiveKeys(): Promise<void> {
      await deps.db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock(727275)');
        const { rows } = await tx.query<{ alg: SigningAlg }>('SELECT DISTINCT alg FROM signing_keys WHERE retired_at IS NULL');
        const present = new Set(rows.map((r) => r.alg));
        for (const alg of SIGNING_ALGS) {
          if (!present.has(alg)) await insertKey(tx, alg);
        }
      });
    },

    /**
     * The JWKS for oidc-provider: per algorithm the active key first (it signs), then retired keys still
     * inside their grace period (they only verify). RS256 first: it is the default ID-token algorithm.
     */
    async load(): Promise<{ keys: JWK[]; origins: Set<string> }> {
      const { rows } = await deps.db.query<KeyRow>(
        `SELECT kid, alg, private_jwk_enc, origin, retired_at FROM signing_keys
         WHERE remove_after IS NULL OR remove_after > now()
         ORDER BY alg = 'RS256' DESC, retired_at IS NULL DESC, created_at DESC`);
      const active = rows.filter((r) => !r.retired_at);
      return {
        keys: rows.map((r) => JSON.parse(deps.protector.decrypt(r.private_jwk_enc, CONTEXT)) as JWK),
        origins: new Set(active.map((r) => r.origin)),
      };
    },

    /**
     * Rotation: new keys sign from the next start of each node; the old ones stay published until
     * `graceSeconds` (longest token lifetime) so tokens they signed keep verifying.
     */
    async rotate(graceSeconds: number): Promise<{ retired: string[]; created: string[] }> {
      return deps.db.transaction(async (tx) => {
        const { rows } = await tx.query<{ kid: string }>(
          `UPDATE signing_keys SET retired_at = now(), remove_after = now() + make_interval(secs => $1)
           WHERE retired_at IS NULL RETURNING kid`, [graceSeconds]);
        const created: string[] = [];
        for (const alg of SIGNING_ALGS) created.push(await insertKey(tx, alg));
        return { retired: rows.map((r) => r.kid), created };
      });
    },
  };
}

export type SigningKeyStore = ReturnType<typeof createSigningKeyStore>;
