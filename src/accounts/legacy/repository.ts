import type { Queryable } from '../../db/database.ts';

export type ImportCounts = {
  /** Records read (blank lines aside), whatever became of them: created + linked + skipped + rejected. */
  rows: number;
  created: number;
  /** Rows added as one more source of an account that already existed (same ID number, same name). */
  linked: number;
  /** Rows whose source and legacy user id an earlier import already brought in. */
  skipped: number;
  rejected: number;
  rejectReasons: Record<string, number>;
  /** New accounts that can only be reached by a password reset, by why. */
  mustReset: Record<string, number>;
  /** New accounts imported without the phone of their row, by why ('invalid', 'taken'). */
  phoneDropped: Record<string, number>;
  /** Existing accounts without any password that took the row's legacy hash. */
  passwordAdopted: number;
};

export type ImportRow = {
  id: string;
  source: string;
  file_sha256: string;
  file_name: string;
  file_size: string;
  format: 'csv' | 'jsonl';
  byte_offset: string;
  line_number: string;
  batches: number;
  counts: Partial<ImportCounts>;
  rejects_offset: string;
  status: 'running' | 'completed';
  started_at: Date;
  completed_at: Date | null;
};

export type SourceLinkRow = { legacy_user_id: string; account_id: string; import_id: string | null; id_number_hash: string | null };

export type ExistingAccountRow = {
  id: string;
  id_number_hash: string;
  name_hash: string | null;
  name_enc: string | null;
  has_password: boolean;
  /** Import ids of this account's links from the source being imported; null entries are links made otherwise. */
  source_imports: (string | null)[];
};

export type NewLegacyAccount = {
  id: string;
  idNumberHash: string;
  idNumberEnc: string;
  idNumberMasked: string;
  nameEnc: string;
  nameHash: string;
  phoneHash: string | null;
  phoneEnc: string | null;
  phoneMasked: string | null;
  mustResetPassword: boolean;
  legacyPasswordHash: string | null;
  legacyPasswordAlgorithm: string | null;
};

export type AccountSource = { source: string; legacyUserId: string; importedAt: Date };

const IMPORT_COLUMNS = `id, source, file_sha256, file_name, file_size, format, byte_offset, line_number, batches, counts, rejects_offset,
  status, started_at, completed_at`;

