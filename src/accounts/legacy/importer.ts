// Bulk import of accounts exported by legacy systems: streamed, in batches of one transaction each, resumable
// after the last committed batch, idempotent. File format and rules: README, "Importing legacy accounts".
import { randomUUID } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { Database, Queryable } from '../../db/database.ts';
import type { DataProtector } from '../../identity/data-protection.ts';
import { maskIdNumber, normalizeIdNumber, validateIdNumber } from '../../identity/id-number.ts';
import { maskPhone, normalizeMainlandMobile } from '../../identity/phone.ts';
import {
  fileSha256, importFormatOf, ImportFileError, readCsvHeader, readImportRecords, type ImportFields, type ImportFormat, type ImportRecord,
} from './import-file.ts';
import { parseLegacyHash } from './legacy-hashes.ts';
import { createLegacyAccountRepository, type ImportCounts, type NewLegacyAccount } from './repository.ts';

export type ImportOptions = {
  file: string;
  /** The legacy system's name, as stored in account_sources.source. */
  source: string;
  format?: string;
  /** Default `<file>.rejects.jsonl`. */
  rejectsPath?: string;
  batchSize?: number;
  /** Stop after this many batches in this run (tests of resumption; a later run continues). */
  maxBatches?: number;
  /** Who ran it, for the audit trail (`cli:<operator>`). */
  operator?: string;
  onBatch?: (progress: { batches: number; counts: ImportCounts; lineNumber: number }) => void;
};

export type ImportSummary = {
  importId: string;
  source: string;
  file: string;
  format: ImportFormat;
  sha256: string;
  /** 'completed' when the whole file is in; 'stopped' when maxBatches ended this run early. */
  status: 'completed' | 'stopped';
  /** The file had already been imported completely before this run: nothing was done. */
  alreadyCompleted: boolean;
  /** This run continued an interrupted import. */
  resumed: boolean;
  /** Cumulative over every run of this import. */
  counts: ImportCounts;
  batches: number;
  /** Batches committed by this run, and how long it took. */
  batchesThisRun: number;
  seconds: number;
  rejectsFile: string;
  warnings: string[];
};

