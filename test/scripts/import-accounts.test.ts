import { createHash, pbkdf2Sync } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import t from 'tap';
import { formatImportSummary, parseImportArgs } from '../../src/accounts/legacy/import-command.ts';
import { ImportFileError } from '../../src/accounts/legacy/import-file.ts';
import { importLegacyAccounts, type ImportOptions } from '../../src/accounts/legacy/importer.ts';
import { createLegacyAccountRepository } from '../../src/accounts/legacy/repository.ts';
import { createAttemptLimits } from '../../src/authn/attempt-limits.ts';
import { createPasswordAuthenticator } from '../../src/authn/password/authenticator.ts';
import type { Runtime } from '../../src/bootstrap/runtime.ts';
import { createRateLimiter } from '../../src/cache/rate-limiter.ts';
import { hashPassword } from '../../src/authn/password/hashing.ts';
import { seedCitizens, syntheticCitizen } from '../../scripts/seed-citizens.ts';
import { buildCitizen } from '../helpers/builders.ts';
import { createTestRuntime } from '../helpers/runtime.ts';

const PASSWORD = 'Legacy-Pass-2019';
const ctx = { ip: '127.0.0.1', interactionId: 'import-test' };

const hex = (algorithm: string, ...parts: (Buffer | string)[]) => parts.reduce((h, p) => h.update(p), createHash(algorithm)).digest('hex');
const SALT = Buffer.from('5a17', 'hex');
const HASHES = {
  bcrypt: bcrypt.hashSync(PASSWORD, 4),
  'pbkdf2-sha256': `pbkdf2_sha256$1000$NaCl2019$${pbkdf2Sync(PASSWORD, 'NaCl2019', 1000, 32, 'sha256').toString('base64')}`,
  'sha256-salted': `5a17$${hex('sha256', SALT, PASSWORD)}`,
  'sha256-salted-suffix': `5a17$${hex('sha256', PASSWORD, SALT)}`,
  'sm3-salted': `5a17$${hex('sm3', SALT, PASSWORD)}`,
  'sm3-salted-suffix': `5a17$${hex('sm3', PASSWORD, SALT)}`,
  md5: hex('md5', PASSWORD),
} as const;

/** Synthetic citizens well away from the ones other helpers use. */
const citizen = (i: number) => syntheticCitizen(10_000 + i);
const national = (e164: string) => e164.slice(3);

function csv(rows: readonly (readonly string[])[]): string {
  const field = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return rows.map((r) => r.map(field).join(',')).join('\r\n') + '\r\n';
}
const HEADER = ['id_number', 'name', 'phone', 'password_hash', 'hash_algorithm', 'legacy_user_id'];

function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'import-accounts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function importInto(runtime: Runtime, options: ImportOptions) {
  return importLegacyAccounts({ db: runtime.db, protector: runtime.protector, audit: runtime.audit }, { operator: 'test', ...options });
}

type Snapshot = {
  idNumber: string; name: string; phone: string | null; phoneVerified: boolean; hasPassword: boolean; identityVerifiedBy: string | null;
  mustReset: boolean; legacyAlgorithm: string | null; legacyHash: string | null; nameHashOk: boolean; sources: string[];
};

