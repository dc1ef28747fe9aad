import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditEventName } from '../audit/events.ts';
import type { Database, Queryable } from '../db/database.ts';
import { AppError, conflict, invalidInput } from '../http/errors.ts';
import type { DataProtector } from '../identity/data-protection.ts';
import { registryRepository } from './registry-repository.ts';
import type { Actor } from './types.ts';

const ALG = 'ES256';
const CONTEXT = 'trust_list_keys.private_jwk';
// Distinct from the OIDC signing keys' lock (727275) and the migrations' (727274).
const ADVISORY_LOCK = 727276;

/** How long a retired key stays in /trust/jwks unless the admin says otherwise: lists it signed still verify. */
export const DEFAULT_RETIRE_GRACE_SECONDS = 7 * 24 * 60 * 60;
export const MAX_RETIRE_GRACE_SECONDS = 366 * 24 * 60 * 60;

export type ListKeyState = 'next' | 'active' | 'retired';

export type ListSigningKey = { kid: string; alg: typeof ALG; privateKey: CryptoKey };

export type ListKeyInfo = {
  kid: string;
  alg: string;
  state: ListKeyState;
  createdAt: Date;
  activatedAt?: Date;
  retiredAt?: Date;
  /** A retired key is published until then. */
  publishUntil?: Date;
  /** In /trust/jwks now. */
  published: boolean;
  publicJwk: JWK;
};

type KeyRow = {
  kid: string; alg: string; state: ListKeyState; private_jwk_enc: string; created_at: Date;
  activated_at: Date | null; retired_at: Date | null; publish_until: Date | null;
};

const KEY_COLUMNS = 'kid, alg, state, private_jwk_enc, created_at, activated_at, retired_at, publish_until';
const STATE_ORDER = "CASE state WHEN 'active' THEN 0 WHEN 'next' THEN 1 ELSE 2 END";

/** Validates an admin's grace period (API body or CLI flag). */
export function validRetireGraceSeconds(raw: unknown): number {
  if (raw === undefined) return DEFAULT_RETIRE_GRACE_SECONDS;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > MAX_RETIRE_GRACE_SECONDS) {
    throw invalidInput(`retireGraceSeconds must be an integer from 0 to ${MAX_RETIRE_GRACE_SECONDS}.`, { field: 'retireGraceSeconds' });
  }
  return raw;
}

/**
 * The trust list's own ES256 keys, separate from the OIDC token keys: peers pin them, so they change only by an
 * announced rotation. A key is prepared as `next` (published, peers add it to their pin), then activated (it signs;
 * the old one is retired and stays published for a grace period). The first key is generated on first use; private
 * JWKs are stored encrypted with the data protector. Every node asks the database which key is active on each
 * signing (one indexed read), so an activation takes effect everywhere without a restart.
 */
