// Seeds synthetic citizens into the accounts table, encoded exactly as the application writes them.
//
//   npm run seed-citizens -- --count 1000000 [--schema NAME] [--start-index N]
//
// Uses DATABASE_URL and the configured data-protection keys (loadConfig(process.env)). Refuses production.
import pg from 'pg';
import { hashPassword } from '../src/authn/password/hashing.ts';
import { loadConfig } from '../src/config/load-config.ts';
import type { Database, Queryable } from '../src/db/database.ts';
import { createDatabase } from '../src/db/database.ts';
import { migrate } from '../src/db/migrate.ts';
import { createDataProtector, type DataProtector } from '../src/identity/data-protection.ts';
import { idNumberCheckChar, maskIdNumber } from '../src/identity/id-number.ts';
import { maskPhone } from '../src/identity/phone.ts';

/** Every synthetic citizen signs in with this password. */
export const SEED_PASSWORD = 'Synthetic-Citizen-2026';

/** Marks seeded rows so they can be told apart from (and deleted without touching) real registrations. */
export const SEED_VERIFIED_BY = 'synthetic-seed';

export type SyntheticCitizen = { index: number; idNumber: string; name: string; phone: string };

// One real county-level GB/T 2260 code per province-level division (the capitals' central districts).
const REGIONS = [
  '110101', '120101', '130102', '140105', '150102', '210102', '220102', '230102', '310101', '320102', '330102',
  '340102', '350102', '360102', '370102', '410102', '420102', '430102', '440103', '450102', '460105', '500101',
  '510104', '520102', '530102', '540102', '610102', '620102', '630102', '640104', '650102',
] as const;

const FIRST_BIRTH_DAY = Date.UTC(1950, 0, 1) / 86_400_000;
const BIRTH_DAYS = Date.UTC(2005, 11, 31) / 86_400_000 - FIRST_BIRTH_DAY + 1;
const ID_SPACE = BigInt(REGIONS.length * BIRTH_DAYS * 1000);
const PHONE_SPACE = 7_000_000_000n; // 1[3-9] followed by nine digits
// index → (index·A + B) mod space is a bijection when gcd(A, space) = 1, so distinct indexes give distinct
// numbers while consecutive indexes still spread over every region, birth date and mobile prefix.
const MULTIPLIER = 2_654_435_761n; // prime, and divides neither space
const ID_OFFSET = 97_531n;
const PHONE_OFFSET = 1_234_567_891n;

/** Synthetic citizens are unique for indexes below this bound. */
export const MAX_SYNTHETIC_CITIZENS = Number(ID_SPACE);

const SURNAMES = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤';
const GIVEN = '伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国文斌宇浩凯晨欣怡婷雪梅琳颖健峰宁海波丹阳飞云龙';

/** The citizen at `index`: a deterministic, valid GB 11643 ID number, a +861[3-9] mobile and a name. */
export function syntheticCitizen(index: number): SyntheticCitizen {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_SYNTHETIC_CITIZENS) {
    throw new RangeError(`synthetic citizen index must be an integer from 0 to ${MAX_SYNTHETIC_CITIZENS - 1}`);
  }
  const i = BigInt(index);
  const idSlot = Number((i * MULTIPLIER + ID_OFFSET) % ID_SPACE);
  const sequence = idSlot % 1000;
  const rest = Math.floor(idSlot / 1000);
  const birth = new Date((FIRST_BIRTH_DAY + (rest % BIRTH_DAYS)) * 86_400_000).toISOString();
  const body = `${REGIONS[Math.floor(rest / BIRTH_DAYS)]}${birth.slice(0, 4)}${birth.slice(5, 7)}${birth.slice(8, 10)}${String(sequence).padStart(3, '0')}`;
  const phoneSlot = Number((i * MULTIPLIER + PHONE_OFFSET) % PHONE_SPACE);
  const phone = `+861${3 + Math.floor(phoneSlot / 1e9)}${String(phoneSlot % 1e9).padStart(9, '0')}`;
  const name = SURNAMES[index % SURNAMES.length] + GIVEN[Math.floor(index / SURNAMES.length) % GIVEN.length]
    + (index % 3 === 0 ? '' : GIVEN[Math.floor(index / (SURNAMES.length * GIVEN.length)) % GIVEN.length]);
  return { index, idNumber: body + idNumberCheckChar(body), name, phone };
}