/** Everything the import decides, decrypted, independent of UUIDs and ciphertext randomness. */
async function snapshot(runtime: Runtime): Promise<Snapshot[]> {
  const { rows } = await runtime.db.query<{
    id_number_enc: string; name_enc: string; name_hash: string | null; phone_enc: string | null; phone_verified_at: Date | null;
    password_hash: string | null; identity_verified_by: string | null; must_reset_password: boolean; legacy_password_hash: string | null;
    legacy_password_algorithm: string | null; sources: string[];
  }>(`SELECT a.id_number_enc, a.name_enc, a.name_hash, a.phone_enc, a.phone_verified_at, a.password_hash, a.identity_verified_by,
        a.must_reset_password, a.legacy_password_hash, a.legacy_password_algorithm,
        ARRAY(SELECT s.source || '/' || s.legacy_user_id FROM account_sources s WHERE s.account_id = a.id ORDER BY 1) AS sources
      FROM accounts a`);
  const p = runtime.protector;
  return rows.map((r) => {
    const name = p.decrypt(r.name_enc, 'accounts.name');
    return {
      idNumber: p.decrypt(r.id_number_enc, 'accounts.id_number'), name, phone: r.phone_enc ? p.decrypt(r.phone_enc, 'accounts.phone') : null,
      phoneVerified: r.phone_verified_at !== null, hasPassword: r.password_hash !== null, identityVerifiedBy: r.identity_verified_by,
      mustReset: r.must_reset_password, legacyAlgorithm: r.legacy_password_algorithm, legacyHash: r.legacy_password_hash,
      nameHashOk: r.name_hash === null || r.name_hash === p.lookupHash('name', name), sources: r.sources,
    };
  }).sort((a, b) => a.idNumber.localeCompare(b.idNumber));
}

const rejectsOf = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

/** A 15-digit (pre-1999) number that upgrades to a synthetic citizen's 18-digit one. */
function fifteenDigitCitizen(): { c: ReturnType<typeof citizen>; id15: string } {
  for (let i = 100; ; i++) {
    const c = citizen(i);
    if (c.idNumber.slice(6, 8) === '19' && Number(c.idNumber.slice(14, 17)) < 996) return { c, id15: c.idNumber.slice(0, 6) + c.idNumber.slice(8, 17) };
  }
}

