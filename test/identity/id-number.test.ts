import t from 'tap';
import {
  ID_NUMBER_REJECTION_MESSAGES,
  idNumberCheckChar,
  maskIdNumber,
  normalizeIdNumber,
  validateIdNumber,
} from '../../src/identity/id-number.ts';
import type { IdNumberRejection } from '../../src/identity/id-number.ts';

// A fixed "today" so the tests do not depend on the clock: 2024-06-15 noon in China Standard Time.
const today = new Date('2024-06-15T12:00:00+08:00');

t.test('reference vectors V1–V4 (standards.md §1.3) are valid', async (t) => {
  t.same(validateIdNumber('11010519491231002X', { today }), {
    ok: true,
    idNumber: '11010519491231002X',
    birthDate: '1949-12-31',
    sex: 'F',
    region: '110105',
  });
  t.same(validateIdNumber('440305199002281231', { today }), {
    ok: true,
    idNumber: '440305199002281231',
    birthDate: '1990-02-28',
    sex: 'M',
    region: '440305',
  });
  t.same(validateIdNumber('510107200002292462', { today }), {
    ok: true,
    idNumber: '510107200002292462',
    birthDate: '2000-02-29',
    sex: 'F',
    region: '510107',
  });
  t.same(validateIdNumber('130503196704010016', { today }), {
    ok: true,
    idNumber: '130503196704010016',
    birthDate: '1967-04-01',
    sex: 'M',
    region: '130503',
  });
  const v4 = validateIdNumber('130503196704010016', { today });
  t.ok(v4.ok && v4.upgradedFrom15 === undefined, 'an 18-digit input is not flagged as upgraded');
});

t.test('the second GB 11643 Annex example (born 1880) is valid', async (t) => {
  const r = validateIdNumber('440524188001010014', { today });
  t.same(r, { ok: true, idNumber: '440524188001010014', birthDate: '1880-01-01', sex: 'M', region: '440524' });
});

t.test('reference vectors I1–I4 are rejected with the exact reason', async (t) => {
  t.same(validateIdNumber('110105194912310020', { today }), { ok: false, reason: 'check_digit' });
  t.same(validateIdNumber('110105199002301231', { today }), { ok: false, reason: 'birth_date' });
  t.same(validateIdNumber('990105199001011236', { today }), { ok: false, reason: 'province' });
  t.same(validateIdNumber('110105209912311232', { today }), { ok: false, reason: 'birth_date_future' });
});

t.test('I4 is also in the future with the default today (now)', async (t) => {
  t.same(validateIdNumber('110105209912311232'), { ok: false, reason: 'birth_date_future' });
  t.equal(validateIdNumber('11010519491231002X').ok, true);
});

t.test('normalisation', async (t) => {
  t.equal(normalizeIdNumber(' 1101 0519 4912 3100 2x '), '11010519491231002X');
  t.equal(normalizeIdNumber('１１０１０５１９４９１２３１００２Ｘ'), '11010519491231002X');
  t.equal(normalizeIdNumber('１１０１０５１９４９１２３１００２ｘ'), '11010519491231002X');
  t.equal(normalizeIdNumber('110105\u300019491231\t002X\n'), '11010519491231002X', 'U+3000, tab and newline');
  t.equal(normalizeIdNumber('abc'), 'abc', 'does not validate or drop other characters');

  const expected = { ok: true, idNumber: '11010519491231002X', birthDate: '1949-12-31', sex: 'F', region: '110105' };
  t.same(validateIdNumber('11010519491231002x', { today }), expected, 'lower-case x');
  t.same(validateIdNumber('  110105 19491231 002X ', { today }), expected, 'spaces');
  t.same(validateIdNumber('１１０１０５１９４９１２３１００２ｘ', { today }), expected, 'full-width digits and x');
  t.same(validateIdNumber('110105\u300019491231\u3000002X', { today }), expected, 'full-width spaces');
});

t.test('15-digit legacy numbers are upgraded', async (t) => {
  t.same(validateIdNumber('130503670401001', { today }), {
    ok: true,
    idNumber: '130503196704010016',
    birthDate: '1967-04-01',
    sex: 'M',
    region: '130503',
    upgradedFrom15: true,
  });
  // Sequence codes 996–999 were reserved for centenarians by GB 11643-1989, so the century is 18.
  t.same(validateIdNumber('110105800101996', { today }), {
    ok: true,
    idNumber: '11010518800101996X',
    birthDate: '1880-01-01',
    sex: 'F',
    region: '110105',
    upgradedFrom15: true,
  });
  const c999 = validateIdNumber('110105800101999', { today });
  t.ok(c999.ok && c999.idNumber.startsWith('11010518800101999') && c999.sex === 'M', 'sequence 999 → 1880, male');
  const c995 = validateIdNumber('110105800101995', { today });
  t.ok(c995.ok && c995.birthDate === '1980-01-01', 'sequence 995 is an ordinary number → 1980');
  t.same(validateIdNumber('１３０５０３ ６７０４０１ ００１', { today }), {
    ok: true,
    idNumber: '130503196704010016',
    birthDate: '1967-04-01',
    sex: 'M',
    region: '130503',
    upgradedFrom15: true,
  }, 'normalised before upgrading');
  t.same(validateIdNumber('130503670230001', { today }), { ok: false, reason: 'birth_date' }, '15-digit bad date');
  t.same(validateIdNumber('990503670401001', { today }), { ok: false, reason: 'province' }, '15-digit bad province');
  t.same(validateIdNumber('13050367040100X', { today }), { ok: false, reason: 'format' }, 'no check char in 15');
});

