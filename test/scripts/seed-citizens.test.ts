import t from 'tap';
import { hashPassword } from '../../src/authn/password/hashing.ts';
import { validateIdNumber } from '../../src/identity/id-number.ts';
import { maskPhone } from '../../src/identity/phone.ts';
import {
  connectSeedClient, SEED_PASSWORD, SEED_VERIFIED_BY, seedCitizens, syntheticCitizen,
} from '../../scripts/seed-citizens.ts';
import { createTestRuntime, hasRealPostgres } from '../helpers/runtime.ts';

type Row = {
  id_number_hash: string; id_number_enc: string; id_number_masked: string; name_enc: string; phone_hash: string;
  phone_enc: string; phone_masked: string; phone_verified_at: Date | null; password_hash: string;
  identity_verified_at: Date | null; identity_verified_by: string;
};

t.test('seeds 500 valid, unique synthetic citizens encoded like the application, and one of them can log in', async (t) => {
  const runtime = await createTestRuntime(t);
  const passwordHash = await hashPassword(SEED_PASSWORD);

  // With a real PostgreSQL: the COPY path on its own connection to this runtime's schema. Embedded: INSERTs.
  let inserted: number;
  if (hasRealPostgres) {
    const schema = (await runtime.db.query<{ s: string }>('SELECT current_schema() AS s')).rows[0].s;
    const client = await connectSeedClient(process.env.DATABASE_URL!, schema);
    t.teardown(() => client.end());
    inserted = await seedCitizens(client, runtime.protector, { count: 500, passwordHash, batchSize: 128 });
  } else {
    inserted = await seedCitizens(runtime.db, runtime.protector, { count: 500, passwordHash, batchSize: 128 });
  }
  t.equal(inserted, 500, 'reports 500 rows');
  t.equal(await runtime.accounts.count(), 500, '500 rows in the accounts table');

  const { rows } = await runtime.db.query<Row>(
    `SELECT id_number_hash, id_number_enc, id_number_masked, name_enc, phone_hash, phone_enc, phone_masked, phone_verified_at,
       password_hash, identity_verified_at, identity_verified_by FROM accounts`);
  const idNumbers = new Set<string>();
  const phones = new Set<string>();
  const problems: string[] = [];
  for (const row of rows) {
    const idNumber = runtime.protector.decrypt(row.id_number_enc, 'accounts.id_number');
    const phone = runtime.protector.decrypt(row.phone_enc, 'accounts.phone');
    const name = runtime.protector.decrypt(row.name_enc, 'accounts.name');
    const valid = validateIdNumber(idNumber);
    if (!valid.ok || valid.idNumber !== idNumber) problems.push(`${idNumber}: not a valid GB 11643 number`);
    if (row.id_number_hash !== runtime.protector.lookupHash('id_number', idNumber)) problems.push(`${idNumber}: id_number_hash mismatch`);
    if (row.id_number_masked !== `${idNumber.slice(0, 4)}**********${idNumber.slice(14)}`) problems.push(`${idNumber}: bad mask`);
    if (!/^\+861[3-9]\d{9}$/.test(phone)) problems.push(`${phone}: not a mainland mobile number`);
    if (row.phone_hash !== runtime.protector.lookupHash('phone', phone)) problems.push(`${phone}: phone_hash mismatch`);
    if (row.phone_masked !== maskPhone(phone)) problems.push(`${phone}: bad mask`);
    if (!/^[\p{L}]{2,3}$/u.test(name)) problems.push(`${name}: unexpected name`);
    if (!row.phone_verified_at || !row.identity_verified_at || row.identity_verified_by !== SEED_VERIFIED_BY) problems.push(`${idNumber}: verification columns`);
    if (row.password_hash !== passwordHash) problems.push(`${idNumber}: password hash`);
    idNumbers.add(idNumber);
    phones.add(phone);
  }
  t.same(problems, [], 'every row decrypts to a valid ID number and phone whose hashes and masks match lookupHash and the masks');
  t.equal(idNumbers.size, 500, 'ID numbers are unique');
  t.equal(phones.size, 500, 'phones are unique');
  t.ok(idNumbers.has(syntheticCitizen(123).idNumber), 'syntheticCitizen(i) names the seeded rows');

  const provinces = new Set([...idNumbers].map((id) => id.slice(0, 2)));
  t.ok(provinces.size > 20, 'ID numbers spread over the provinces');

  const citizen = syntheticCitizen(42);
  const verified = await runtime.password.verify(
    { identifier: citizen.idNumber, password: SEED_PASSWORD }, { ip: '127.0.0.1', interactionId: 'seed-test' });
  const account = await runtime.accounts.findById(verified.accountId);
  t.equal(account?.idNumber, citizen.idNumber, 'a generated citizen logs in with the seed password');
  t.equal(account?.phone, citizen.phone);
  t.equal(account?.name, citizen.name);

  // Appending with startIndex does not collide with what is already there.
  const more = hasRealPostgres
    ? await (async () => {
      const schema = (await runtime.db.query<{ s: string }>('SELECT current_schema() AS s')).rows[0].s;
      const client = await connectSeedClient(process.env.DATABASE_URL!, schema);
      try {
        return await seedCitizens(client, runtime.protector, { count: 100, startIndex: 500, passwordHash });
      } finally {
        await client.end();
      }
    })()
    : await seedCitizens(runtime.db, runtime.protector, { count: 100, startIndex: 500, passwordHash });
  t.equal(more, 100);
  t.equal(await runtime.accounts.count(), 600);
});

t.test('synthetic citizens are unique far beyond a million and always valid', async (t) => {
  const ids = new Set<string>();
  const phones = new Set<string>();
  let invalid = 0;
  for (let i = 0; i < 200_000; i++) {
    // Sample the whole range up to 10 million, not just the first indexes.
    const citizen = syntheticCitizen(i < 100_000 ? i : 9_900_000 + i);
    if (!validateIdNumber(citizen.idNumber).ok) invalid++;
    ids.add(citizen.idNumber);
    phones.add(citizen.phone);
  }
  t.equal(invalid, 0, 'all valid');
  t.equal(ids.size, 200_000, 'ID numbers distinct');
  t.equal(phones.size, 200_000, 'phones distinct');
  t.throws(() => syntheticCitizen(-1), RangeError);
});