t.test('CSV and JSON-lines imports: accounts, sources, rejects, summary; re-running changes nothing', async (t) => {
  const runtime = await createTestRuntime(t);
  const dir = tempDir(t);
  // Already here: a registered person with a password; one whose account has no password at all; a seeded
  // account from before name_hash (compared by its decrypted name).
  const registered = await buildCitizen(runtime);
  const passwordless = await buildCitizen(runtime);
  await runtime.db.query('UPDATE accounts SET password_hash = NULL WHERE id = $1', [passwordless.account.id]);
  const seeded = syntheticCitizen(20_000);
  await seedCitizens(runtime.db, runtime.protector, { count: 1, startIndex: 20_000, passwordHash: await hashPassword('Seeded-Pass-1') });
  await runtime.db.query('UPDATE accounts SET name_hash = NULL WHERE id_number_hash = $1', [runtime.protector.lookupHash('id_number', seeded.idNumber)]);

  const c = Array.from({ length: 12 }, (_, i) => citizen(i));
  const { c: old, id15 } = fifteenDigitCitizen();
  const badCheckDigit = c[11].idNumber.slice(0, 17) + (c[11].idNumber[17] === '0' ? '1' : '0');
  const csvFile = join(dir, 'city-portal.csv');
  writeFileSync(csvFile, '\uFEFF' + csv([
    HEADER,
    [c[0].idNumber, c[0].name, national(c[0].phone), HASHES.bcrypt, 'bcrypt', 'u-1'], // 2: created
    [c[1].idNumber.toLowerCase(), ` ${c[1].name} `, `+86 ${national(c[1].phone)}`, HASHES['pbkdf2-sha256'], 'pbkdf2_sha256', 'u-2'], // 3
    [c[2].idNumber, c[2].name, '12345', HASHES['sha256-salted'], 'sha256-salted', 'u-3'], // 4: phone invalid
    [c[3].idNumber, c[3].name, registered.phone, HASHES['sm3-salted'], 'SM3-salted', 'u-"4"'], // 5: phone taken
    [c[4].idNumber, c[4].name, '', 'line one\nline two', 'md5', 'u-5'], // 6-7: quoted line break, malformed hash
    [c[5].idNumber, c[5].name, '', 'e38ad214943daad1d64c102faec29de4afe9da3d', 'sha1', 'u-6'], // 8: unsupported
    [badCheckDigit, c[11].name, '', HASHES.md5, 'md5', 'u-7'], // 9: invalid ID number
    [c[0].idNumber, c[0].name, '', HASHES.md5, 'md5', 'u-8'], // 10: duplicate (first in another batch)
    [registered.idNumber, '冒名顶替', '', HASHES.md5, 'md5', 'u-9'], // 11: name conflict
    [passwordless.idNumber, passwordless.name, '', HASHES.md5, 'md5', 'u-10'], // 12: linked, takes the legacy password
    [seeded.idNumber, seeded.name, '', HASHES.md5, 'md5', 'u-11'], // 13: linked, keeps its password
    [c[6].idNumber, '', '', HASHES.md5, 'md5', 'u-12'], // 14: no name
    ['only', 'three', 'fields'], // 16: malformed
    [id15, old.name, '', HASHES.md5, 'md5', 'u-14'], // 17: 15-digit number, stored as 18 digits
    [c[7].idNumber, c[7].name, '', '', '', 'u-15'], // 18: no password
    [c[8].idNumber, c[8].name, '', HASHES.md5, 'md5', 'u-1'], // 19: u-1 is someone else already
    [c[9].idNumber, c[9].name, '', HASHES.md5, 'md5', ''], // 20: no legacy user id
  ]).replace('\r\nonly', '\r\n\r\nonly')); // a blank line 15: the malformed row is line 16, the last three 18–20

  const first = await importInto(runtime, { file: csvFile, source: 'city-portal', batchSize: 4 });
  t.equal(first.status, 'completed');
  t.same(first.counts, {
    rows: 17, created: 8, linked: 2, skipped: 0, rejected: 7,
    rejectReasons: {
      invalid_id_number: 1, duplicate_in_file: 1, name_conflict: 1, missing_name: 1, malformed_row: 1, legacy_user_id_conflict: 1,
      missing_legacy_user_id: 1,
    },
    mustReset: { malformed_hash: 1, unsupported_algorithm: 1, no_password: 1 },
    phoneDropped: { invalid: 1, taken: 1 },
    passwordAdopted: 1,
  }, 'summary counts');

  const rejects = rejectsOf(`${csvFile}.rejects.jsonl`);
  t.same(rejects.map((r) => [r.line, r.reason, r.legacy_user_id]), [
    [9, 'invalid_id_number', 'u-7'], [10, 'duplicate_in_file', 'u-8'], [11, 'name_conflict', 'u-9'], [14, 'missing_name', 'u-12'],
    [16, 'malformed_row', null], [19, 'legacy_user_id_conflict', 'u-1'], [20, 'missing_legacy_user_id', null],
  ], 'rejects: line numbers (quoted line break and blank line counted), reasons, legacy user ids');
  t.equal(rejects[0].detail, 'check_digit');
  t.equal(rejects[0].id_number, `${badCheckDigit.slice(0, 4)}**********${badCheckDigit.slice(14)}`, 'masked ID number');
  const rejectsText = readFileSync(`${csvFile}.rejects.jsonl`, 'utf8');
  for (const secret of [c[0].idNumber, registered.idNumber, badCheckDigit, HASHES.md5, c[0].name, '冒名顶替']) {
    t.notOk(rejectsText.includes(secret), 'the rejects file holds no clear ID number, name or hash');
  }

  const accounts = await snapshot(runtime);
  const byId = new Map(accounts.map((a) => [a.idNumber, a]));
  t.equal(accounts.length, 3 + 8, '3 accounts before, 8 created');
  t.match(byId.get(c[0].idNumber), {
    name: c[0].name, phone: c[0].phone, phoneVerified: false, hasPassword: false, identityVerifiedBy: null, mustReset: false,
    legacyAlgorithm: 'bcrypt', legacyHash: HASHES.bcrypt, sources: ['city-portal/u-1'], nameHashOk: true,
  }, 'a new account: encrypted like the app writes it, self-asserted, phone unverified, legacy hash kept for the first login');
  t.match(byId.get(c[1].idNumber), { name: c[1].name, phone: c[1].phone, legacyAlgorithm: 'pbkdf2-sha256' }, 'names, phones and algorithm names normalised');
  t.match(byId.get(c[2].idNumber), { phone: null, legacyAlgorithm: 'sha256-salted' }, 'invalid phone: imported without it');
  t.match(byId.get(c[3].idNumber), { phone: null, legacyAlgorithm: 'sm3-salted', sources: ['city-portal/u-"4"'] }, 'phone of another account: without it');
  t.match(byId.get(c[4].idNumber), { mustReset: true, legacyHash: null, legacyAlgorithm: null }, 'malformed hash: must reset');
  t.match(byId.get(c[5].idNumber), { mustReset: true, legacyHash: null }, 'unsupported algorithm: must reset');
  t.match(byId.get(c[7].idNumber), { mustReset: true, legacyHash: null }, 'no password: must reset');
  t.match(byId.get(old.idNumber), { name: old.name, sources: ['city-portal/u-14'] }, '15-digit number stored upgraded');
  t.match(byId.get(registered.idNumber), { hasPassword: true, phone: registered.phone, legacyHash: null }, 'name conflict: untouched');
  t.same(byId.get(registered.idNumber)!.sources, [], 'and not linked');
  t.match(byId.get(passwordless.idNumber), { hasPassword: false, legacyAlgorithm: 'md5', mustReset: false, sources: ['city-portal/u-10'] });
  t.match(byId.get(seeded.idNumber), { hasPassword: true, legacyHash: null, sources: ['city-portal/u-11'] }, 'linked by decrypted name; its password kept');
  for (const missing of [c[6], c[8], c[9], c[11]]) t.notOk(byId.has(missing.idNumber), 'rejected rows created nothing');

  const audits = await runtime.audit.list({ event: 'account.imported' });
  t.equal(audits.length, 5, 'one account.imported record per batch (17 rows, 4 a batch)');
  t.match(audits.at(-1), { actor: 'cli:test', detail: { source: 'city-portal', batch: 1, lines: [2, 5], created: 4 } });
  t.notOk(JSON.stringify(audits).includes(c[0].idNumber), 'audit details hold counts, not people');

  // JSON lines from a second system: the same people are one account with two sources.
  const jsonlFile = join(dir, 'tax-old.ndjson');
  writeFileSync(jsonlFile, [
    JSON.stringify({ id_number: c[0].idNumber, name: c[0].name, phone: null, password_hash: HASHES.md5, hash_algorithm: 'md5', legacy_user_id: 9001 }),
    JSON.stringify({ id_number: c[9].idNumber, name: c[9].name, phone: Number(national(c[9].phone)), password_hash: HASHES['sm3-salted-suffix'], hash_algorithm: 'sm3-salted-suffix', legacy_user_id: '9002' }),
    JSON.stringify({ id_number: registered.idNumber, name: '另一个人', legacy_user_id: '9003' }),
    '{"id_number": "broken',
    '',
    JSON.stringify({ id_number: 110101199003070134, name: '张三', legacy_user_id: '9005' }),
    JSON.stringify({ id_number: c[9].idNumber, name: c[9].name, legacy_user_id: '9006', extra: 'ignored' }),
    JSON.stringify({ id_number: c[1].idNumber, name: c[1].name, password_hash: HASHES.md5, hash_algorithm: 'md5', legacy_user_id: '9007' }),
    JSON.stringify({ id_number: c[10].idNumber, name: c[10].name, password_hash: HASHES['sha256-salted-suffix'], hash_algorithm: 'sha256-salted-suffix', legacy_user_id: '9008' }),
  ].join('\n'));
  const second = await importInto(runtime, { file: jsonlFile, source: 'tax-old', rejectsPath: join(dir, 'tax.rejects') });
  t.same(second.counts, {
    rows: 8, created: 2, linked: 2, skipped: 0, rejected: 4,
    rejectReasons: { name_conflict: 1, malformed_row: 2, duplicate_in_file: 1 }, mustReset: {}, phoneDropped: {}, passwordAdopted: 0,
  });
  t.same(rejectsOf(join(dir, 'tax.rejects')).map((r) => [r.line, r.reason, r.detail]), [
    [3, 'name_conflict', undefined], [4, 'malformed_row', 'json_syntax'], [6, 'malformed_row', 'field_type:id_number'], [7, 'duplicate_in_file', undefined],
  ]);
  const after = new Map((await snapshot(runtime)).map((a) => [a.idNumber, a]));
  t.match(after.get(c[0].idNumber), { sources: ['city-portal/u-1', 'tax-old/9001'], legacyAlgorithm: 'bcrypt' }, 'two sources, first hash kept');
  t.match(after.get(c[9].idNumber), { sources: ['tax-old/9002'], phone: c[9].phone, legacyAlgorithm: 'sm3-salted-suffix' });
  const legacy = createLegacyAccountRepository(runtime.db);
  const c0Id = (await runtime.accounts.findByIdentifier(c[0].idNumber)).account!.id;
  t.same((await legacy.sourcesOf(c0Id)).map((s) => [s.source, s.legacyUserId]), [['city-portal', 'u-1'], ['tax-old', '9001']], 'sourcesOf');
  t.equal(await legacy.accountIdBySource('tax-old', '9001'), c0Id, 'accountIdBySource');

  // Re-running either file changes nothing at all.
  const state = await snapshot(runtime);
  const auditCount = (await runtime.audit.list({ limit: 1000 })).length;
  const again = await importInto(runtime, { file: csvFile, source: 'city-portal', batchSize: 4 });
  const againJsonl = await importInto(runtime, { file: jsonlFile, source: 'tax-old', rejectsPath: join(dir, 'tax.rejects') });
  t.ok(again.alreadyCompleted && againJsonl.alreadyCompleted, 'both reported as already imported');
  t.same(again.counts, first.counts, 'with the counts of the run that did it');
  t.match(formatImportSummary(again), /already imported from city-portal/);
  t.same(await snapshot(runtime), state, 'accounts and sources unchanged');
  t.equal((await runtime.audit.list({ limit: 1000 })).length, auditCount, 'no audit records');
  t.equal(readFileSync(`${csvFile}.rejects.jsonl`, 'utf8'), rejectsText, 'rejects file untouched');

  // A re-export with the same rows and one more: only the new row is imported.
  const reexport = join(dir, 'city-portal-2.csv');
  writeFileSync(reexport, csv([HEADER,
    [c[0].idNumber, c[0].name, '', HASHES.md5, 'md5', 'u-1'],
    [c[2].idNumber, c[2].name, '', HASHES.md5, 'md5', 'u-3'],
    [c[11].idNumber, c[11].name, '', HASHES.md5, 'md5', 'u-99'],
    [c[9].idNumber, c[9].name, '', HASHES.md5, 'md5', 'u-100'],
  ]));
  const third = await importInto(runtime, { file: reexport, source: 'city-portal' });
  t.match(third.counts, { rows: 4, skipped: 2, created: 1, linked: 1, rejected: 0 }, 'same source and user id: skipped');
  const fourth = join(dir, 'city-portal-3.csv');
  writeFileSync(fourth, csv([HEADER, [c[1].idNumber, c[1].name, '', HASHES.md5, 'md5', 'u-2b']]));
  t.match((await importInto(runtime, { file: fourth, source: 'city-portal' })).counts.rejectReasons, { duplicate_in_source: 1 },
    'a second user id for the same person in the same source, from another file: duplicate_in_source');
});