/** Batch statements of the legacy import take arrays (unnest, = ANY), so a batch costs a handful of round trips. */
export function createLegacyAccountRepository(db: Queryable) {
  return {
    async findImport(source: string, fileSha256: string): Promise<ImportRow | undefined> {
      return (await db.query<ImportRow>(
        `SELECT ${IMPORT_COLUMNS} FROM account_imports WHERE source = $1 AND file_sha256 = $2`, [source, fileSha256])).rows[0];
    },

    /** The import of this file from this source: the existing one (to resume, or finished) or a new one. */
    async startImport(row: { source: string; fileSha256: string; fileName: string; fileSize: number; format: string }): Promise<ImportRow> {
      await db.query(
        `INSERT INTO account_imports (source, file_sha256, file_name, file_size, format) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (source, file_sha256) DO NOTHING`,
        [row.source, row.fileSha256, row.fileName, row.fileSize, row.format]);
      return (await this.findImport(row.source, row.fileSha256))!;
    },

    /** Locks the progress row for the batch's transaction; another importer of the same file waits here. */
    async lockImport(importId: string): Promise<{ byteOffset: number } | undefined> {
      const row = (await db.query<{ byte_offset: string }>(
        'SELECT byte_offset FROM account_imports WHERE id = $1 FOR UPDATE', [importId])).rows[0];
      return row && { byteOffset: Number(row.byte_offset) };
    },

    async saveProgress(importId: string, progress: {
      byteOffset: number; lineNumber: number; counts: ImportCounts; rejectsOffset: number; batches: number;
    }): Promise<void> {
      await db.query(
        `UPDATE account_imports SET byte_offset = $2, line_number = $3, counts = $4, rejects_offset = $5, batches = $6, updated_at = now()
         WHERE id = $1`,
        [importId, progress.byteOffset, progress.lineNumber, JSON.stringify(progress.counts), progress.rejectsOffset, progress.batches]);
    },

    async completeImport(importId: string): Promise<void> {
      await db.query("UPDATE account_imports SET status = 'completed', completed_at = now(), updated_at = now() WHERE id = $1", [importId]);
    },

    async linksOf(source: string, legacyUserIds: readonly string[]): Promise<SourceLinkRow[]> {
      return (await db.query<SourceLinkRow>(
        `SELECT s.legacy_user_id, s.account_id, s.import_id::text AS import_id, a.id_number_hash
         FROM account_sources s JOIN accounts a ON a.id = s.account_id
         WHERE s.source = $1 AND s.legacy_user_id = ANY($2::text[])`,
        [source, legacyUserIds])).rows;
    },

    /** Locked: the batch may give one of them a password, and must see a concurrent change as a conflict. */
    async accountsByIdNumberHash(source: string, idNumberHashes: readonly string[]): Promise<ExistingAccountRow[]> {
      return (await db.query<ExistingAccountRow>(
        `SELECT a.id, a.id_number_hash, a.name_hash, a.name_enc,
           (a.password_hash IS NOT NULL OR a.legacy_password_hash IS NOT NULL) AS has_password,
           ARRAY(SELECT s.import_id::text FROM account_sources s WHERE s.account_id = a.id AND s.source = $1) AS source_imports
         FROM accounts a WHERE a.id_number_hash = ANY($2::text[])
         FOR UPDATE OF a`,
        [source, idNumberHashes])).rows;
    },

    async takenPhoneHashes(phoneHashes: readonly string[]): Promise<Set<string>> {
      if (phoneHashes.length === 0) return new Set();
      const { rows } = await db.query<{ phone_hash: string }>(
        'SELECT phone_hash FROM accounts WHERE phone_hash = ANY($1::text[])', [phoneHashes]);
      return new Set(rows.map((r) => r.phone_hash));
    },

    /** Returns how many were inserted: fewer means a registration took an ID number or phone meanwhile. */
    async insertAccounts(accounts: readonly NewLegacyAccount[]): Promise<number> {
      if (accounts.length === 0) return 0;
      const column = <K extends keyof NewLegacyAccount>(key: K) => accounts.map((a) => a[key]);
      const { rowCount } = await db.query(
        `INSERT INTO accounts (id, id_number_hash, id_number_enc, id_number_masked, name_enc, name_hash, phone_hash, phone_enc,
           phone_masked, must_reset_password, legacy_password_hash, legacy_password_algorithm)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
           $9::text[], $10::boolean[], $11::text[], $12::text[])
         ON CONFLICT DO NOTHING`,
        [column('id'), column('idNumberHash'), column('idNumberEnc'), column('idNumberMasked'), column('nameEnc'), column('nameHash'),
          column('phoneHash'), column('phoneEnc'), column('phoneMasked'), column('mustResetPassword'), column('legacyPasswordHash'),
          column('legacyPasswordAlgorithm')]);
      return rowCount ?? 0;
    },

    async insertSources(source: string, importId: string, links: readonly { legacyUserId: string; accountId: string }[]): Promise<void> {
      if (links.length === 0) return;
      await db.query(
        `INSERT INTO account_sources (source, legacy_user_id, account_id, import_id)
         SELECT $1, l.legacy_user_id, l.account_id, $4 FROM unnest($2::text[], $3::uuid[]) AS l (legacy_user_id, account_id)`,
        [source, links.map((l) => l.legacyUserId), links.map((l) => l.accountId), importId]);
    },

    /** Only accounts that still have no password of any kind take the legacy hash; returns how many did. */
    async adoptLegacyHashes(adoptions: readonly { accountId: string; hash: string; algorithm: string }[]): Promise<number> {
      if (adoptions.length === 0) return 0;
      const { rowCount } = await db.query(
        `UPDATE accounts a SET legacy_password_hash = v.hash, legacy_password_algorithm = v.algorithm, must_reset_password = false,
           updated_at = now()
         FROM unnest($1::uuid[], $2::text[], $3::text[]) AS v (id, hash, algorithm)
         WHERE a.id = v.id AND a.password_hash IS NULL AND a.legacy_password_hash IS NULL`,
        [adoptions.map((a) => a.accountId), adoptions.map((a) => a.hash), adoptions.map((a) => a.algorithm)]);
      return rowCount ?? 0;
    },

    /**
     * First login with a verified legacy hash: the argon2id hash replaces it. Guarded on the legacy hash that was
     * verified, so of two concurrent first logins only one upgrades (and audits); returns whether this one did.
     */
    async replaceLegacyHash(accountId: string, verifiedLegacyHash: string, passwordHash: string): Promise<boolean> {
      const { rowCount } = await db.query(
        `UPDATE accounts SET password_hash = $3, password_changed_at = now(), legacy_password_hash = NULL,
           legacy_password_algorithm = NULL, updated_at = now()
         WHERE id = $1 AND password_hash IS NULL AND legacy_password_hash = $2`,
        [accountId, verifiedLegacyHash, passwordHash]);
      return (rowCount ?? 0) > 0;
    },

    /** Every legacy system the account came from, with its user id there (for the admin view or a claim). */
    async sourcesOf(accountId: string): Promise<AccountSource[]> {
      const { rows } = await db.query<{ source: string; legacy_user_id: string; imported_at: Date }>(
        'SELECT source, legacy_user_id, imported_at FROM account_sources WHERE account_id = $1 ORDER BY imported_at, source',
        [accountId]);
      return rows.map((r) => ({ source: r.source, legacyUserId: r.legacy_user_id, importedAt: r.imported_at }));
    },

    /** The account a legacy system's user id became (admin look-up: "who was user u-42 of city-portal?"). */
    async accountIdBySource(source: string, legacyUserId: string): Promise<string | undefined> {
      return (await db.query<{ account_id: string }>(
        'SELECT account_id FROM account_sources WHERE source = $1 AND legacy_user_id = $2', [source, legacyUserId])).rows[0]?.account_id;
    },
  };
}

export type LegacyAccountRepository = ReturnType<typeof createLegacyAccountRepository>;
