import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { Database } from '../db/database.ts';
import type { DataProtector } from '../identity/data-protection.ts';

const ALG = 'ES256';
const CONTEXT = 'trust_list_keys.private_jwk';
// Distinct from the OIDC signing keys' lock (727275) and the migrations' (727274).
const ADVISORY_LOCK = 727276;

export type ListSigningKey = { kid: string; alg: typeof ALG; privateKey: CryptoKey };

/**
 * The trust list's own ES256 key, separate from the OIDC token keys: peers pin it, so it must not change when
 * token keys rotate. Generated on first use; the private JWK is stored encrypted with the data protector.
 */
export function createListSigningKeys(deps: { db: Database; protector: DataProtector }) {
  let active: Promise<ListSigningKey> | undefined;

  async function loadOrCreate(): Promise<ListSigningKey> {
    const privateJwk = await deps.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCK]);
      const { rows } = await tx.query<{ private_jwk_enc: string }>(
        'SELECT private_jwk_enc FROM trust_list_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1');
      if (rows[0]) return JSON.parse(deps.protector.decrypt(rows[0].private_jwk_enc, CONTEXT)) as JWK;
      const { privateKey } = await generateKeyPair(ALG, { extractable: true });
      const exported = await exportJWK(privateKey);
      const jwk: JWK = { ...exported, alg: ALG, use: 'sig', kid: await calculateJwkThumbprint(exported) };
      await tx.query('INSERT INTO trust_list_keys (kid, alg, private_jwk_enc) VALUES ($1, $2, $3)',
        [jwk.kid, ALG, deps.protector.encrypt(JSON.stringify(jwk), CONTEXT)]);
      return jwk;
    });
    return { kid: privateJwk.kid!, alg: ALG, privateKey: (await importJWK(privateJwk, ALG)) as CryptoKey };
  }

  return {
    /** The key that signs the list now. */
    active(): Promise<ListSigningKey> {
      active ??= loadOrCreate().catch((error) => {
        active = undefined;
        throw error;
      });
      return active;
    },

    /** Public keys of every key not retired: what peers pin and verify with. */
    async publicJwks(): Promise<{ keys: JWK[] }> {
      await this.active();
      const { rows } = await deps.db.query<{ private_jwk_enc: string }>('SELECT private_jwk_enc FROM trust_list_keys WHERE retired_at IS NULL ORDER BY created_at DESC');
      return {
        keys: rows.map((row) => {
          const { d: _d, ...publicJwk } = JSON.parse(deps.protector.decrypt(row.private_jwk_enc, CONTEXT)) as JWK;
          return publicJwk;
        }),
      };
    },
  };
}

export type ListSigningKeys = ReturnType<typeof createListSigningKeys>;