t.test('empty input', async (t) => {
  t.same(validateIdNumber(''), { ok: false, reason: 'empty' });
  t.same(validateIdNumber('   '), { ok: false, reason: 'empty' });
  t.same(validateIdNumber('\u3000\u3000'), { ok: false, reason: 'empty' });
});

t.test('wrong lengths and characters are format errors', async (t) => {
  for (const input of [
    '1',
    '11010519491231002', // 17
    '11010519491231002XX', // 19
    '110105194912310021', // fine length, wrong check: not a format error (control below)
    '1101051949123100', // 16
    '13050367040100', // 14
    '1305036704010011', // 16
    '1101051949A231002X', // letter in the middle
    '11010519491231002Y',
    'X10105194912310020',
    '110105-19491231-002X',
  ]) {
    const r = validateIdNumber(input, { today });
    if (input === '110105194912310021') t.same(r, { ok: false, reason: 'check_digit' }, input);
    else t.same(r, { ok: false, reason: 'format' }, input);
  }
});

t.test('birth date rules', async (t) => {
  t.same(validateIdNumber('110105190102291236', { today }), { ok: false, reason: 'birth_date' }, '1901-02-29');
  t.same(validateIdNumber('110105190002291239', { today }), { ok: false, reason: 'birth_date' }, '1900-02-29');
  t.same(validateIdNumber('110105179912311238', { today }), { ok: false, reason: 'birth_date' }, 'year 1799');
  t.equal(validateIdNumber('110105180001011232', { today }).ok, true, 'year 1800 is the lower bound');
  t.equal(validateIdNumber('510107200002292462', { today }).ok, true, '2000-02-29');

  const bornToday = validateIdNumber('110105202406151238', { today });
  t.same(bornToday, { ok: true, idNumber: '110105202406151238', birthDate: '2024-06-15', sex: 'M', region: '110105' });
  t.same(validateIdNumber('110105202406161241', { today }), { ok: false, reason: 'birth_date_future' }, 'tomorrow');
});

t.test('"today" is the calendar date in China Standard Time', async (t) => {
  // 2024-06-15T16:30Z is already 2024-06-16 00:30 in Beijing.
  const lateUtc = new Date('2024-06-15T16:30:00Z');
  t.equal(validateIdNumber('110105202406161241', { today: lateUtc }).ok, true);
  const earlyUtc = new Date('2024-06-15T15:59:59Z');
  t.same(validateIdNumber('110105202406161241', { today: earlyUtc }), { ok: false, reason: 'birth_date_future' });
});

t.test('province codes', async (t) => {
  t.equal(validateIdNumber('810000199001011230', { today }).ok, true, 'Hong Kong 810000');
  t.equal(validateIdNumber('830000199001011242', { today }).ok, true, 'Taiwan residents 830000');
  t.equal(validateIdNumber('710000199001011237', { today }).ok, true, 'Taiwan 71');
  t.equal(validateIdNumber('640102199001011237', { today }).ok, true, 'Ningxia 64');
  for (const province of ['00', '10', '16', '20', '24', '30', '38', '40', '47', '49', '55', '60', '66', '70', '72', '80', '84', '90', '91']) {
    const body = `${province}010519900101123`;
    const id = body + idNumberCheckChar(body);
    t.same(validateIdNumber(id, { today }), { ok: false, reason: 'province' }, province);
  }
});

t.test('idNumberCheckChar', async (t) => {
  t.equal(idNumberCheckChar('11010519491231002'), 'X');
  t.equal(idNumberCheckChar('44030519900228123'), '1');
  t.equal(idNumberCheckChar('51010720000229246'), '2');
  t.equal(idNumberCheckChar('13050319670401001'), '6');
  t.equal(idNumberCheckChar('44052418800101001'), '4');
  t.throws(() => idNumberCheckChar('1101051949123100'), RangeError);
  t.throws(() => idNumberCheckChar('1101051949123100X'), RangeError);
});

t.test('maskIdNumber', async (t) => {
  t.equal(maskIdNumber('11010519491231002X'), '1101**********002X');
  t.equal(maskIdNumber('440305199002281231'), '4403**********1231');
  t.equal(maskIdNumber('130503670401001'), '***************');
  t.equal(maskIdNumber('1101051949123100'), '****************');
  t.equal(maskIdNumber(''), '');
  t.equal(maskIdNumber('１１０１０５１９４９１２３１００２Ｘ').length, 18);
});

t.test('rejection messages exist for every reason in both languages', async (t) => {
  const reasons: IdNumberRejection[] = ['empty', 'format', 'check_digit', 'province', 'birth_date', 'birth_date_future'];
  t.same(Object.keys(ID_NUMBER_REJECTION_MESSAGES).sort(), [...reasons].sort());
  for (const reason of reasons) {
    t.ok(ID_NUMBER_REJECTION_MESSAGES[reason].zh.length > 0, `${reason} zh`);
    t.ok(ID_NUMBER_REJECTION_MESSAGES[reason].en.length > 0, `${reason} en`);
  }
  t.equal(
    ID_NUMBER_REJECTION_MESSAGES.check_digit.en,
    'The check digit (last character) does not match: please check the number.',
  );
});