const COPY_COLUMNS = `id_number_hash, id_number_enc, id_number_masked, name_enc, phone_hash, phone_enc, phone_masked,
  phone_verified_at, password_hash, password_changed_at, identity_verified_at, identity_verified_by`;

/** One accounts row in COPY text format (tab-separated); none of the values can contain a tab, newline or backslash. */
function accountLine(protector: DataProtector, citizen: SyntheticCitizen, passwordHash: string, now: string): string {
  return [
    protector.lookupHash('id_number', citizen.idNumber),
    protector.encrypt(citizen.idNumber, 'accounts.id_number'),
    maskIdNumber(citizen.idNumber),
    protector.encrypt(citizen.name, 'accounts.name'),
    protector.lookupHash('phone', citizen.phone),
    protector.encrypt(citizen.phone, 'accounts.phone'),
    maskPhone(citizen.phone),
    now, passwordHash, now, now, SEED_VERIFIED_BY,
  ].join('\t') + '\n';
}

type CopyConnection = {
  stream: NodeJS.WritableStream & { writableLength: number };
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
};

// Enough buffered for PostgreSQL to keep ingesting while the next chunk is encrypted, small enough that a
// million rows never sit in memory at once.
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/**
 * `COPY … FROM STDIN` with nothing but `pg`: a Query whose copy-in handler streams `source` over the
 * client's own connection (the stock Query answers CopyInResponse with CopyFail).
 */
class CopyFromSource extends pg.Query {
  readonly #source: AsyncIterable<string>;

  constructor(text: string, source: AsyncIterable<string>) {
    super(text);
    this.#source = source;
  }

  handleCopyInResponse(connection: pg.Connection): void {
    const con = connection as unknown as CopyConnection;
    void (async () => {
      try {
        for await (const chunk of this.#source) {
          con.sendCopyFromChunk(Buffer.from(chunk, 'utf8'));
          if (con.stream.writableLength > MAX_BUFFERED_BYTES) await new Promise((resolve) => con.stream.once('drain', resolve));
        }
        con.endCopyFrom();
      } catch (error) {
        con.sendCopyFail(error instanceof Error ? error.message : String(error));
      }
    })();
  }
}

function copyFrom(client: pg.ClientBase, text: string, source: AsyncIterable<string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const query = new CopyFromSource(text, source);
    query.on('error', reject);
    query.on('end', (result: { rowCount: number | null }) => resolve(result.rowCount ?? 0));
    client.query(query);
  });
}

export type SeedOptions = {
  count: number;
  /** Index of the first synthetic citizen; use the number already seeded to append more. */
  startIndex?: number;
  /** One argon2 hash of SEED_PASSWORD, reused for every row (see seedCitizens). */
  passwordHash: string;
  /** Rows per chunk (COPY) or per INSERT statement. */
  batchSize?: number;
  onProgress?: (inserted: number) => void;
};

/**
 * Inserts citizens `startIndex … startIndex + count - 1`. Given a pg client (a `pg.Client` or pool client
 * with the target schema on its search path) it streams one COPY; given any other Queryable (such as the
 * runtime's Database, or embedded PostgreSQL) it falls back to multi-row INSERTs of `batchSize` rows.
 *
 * Every row carries the same password hash: argon2id at the OWASP parameters costs tens of milliseconds,
 * so a million distinct hashes would take hours, and the benchmarks this feeds measure the cost of finding
 * an account among many (index depth, cache misses), which does not depend on the hashes being different.
 * Login still runs one full argon2 verification per attempt.
 */