t.test('a file that cannot be imported at all is refused before anything is written', async (t) => {
  const runtime = await createTestRuntime(t);
  const dir = tempDir(t);
  const noHeader = join(dir, 'a.csv');
  writeFileSync(noHeader, csv([['id_number', 'name', 'phone', 'password', 'hash_algorithm', 'legacy_user_id']]));
  await t.rejects(importInto(runtime, { file: noHeader, source: 'x' }), /lacks password_hash/);
  await t.rejects(importInto(runtime, { file: join(dir, 'a.txt'), source: 'x' }), ImportFileError);
  await t.rejects(importInto(runtime, { file: noHeader, source: 'bad source!' }), /source must be/);
  t.equal((await runtime.db.query('SELECT 1 FROM account_imports')).rowCount, 0);
  t.same(parseImportArgs(['--source', 'city', 'f.tsv', '--format', 'csv', '--batch-size', '500']),
    { file: 'f.tsv', source: 'city', format: 'csv', rejectsPath: undefined, batchSize: 500, maxBatches: undefined });
  t.throws(() => parseImportArgs(['f.csv']), ImportFileError, '--source is required');
  t.throws(() => parseImportArgs(['--source', 'a', 'f.csv', '--max-batches', '0']), /positive whole number/);
});

t.test('an interrupted import resumes after its last committed batch and ends as one run would', async (t) => {
  const dir = tempDir(t);
  const rows: string[][] = [HEADER];
  const algorithms = Object.keys(HASHES) as (keyof typeof HASHES)[];
  for (let i = 0; i < 23; i++) {
    const p = citizen(200 + i);
    rows.push([p.idNumber, p.name, i % 5 === 0 ? '123' : national(p.phone), HASHES[algorithms[i % algorithms.length]], algorithms[i % algorithms.length], `id-${i}`]);
    if (i % 6 === 3) rows.push([p.idNumber, p.name, '', '', '', `id-${i}-dup`]);
    if (i % 7 === 2) rows.push([`${p.idNumber.slice(0, 17)}Y`, p.name, '', '', '', `id-${i}-bad`]);
  }
  const file = join(dir, 'legacy.csv');
  writeFileSync(file, csv(rows));

  const whole = await createTestRuntime(t);
  const once = await importInto(whole, { file, source: 'hr', batchSize: 5, rejectsPath: join(dir, 'once.rejects') });

  const resumed = await createTestRuntime(t);
  const options = { file, source: 'hr', batchSize: 5, rejectsPath: join(dir, 'resumed.rejects') };
  const stopped = await importInto(resumed, { ...options, maxBatches: 2 });
  t.match(stopped, { status: 'stopped', batches: 2, counts: { rows: 10 } }, 'stopped after 2 batches');
  // A batch whose rejects were written but whose transaction never committed (a crash) left lines past the mark.
  appendFileSync(options.rejectsPath, '{"line":999,"reason":"from a batch that never committed"}\n');
  const next = await importInto(resumed, { ...options, maxBatches: 1 });
  t.match(next, { status: 'stopped', resumed: true, batches: 3, batchesThisRun: 1 });
  const rest = await importInto(resumed, options);
  t.match(rest, { status: 'completed', resumed: true, batches: once.batches });

  t.same(rest.counts, once.counts, 'same counts');
  t.same(await snapshot(resumed), await snapshot(whole), 'same accounts and sources');
  t.equal(readFileSync(options.rejectsPath, 'utf8'), readFileSync(join(dir, 'once.rejects'), 'utf8'), 'same rejects, the uncommitted line cut');
  t.equal((await resumed.audit.list({ event: 'account.imported' })).length, once.batches, 'one audit record per batch overall');
  t.ok((await importInto(resumed, options)).alreadyCompleted, 'then finished');
});