export function createListSigningKeys(deps: { db: Database; protector: DataProtector; audit: AuditLog; clock?: () => Date }) {
  const clock = deps.clock ?? (() => new Date());
  let imported: { kid: string; key: Promise<ListSigningKey> } | undefined;

  const privateJwk = (row: Pick<KeyRow, 'private_jwk_enc'>) => JSON.parse(deps.protector.decrypt(row.private_jwk_enc, CONTEXT)) as JWK;

  function publicJwk(row: KeyRow): JWK {
    const { kty, crv, x, y, alg, use, kid } = privateJwk(row);
    return { kty, crv, x, y, alg, use, kid };
  }

  const isPublished = (row: KeyRow, now: Date) =>
    row.state !== 'retired' || (row.publish_until !== null && row.publish_until.getTime() > now.getTime());

  const info = (row: KeyRow, now: Date): ListKeyInfo => ({
    kid: row.kid, alg: row.alg, state: row.state, createdAt: row.created_at,
    ...(row.activated_at ? { activatedAt: row.activated_at } : {}),
    ...(row.retired_at ? { retiredAt: row.retired_at } : {}),
    ...(row.publish_until ? { publishUntil: row.publish_until } : {}),
    published: isPublished(row, now), publicJwk: publicJwk(row),
  });

  async function insertNewKey(tx: Queryable, state: 'next' | 'active', now: Date): Promise<KeyRow> {
    const { privateKey } = await generateKeyPair(ALG, { extractable: true });
    const exported = await exportJWK(privateKey);
    const jwk: JWK = { ...exported, alg: ALG, use: 'sig', kid: await calculateJwkThumbprint(exported) };
    const { rows } = await tx.query<KeyRow>(
      `INSERT INTO trust_list_keys (kid, alg, private_jwk_enc, state, created_at, activated_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${KEY_COLUMNS}`,
      [jwk.kid, ALG, deps.protector.encrypt(JSON.stringify(jwk), CONTEXT), state, now, state === 'active' ? now : null]);
    return rows[0];
  }

  async function keyIn(q: Queryable, state: 'next' | 'active', options: { lock?: boolean } = {}): Promise<KeyRow | undefined> {
    const { rows } = await q.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM trust_list_keys WHERE state = $1${options.lock ? ' FOR UPDATE' : ''}`, [state]);
    return rows[0];
  }

  /** The first key, generated when the list is first signed (or a rotation first prepared). */
  async function activeKidOrCreate(): Promise<string> {
    const { rows } = await deps.db.query<{ kid: string }>("SELECT kid FROM trust_list_keys WHERE state = 'active'");
    if (rows[0]) return rows[0].kid;
    return deps.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCK]);
      return ((await keyIn(tx, 'active')) ?? (await insertNewKey(tx, 'active', clock()))).kid;
    });
  }

  async function importKey(kid: string): Promise<ListSigningKey> {
    const { rows } = await deps.db.query<Pick<KeyRow, 'private_jwk_enc'>>('SELECT private_jwk_enc FROM trust_list_keys WHERE kid = $1', [kid]);
    return { kid, alg: ALG, privateKey: (await importJWK(privateJwk(rows[0]), ALG)) as CryptoKey };
  }

  /** One transaction with its audit record; a refusal writes only its audit record. */
  async function audited<T>(event: AuditEventName, actor: Actor, work: (tx: Queryable, now: Date) => Promise<{ result: T; detail: Record<string, unknown> }>): Promise<T> {
    const who = { actor: actor.name, clientId: actor.clientId, ip: actor.ip };
    try {
      return await deps.db.transaction(async (tx) => {
        const now = clock();
        await tx.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCK]);
        const { result, detail } = await work(tx, now);
        await deps.audit.recordWithin(tx, { event, result: 'success', ...who, detail });
        return result;
      });
    } catch (error) {
      if (error instanceof AppError) await deps.audit.record({ event, result: 'failure', ...who, detail: { code: error.code, message: error.message } });
      throw error;
    }
  }

  async function active(): Promise<ListSigningKey> {
    const kid = await activeKidOrCreate();
    if (imported?.kid === kid) return imported.key;
    const key = importKey(kid);
    imported = { kid, key };
    key.catch(() => {
      if (imported?.key === key) imported = undefined;
    });
    return key;
  }

  return {
    /** The key that signs the list now (after an activation on any node, the new one). */
    active,

    /** Every key with its state, newest first within a state (admin view). */
    async list(): Promise<ListKeyInfo[]> {
      const now = clock();
      const { rows } = await deps.db.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM trust_list_keys ORDER BY ${STATE_ORDER}, created_at DESC, kid`);
      return rows.map((row) => info(row, now));
    },

    /** Public keys of the active, the next and the retired keys still in their grace period: what peers pin. */
    async publicJwks(): Promise<{ keys: JWK[] }> {
      await activeKidOrCreate();
      const { rows } = await deps.db.query<KeyRow>(
        `SELECT ${KEY_COLUMNS} FROM trust_list_keys WHERE state <> 'retired' OR publish_until > $1 ORDER BY ${STATE_ORDER}, created_at DESC, kid`, [clock()]);
      return { keys: rows.map(publicJwk) };
    },

    /** Announces a new key: published from now on, signing only once activated. Refused while a next key exists. */
    async prepareNext(actor: Actor): Promise<ListKeyInfo> {
      await activeKidOrCreate();
      return audited('trust.list_key.prepared', actor, async (tx, now) => {
        const pending = await keyIn(tx, 'next');
        if (pending) throw conflict(`A next key (kid "${pending.kid}") is already prepared; activate it before preparing another.`);
        const row = await insertNewKey(tx, 'next', now);
        return { result: info(row, now), detail: { kid: row.kid } };
      });
    },

    /**
     * The next key signs from now on; the active one is retired and published for `retireGraceSeconds` more. The
     * list is issued again (new sequence number) so that peers import it signed by the new key.
     */
    async activateNext(options: { retireGraceSeconds?: number }, actor: Actor): Promise<{ activated: ListKeyInfo; retired?: ListKeyInfo; sequenceNumber: number }> {
      return audited('trust.list_key.activated', actor, async (tx, now) => {
        const grace = validRetireGraceSeconds(options.retireGraceSeconds);
        const next = await keyIn(tx, 'next', { lock: true });
        if (!next) throw conflict('No next key is prepared: prepare one, let the peers pin it, then activate it.');
        const publishUntil = new Date(now.getTime() + grace * 1000);
        const retired = await tx.query<KeyRow>(
          `UPDATE trust_list_keys SET state = 'retired', retired_at = $1, publish_until = $2 WHERE state = 'active' RETURNING ${KEY_COLUMNS}`, [now, publishUntil]);
        const activated = await tx.query<KeyRow>(
          `UPDATE trust_list_keys SET state = 'active', activated_at = $2 WHERE kid = $1 RETURNING ${KEY_COLUMNS}`, [next.kid, now]);
        await registryRepository.reissue(tx, now);
        const { sequenceNumber } = await registryRepository.state(tx);
        const old = retired.rows[0];
        return {
          result: { activated: info(activated.rows[0], now), ...(old ? { retired: info(old, now) } : {}), sequenceNumber },
          detail: { kid: next.kid, retiredKid: old?.kid ?? null, retireGraceSeconds: grace, publishUntil: old ? publishUntil.toISOString() : null, sequenceNumber },
        };
      });
    },
  };
}

export type ListSigningKeys = ReturnType<typeof createListSigningKeys>;