export async function seedCitizens(db: pg.ClientBase | Queryable, protector: DataProtector, options: SeedOptions): Promise<number> {
  const { count, startIndex = 0, passwordHash } = options;
  if (!Number.isInteger(count) || count < 0) throw new RangeError('count must be a non-negative integer');
  if (!Number.isInteger(startIndex) || startIndex < 0 || startIndex + count > MAX_SYNTHETIC_CITIZENS) {
    throw new RangeError(`startIndex + count must not exceed ${MAX_SYNTHETIC_CITIZENS}`);
  }
  if (/[\t\n\r\\]/.test(passwordHash)) throw new Error('password hash contains a character COPY text format would need escaped');
  const now = new Date().toISOString();

  const rowLine = (k: number) => accountLine(protector, syntheticCitizen(startIndex + k), passwordHash, now);

  if (db instanceof pg.Client) {
    const batchSize = options.batchSize ?? 1_000;
    async function* chunks() {
      for (let start = 0; start < count; start += batchSize) {
        const end = Math.min(count, start + batchSize);
        let chunk = '';
        for (let k = start; k < end; k++) chunk += rowLine(k);
        yield chunk;
        options.onProgress?.(end);
      }
    }
    return copyFrom(db, `COPY accounts (${COPY_COLUMNS}) FROM STDIN`, chunks());
  }

  // 12 parameters a row: 5,000 rows stay under PostgreSQL's 65,535 bind parameters per statement.
  const batchSize = Math.min(options.batchSize ?? 5_000, 5_000);
  const insertAll = async (q: Queryable) => {
    let inserted = 0;
    for (let start = 0; start < count; start += batchSize) {
      const end = Math.min(count, start + batchSize);
      const values: string[] = [];
      const tuples: string[] = [];
      for (let k = start; k < end; k++) {
        const fields = rowLine(k).slice(0, -1).split('\t');
        const o = values.length;
        tuples.push(`(${fields.map((_, f) => `$${o + f + 1}`).join(', ')})`);
        values.push(...fields);
      }
      inserted += (await q.query(`INSERT INTO accounts (${COPY_COLUMNS}) VALUES ${tuples.join(', ')}`, values)).rowCount ?? 0;
      options.onProgress?.(inserted);
    }
    return inserted;
  };
  // All or nothing, like the COPY, when the caller hands us something that can open a transaction.
  return 'transaction' in db ? (db as Database).transaction(insertAll) : insertAll(db as Queryable);
}

/** A dedicated connection with `schema` first on the search path, for seedCitizens' COPY. */
export async function connectSeedClient(connectionString: string, schema?: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString, options: schema ? `-c search_path=${schema}` : undefined });
  await client.connect();
  return client;
}

function parseArgs(argv: readonly string[]): { count: number; schema?: string; startIndex?: number } {
  const value = (flag: string) => {
    const at = argv.indexOf(flag);
    return at === -1 ? undefined : argv[at + 1];
  };
  const count = Number(value('--count') ?? 1000);
  const schema = value('--schema');
  const start = value('--start-index');
  if (!Number.isInteger(count) || count < 1) throw new Error('--count must be a positive integer');
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error('--schema must be a lower-case SQL identifier');
  if (start !== undefined && !/^\d+$/.test(start)) throw new Error('--start-index must be a non-negative integer');
  return { count, schema, startIndex: start === undefined ? undefined : Number(start) };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const config = loadConfig(process.env);
  if (config.mode === 'production') throw new Error('refusing to seed synthetic citizens with NODE_ENV=production');
  if (!config.databaseUrl) throw new Error('DATABASE_URL is required');

  if (args.schema) {
    const admin = await connectSeedClient(config.databaseUrl);
    await admin.query(`CREATE SCHEMA IF NOT EXISTS ${args.schema}`).finally(() => admin.end());
  }
  const db = createDatabase({ connectionString: config.databaseUrl, maxConnections: 1, schema: args.schema });
  const client = await connectSeedClient(config.databaseUrl, args.schema);
  try {
    await migrate(db);
    // Appending by default: the next index after the synthetic rows already there.
    const startIndex = args.startIndex ?? Number((await client.query<{ n: string }>(
      'SELECT count(*) AS n FROM accounts WHERE identity_verified_by = $1', [SEED_VERIFIED_BY])).rows[0].n);
    const protector = createDataProtector({ encryptionKeys: config.encryptionKeys, lookupKey: config.lookupKey });
    const passwordHash = await hashPassword(SEED_PASSWORD);
    const started = performance.now();
    let lastReport = started;
    const inserted = await seedCitizens(client, protector, {
      count: args.count, startIndex, passwordHash,
      onProgress: (n) => {
        const now = performance.now();
        if (now - lastReport < 5_000) return;
        lastReport = now;
        process.stderr.write(`  ${n.toLocaleString('en-US')} rows generated (${Math.round(n / ((now - started) / 1000))} rows/s)\n`);
      },
    });
    const seconds = (performance.now() - started) / 1000;
    console.log(`inserted ${inserted} synthetic citizens (indexes ${startIndex}…${startIndex + inserted - 1}) into ${args.schema ?? 'the default schema'} `
      + `in ${seconds.toFixed(1)} s: ${Math.round(inserted / seconds)} rows/s. Password for all: ${SEED_PASSWORD}`);
  } finally {
    await client.end();
    await db.close();
  }
}

if (import.meta.main) {
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