export const DEFAULT_BATCH_SIZE = 2_000;
const MAX_ATTEMPTS = 3;
const PREPARE_SLICE = 100;
const SOURCE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const LEGACY_USER_ID_MAX = 128;
// The registration form's rule (src/accounts/service.ts), so that an imported name compares like a registered one.
const NAME_PATTERN = /^[\p{L}\p{M}·•．. '-]{2,50}$/u;

export function emptyCounts(): ImportCounts {
  return { rows: 0, created: 0, linked: 0, skipped: 0, rejected: 0, rejectReasons: {}, mustReset: {}, phoneDropped: {}, passwordAdopted: 0 };
}

function add(into: ImportCounts, from: ImportCounts): ImportCounts {
  const merged = (a: Record<string, number>, b: Record<string, number>) => {
    const out = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return {
    rows: into.rows + from.rows, created: into.created + from.created, linked: into.linked + from.linked,
    skipped: into.skipped + from.skipped, rejected: into.rejected + from.rejected,
    rejectReasons: merged(into.rejectReasons, from.rejectReasons), mustReset: merged(into.mustReset, from.mustReset),
    phoneDropped: merged(into.phoneDropped, from.phoneDropped), passwordAdopted: into.passwordAdopted + from.passwordAdopted,
  };
}

const bump = (counts: Record<string, number>, key: string) => { counts[key] = (counts[key] ?? 0) + 1; };

type Reject = { line: number; legacy_user_id: string | null; id_number: string | null; reason: string; detail?: string };

type Candidate = {
  line: number;
  legacyUserId: string;
  idNumber: string;
  idNumberHash: string;
  idNumberEnc: string;
  name: string;
  nameHash: string;
  nameEnc: string;
  phone: { e164: string; hash: string; enc: string } | 'invalid' | undefined;
  password: { hash: string; algorithm: string } | { mustReset: string };
};

/**
 * Checks a row on its own (no database): a Candidate, or the reason it is rejected. Encrypts up front although a
 * few rows will only be linked: this part then runs while the database works on the previous batch.
 */
function screen(record: ImportRecord, protector: DataProtector): Candidate | Reject {
  if ('malformed' in record) return { line: record.line, legacy_user_id: null, id_number: null, reason: 'malformed_row', detail: record.malformed };
  const f: ImportFields = record.fields;
  const uid = f.legacy_user_id.trim();
  const validUid = uid !== '' && uid.length <= LEGACY_USER_ID_MAX && !/\p{Cc}/u.test(uid);
  const id = validateIdNumber(f.id_number);
  const reject = (reason: string, detail?: string): Reject => ({
    line: record.line, legacy_user_id: validUid ? uid : null,
    id_number: f.id_number.trim() === '' ? null : maskIdNumber(id.ok ? id.idNumber : normalizeIdNumber(f.id_number)),
    reason, ...(detail ? { detail } : {}),
  });
  if (!validUid) return reject(uid === '' ? 'missing_legacy_user_id' : 'invalid_legacy_user_id');
  if (!id.ok) return reject('invalid_id_number', id.reason);
  const name = f.name.normalize('NFKC').trim().replace(/\s+/g, ' ');
  if (name === '') return reject('missing_name');
  if (!NAME_PATTERN.test(name)) return reject('invalid_name');

  let phone: Candidate['phone'];
  if (f.phone.trim() !== '') {
    const normalized = normalizeMainlandMobile(f.phone);
    phone = normalized.ok
      ? { e164: normalized.phone, hash: protector.lookupHash('phone', normalized.phone), enc: protector.encrypt(normalized.phone, 'accounts.phone') }
      : 'invalid';
  }
  let password: Candidate['password'];
  if (f.password_hash.trim() === '') password = { mustReset: 'no_password' };
  else {
    const parsed = parseLegacyHash(f.hash_algorithm, f.password_hash);
    password = parsed.ok ? { hash: parsed.hash, algorithm: parsed.algorithm } : { mustReset: parsed.reason };
  }
  return {
    line: record.line, legacyUserId: uid, idNumber: id.idNumber, idNumberHash: protector.lookupHash('id_number', id.idNumber),
    idNumberEnc: protector.encrypt(id.idNumber, 'accounts.id_number'), name, nameHash: protector.lookupHash('name', name),
    nameEnc: protector.encrypt(name, 'accounts.name'), phone, password,
  };
}

type BatchPlan = {
  counts: ImportCounts;
  rejects: Reject[];
  accounts: NewLegacyAccount[];
  links: { legacyUserId: string; accountId: string }[];
  adoptions: { accountId: string; hash: string; algorithm: string }[];
};

type KnownAccount = { id: string; sameName: (c: Candidate) => boolean; hasPassword: boolean; linkedByThisImport: boolean; linkedOtherwise: boolean };

/**
 * Decides every row of a batch against the database as it is now plus the rows before it in the batch, so the
 * outcome does not depend on where batches start: first occurrence wins, later ones see its effect.
 */
async function planBatch(tx: Queryable, protector: DataProtector, source: string, importId: string, screened: (Candidate | Reject)[]): Promise<BatchPlan> {
  const repo = createLegacyAccountRepository(tx);
  const candidates = screened.filter((s): s is Candidate => 'idNumberHash' in s);
  const [linkRows, accountRows, takenPhones] = [
    await repo.linksOf(source, [...new Set(candidates.map((c) => c.legacyUserId))]),
    await repo.accountsByIdNumberHash(source, [...new Set(candidates.map((c) => c.idNumberHash))]),
    await repo.takenPhoneHashes([...new Set(candidates.flatMap((c) => (typeof c.phone === 'object' ? [c.phone.hash] : [])))]),
  ];
  const links = new Map(linkRows.map((l) => [l.legacy_user_id, { idNumberHash: l.id_number_hash, importId: l.import_id }]));
  const known = new Map<string, KnownAccount>(accountRows.map((a) => [a.id_number_hash, {
    id: a.id,
    // Accounts from before name_hash existed (or seeded without it) compare by their decrypted name.
    sameName: (c: Candidate) => (a.name_hash !== null ? a.name_hash === c.nameHash
      : a.name_enc !== null && protector.decrypt(a.name_enc, 'accounts.name').normalize('NFKC').trim().replace(/\s+/g, ' ') === c.name),
    hasPassword: a.has_password,
    linkedByThisImport: a.source_imports.includes(importId),
    linkedOtherwise: a.source_imports.some((i) => i !== importId),
  }]));

  const plan: BatchPlan = { counts: emptyCounts(), rejects: [], accounts: [], links: [], adoptions: [] };
  const { counts } = plan;
  const reject = (c: Candidate, reason: string) => {
    plan.rejects.push({ line: c.line, legacy_user_id: c.legacyUserId, id_number: maskIdNumber(c.idNumber), reason });
    counts.rejected++;
    bump(counts.rejectReasons, reason);
  };
  for (const s of screened) {
    counts.rows++;
    if (!('idNumberHash' in s)) {
      plan.rejects.push(s);
      counts.rejected++;
      bump(counts.rejectReasons, s.reason);
      continue;
    }
    const c = s;
    const link = links.get(c.legacyUserId);
    if (link) {
      if (link.idNumberHash !== c.idNumberHash) reject(c, 'legacy_user_id_conflict');
      else if (link.importId === importId) reject(c, 'duplicate_in_file');
      else counts.skipped++;
      continue;
    }
    const existing = known.get(c.idNumberHash);
    if (existing) {
      if (!existing.sameName(c)) reject(c, 'name_conflict');
      else if (existing.linkedByThisImport) reject(c, 'duplicate_in_file');
      else if (existing.linkedOtherwise) reject(c, 'duplicate_in_source');
      else {
        counts.linked++;
        plan.links.push({ legacyUserId: c.legacyUserId, accountId: existing.id });
        if (!existing.hasPassword && 'hash' in c.password) {
          plan.adoptions.push({ accountId: existing.id, hash: c.password.hash, algorithm: c.password.algorithm });
          existing.hasPassword = true;
        }
        existing.linkedByThisImport = true;
        links.set(c.legacyUserId, { idNumberHash: c.idNumberHash, importId });
      }
      continue;
    }

    let phone: { e164: string; hash: string; enc: string } | undefined;
    if (c.phone === 'invalid') bump(counts.phoneDropped, 'invalid');
    else if (c.phone && takenPhones.has(c.phone.hash)) bump(counts.phoneDropped, 'taken');
    else if (c.phone) {
      phone = c.phone;
      takenPhones.add(c.phone.hash);
    }
    if ('mustReset' in c.password) bump(counts.mustReset, c.password.mustReset);
    const account: NewLegacyAccount = {
      id: randomUUID(),
      idNumberHash: c.idNumberHash,
      idNumberEnc: c.idNumberEnc,
      idNumberMasked: maskIdNumber(c.idNumber),
      nameEnc: c.nameEnc,
      nameHash: c.nameHash,
      phoneHash: phone?.hash ?? null,
      phoneEnc: phone?.enc ?? null,
      phoneMasked: phone ? maskPhone(phone.e164) : null,
      mustResetPassword: 'mustReset' in c.password,
      legacyPasswordHash: 'hash' in c.password ? c.password.hash : null,
      legacyPasswordAlgorithm: 'hash' in c.password ? c.password.algorithm : null,
    };
    counts.created++;
    plan.accounts.push(account);
    plan.links.push({ legacyUserId: c.legacyUserId, accountId: account.id });
    known.set(c.idNumberHash, {
      id: account.id, sameName: (other) => other.nameHash === c.nameHash, hasPassword: true, linkedByThisImport: true, linkedOtherwise: false,
    });
    links.set(c.legacyUserId, { idNumberHash: c.idNumberHash, importId });
  }
  return plan;
}

/** A registration or another importer changed a row this batch relied on: the batch is retried from scratch. */
class BatchConflict extends Error {}

const RETRYABLE_PG_CODES = new Set(['23505', '40001', '40P01']);

function retryable(error: unknown): boolean {
  return error instanceof BatchConflict || RETRYABLE_PG_CODES.has((error as { code?: string }).code ?? '');
}

/** Rejects written past the committed length (a batch that then failed or never committed) are cut off. */
async function openRejects(path: string, committed: number, fresh: boolean, warnings: string[]): Promise<{ handle: FileHandle; length: number }> {
  const handle = await open(path, 'a', 0o600);
  const { size } = await handle.stat();
  let length = fresh ? 0 : committed;
  if (size < length) {
    warnings.push(`the rejects file ${path} is shorter than this import had written (${size} of ${committed} bytes): rejects of earlier runs are missing`);
    length = size;
  }
  if (size > length) await handle.truncate(length);
  return { handle, length };
}

/**
 * Imports `options.file` (see the README, "Importing legacy accounts"). Throws ImportFileError for a file that
 * cannot be imported at all (format, header); every other problem is a reject line or a count in the summary.
 */
export async function importLegacyAccounts(
  deps: { db: Database; protector: DataProtector; audit: AuditLog },
  options: ImportOptions,
): Promise<ImportSummary> {
  const started = performance.now();
  if (!SOURCE_PATTERN.test(options.source)) {
    throw new ImportFileError('the source must be 1–64 characters of letters, digits, ".", "_", ":" or "-", starting with a letter or digit');
  }
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new ImportFileError('the batch size must be from 1 to 10,000');
  const format = importFormatOf(options.file, options.format);
  const rejectsFile = options.rejectsPath ?? `${options.file}.rejects.jsonl`;
  const info = await stat(options.file);
  if (!info.isFile()) throw new ImportFileError(`${options.file} is not a file`);
  const header = format === 'csv' ? await readCsvHeader(options.file) : undefined;
  const sha256 = await fileSha256(options.file);

  const repo = createLegacyAccountRepository(deps.db);
  const job = await repo.startImport({ source: options.source, fileSha256: sha256, fileName: basename(options.file), fileSize: info.size, format });
  if (job.format !== format) throw new ImportFileError(`this file was imported from ${options.source} as ${job.format} before; run it as ${job.format}`);
  let counts: ImportCounts = { ...emptyCounts(), ...job.counts };
  let batches = job.batches;
  const warnings: string[] = [];
  const summary = (status: ImportSummary['status'], extra: Partial<ImportSummary> = {}): ImportSummary => ({
    importId: job.id, source: options.source, file: options.file, format, sha256, status, alreadyCompleted: false,
    resumed: Number(job.byte_offset) > 0, counts, batches, batchesThisRun: batches - job.batches,
    seconds: (performance.now() - started) / 1000, rejectsFile, warnings, ...extra,
  });
  if (job.status === 'completed') return summary('completed', { alreadyCompleted: true, resumed: false });

  let byteOffset = Number(job.byte_offset);
  let lineNumber = Number(job.line_number);
  const rejects = await openRejects(rejectsFile, Number(job.rejects_offset), byteOffset === 0, warnings);
  const actor = `cli:${options.operator ?? 'import'}`;

  type Prepared = { records: ImportRecord[]; screened: (Candidate | Reject)[] };
  // In slices, yielding in between: the batch in flight sends its next statement as soon as the previous one answers.
  const prepare = async (records: ImportRecord[]): Promise<Prepared> => {
    const screened: (Candidate | Reject)[] = [];
    for (let i = 0; i < records.length; i += PREPARE_SLICE) {
      if (i > 0) await yieldToEventLoop();
      for (const record of records.slice(i, i + PREPARE_SLICE)) screened.push(screen(record, deps.protector));
    }
    return { records, screened };
  };

  async function commitBatch({ records, screened }: Prepared): Promise<void> {
    const last = records[records.length - 1];
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await deps.db.transaction(async (tx) => {
          const txRepo = createLegacyAccountRepository(tx);
          const lock = await txRepo.lockImport(job.id);
          if (lock?.byteOffset !== byteOffset) throw new ImportFileError('another run of this import committed meanwhile: run one importer per file at a time');
          const plan = await planBatch(tx, deps.protector, options.source, job.id, screened);
          if ((await txRepo.insertAccounts(plan.accounts)) !== plan.accounts.length) throw new BatchConflict();
          await txRepo.insertSources(options.source, job.id, plan.links);
          plan.counts.passwordAdopted = await txRepo.adoptLegacyHashes(plan.adoptions);
          if (plan.counts.passwordAdopted !== plan.adoptions.length) throw new BatchConflict();

          // Written before COMMIT; the committed length below is what survives a crash (openRejects cuts the rest).
          await rejects.handle.truncate(rejects.length);
          const text = plan.rejects.map((r) => `${JSON.stringify(r)}\n`).join('');
          if (text !== '') {
            await rejects.handle.write(text);
            await rejects.handle.datasync();
          }
          const rejectsLength = rejects.length + Buffer.byteLength(text);
          const total = add(counts, plan.counts);
          await deps.audit.recordWithin(tx, {
            event: 'account.imported', result: 'success', actor,
            detail: {
              source: options.source, importId: job.id, file: basename(options.file), batch: batches + 1, lines: [records[0].line, last.lastLine],
              created: plan.counts.created, linked: plan.counts.linked, skipped: plan.counts.skipped, rejected: plan.counts.rejected,
              mustReset: plan.counts.mustReset, passwordAdopted: plan.counts.passwordAdopted,
            },
          });
          await txRepo.saveProgress(job.id, { byteOffset: last.end, lineNumber: last.lastLine, counts: total, rejectsOffset: rejectsLength, batches: batches + 1 });
          return { total, rejectsLength };
        });
        counts = outcome.total;
        rejects.length = outcome.rejectsLength;
        byteOffset = last.end;
        lineNumber = last.lastLine;
        batches++;
        options.onBatch?.({ batches, counts, lineNumber });
        return;
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || !retryable(error)) throw error;
      }
    }
  }

  const reachedMax = () => options.maxBatches !== undefined && batches - job.batches >= options.maxBatches;
  // Batches commit strictly one after the other (each is decided against the state the previous one left); only the
  // screening of the next batch overlaps the transaction of the current one.
  let inFlight: Promise<void> | undefined;
  const launch = (prepared: Prepared) => {
    inFlight = commitBatch(prepared);
    inFlight.catch(() => {}); // awaited below; this only keeps it from counting as unhandled meanwhile
  };
  try {
    let batch: ImportRecord[] = [];
    for await (const records of readImportRecords(options.file, format, { start: byteOffset, firstLine: lineNumber + 1, header })) {
      for (const record of records) {
        batch.push(record);
        if (batch.length < batchSize) continue;
        const prepared = await prepare(batch);
        batch = [];
        await inFlight;
        if (reachedMax()) return summary('stopped');
        launch(prepared);
      }
    }
    await inFlight;
    if (batch.length > 0) {
      if (reachedMax()) return summary('stopped');
      await commitBatch(await prepare(batch));
    }
    await repo.completeImport(job.id);
    return summary('completed');
  } finally {
    await inFlight?.catch(() => {});
    await rejects.handle.close();
  }
}