t.test('first login with each legacy algorithm upgrades to argon2id; must-reset accounts cannot log in', async (t) => {
  const runtime = await createTestRuntime(t);
  const dir = tempDir(t);
  const algorithms = Object.keys(HASHES) as (keyof typeof HASHES)[];
  const people = algorithms.map((_, i) => citizen(300 + i));
  const mustReset = citizen(320);
  const file = join(dir, 'legacy.jsonl');
  writeFileSync(file, [
    ...algorithms.map((algorithm, i) => JSON.stringify({
      id_number: people[i].idNumber, name: people[i].name, phone: national(people[i].phone), password_hash: HASHES[algorithm],
      hash_algorithm: algorithm, legacy_user_id: `p${i}`,
    })),
    JSON.stringify({ id_number: mustReset.idNumber, name: mustReset.name, password_hash: 'x', hash_algorithm: 'crypt', legacy_user_id: 'r' }),
  ].join('\n') + '\n');
  t.equal((await importInto(runtime, { file, source: 'portal' })).counts.created, algorithms.length + 1);

  // The authenticator as the runtime builds it, with the database handle for the one-transaction upgrade.
  const { login } = runtime.config;
  const password = createPasswordAuthenticator({
    accounts: runtime.accounts, audit: runtime.audit, db: runtime.db,
    limits: createAttemptLimits({
      limiter: createRateLimiter(runtime.hot), maxFailures: login.maxFailuresPerIdentifier, lockoutSeconds: login.lockoutSeconds, perIpPerMinute: login.perIpPerMinute,
    }),
  });
  const row = async (idNumber: string) => (await runtime.db.query<{ password_hash: string | null; legacy_password_hash: string | null; legacy_password_algorithm: string | null }>(
    'SELECT password_hash, legacy_password_hash, legacy_password_algorithm FROM accounts WHERE id_number_hash = $1',
    [runtime.protector.lookupHash('id_number', idNumber)])).rows[0];

  for (const [i, algorithm] of algorithms.entries()) {
    const person = people[i];
    t.ok(await password.isEnrolled((await runtime.accounts.findByIdentifier(person.idNumber)).account!.id), `${algorithm}: enrolled for password login`);
    await t.rejects(password.verify({ identifier: person.idNumber, password: 'Wrong-Pass-2019' }, ctx), { code: 'invalid_credentials' }, `${algorithm}: wrong password refused`);
    t.equal((await row(person.idNumber)).legacy_password_algorithm, algorithm, `${algorithm}: a failure changes nothing`);
    // Half of them by mobile number: the imported (unverified) phone is a login identifier like any other.
    const identifier = i % 2 === 0 ? person.idNumber : national(person.phone);
    const verified = await password.verify({ identifier, password: PASSWORD }, ctx);
    const after = await row(person.idNumber);
    t.match(after, { password_hash: /^\$argon2id\$/, legacy_password_hash: null, legacy_password_algorithm: null }, `${algorithm}: argon2id, legacy hash gone`);
    const upgrades = await runtime.audit.list({ event: 'login.legacy_upgraded', accountId: verified.accountId });
    t.equal(upgrades.length, 1, `${algorithm}: login.legacy_upgraded audited`);
    t.same(upgrades[0].detail, { algorithm }, `${algorithm}: the audit names the algorithm, no hash material`);
    await password.verify({ identifier: person.idNumber, password: PASSWORD }, ctx);
    t.equal((await runtime.audit.list({ event: 'login.legacy_upgraded', accountId: verified.accountId })).length, 1, `${algorithm}: later logins use argon2id`);
  }

  await t.rejects(password.verify({ identifier: mustReset.idNumber, password: 'x' }, ctx), { code: 'invalid_credentials' }, 'must-reset account: refused like a wrong password');
  const resetId = (await runtime.accounts.findByIdentifier(mustReset.idNumber)).account!.id;
  t.notOk(await password.isEnrolled(resetId), 'not enrolled for password login');
  const failures = await runtime.audit.list({ event: 'login.password', accountId: resetId });
  t.match(failures[0], { result: 'failure', detail: { reason: 'must_reset_password' } }, 'the audit says why');

  // The runtime's own authenticator: the same answers for a legacy account.
  const viaRuntime = citizen(330);
  const second = join(dir, 'second.csv');
  writeFileSync(second, csv([HEADER, [viaRuntime.idNumber, viaRuntime.name, '', HASHES.md5, 'md5', 'v1']]));
  await importInto(runtime, { file: second, source: 'portal' });
  await t.rejects(runtime.password.verify({ identifier: viaRuntime.idNumber, password: 'nope' }, ctx), { code: 'invalid_credentials' });
  t.ok(await runtime.password.verify({ identifier: viaRuntime.idNumber, password: PASSWORD }, ctx), 'runtime.password: legacy login succeeds');
  t.match(await row(viaRuntime.idNumber), { password_hash: /^\$argon2id\$/ }, 'runtime.password: argon2id hash set');
  await t.rejects(runtime.password.verify({ identifier: mustReset.idNumber, password: 'x' }, ctx), { code: 'invalid_credentials' });
});
