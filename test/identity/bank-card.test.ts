import t from 'tap';
import {
  BANK_CARD_REJECTIONS,
  loadBinTable,
  luhnCheckDigit,
  maskCardNumber,
  normalizeCardNumber,
  parseBinTable,
  validateCardNumber,
} from '../../src/identity/bank-card.ts';

const BINS_FILE = new URL('../../config/bank-bins.json', import.meta.url).pathname;
const table = await loadBinTable(BINS_FILE);

const withCheck = (body: string) => body + luhnCheckDigit(body);
/** The last digit replaced by each wrong one. */
const wrongChecks = (cardNumber: string) =>
  [...'0123456789'].filter((d) => d !== cardNumber.slice(-1)).map((d) => cardNumber.slice(0, -1) + d);

const fullWidth = (ascii: string) => ascii.replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d)));

t.test('Luhn check digits of published examples', async (t) => {
  t.equal(luhnCheckDigit('7992739871'), '3', 'the classic 79927398713');
  t.equal(luhnCheckDigit('411111111111111'), '1', 'Visa test card 4111 1111 1111 1111');
  t.equal(luhnCheckDigit('555555555555444'), '4', 'Mastercard test card 5555 5555 5555 4444');
  t.equal(luhnCheckDigit('0'), '0');
  t.equal(luhnCheckDigit('1'), '8');
  t.throws(() => luhnCheckDigit(''), RangeError);
  t.throws(() => luhnCheckDigit('12a4'), RangeError);
  t.throws(() => luhnCheckDigit(fullWidth('1234')), RangeError, 'full-width digits must be normalised first');
});

t.test('the sample BIN table', async (t) => {
  t.same(
    [...table.issuers.keys()].sort(),
    ['621661', '621700', '622202', '622260', '622588', '622848'],
  );
  t.same(table.issuers.get('622202'), { name: { 'zh-CN': '中国工商银行', en: 'Industrial and Commercial Bank of China (ICBC)' }, type: 'debit' });
  t.equal(table.issuers.get('622848')?.name['zh-CN'], '中国农业银行');
  t.equal(table.issuers.get('621700')?.name['zh-CN'], '中国建设银行');
  t.equal(table.issuers.get('621661')?.name['zh-CN'], '中国银行');
  t.equal(table.issuers.get('622588')?.name['zh-CN'], '招商银行');
  t.equal(table.issuers.get('622260')?.name['zh-CN'], '交通银行');
  for (const reason of BANK_CARD_REJECTIONS) {
    t.ok(table.messages[reason]['zh-CN'].length > 0 && table.messages[reason].en.length > 0, `message for ${reason}`);
  }
});

t.test('valid cards of every listed BIN, 16 to 19 digits', async (t) => {
  for (const [bin, issuer] of table.issuers) {
    for (const length of [16, 17, 18, 19]) {
      const cardNumber = withCheck((bin + '3141592653589793').slice(0, length - 1));
      t.same(
        validateCardNumber(cardNumber, table),
        { ok: true, cardNumber, bin, last4: cardNumber.slice(-4), issuer },
        `${bin}, ${length} digits`,
      );
    }
  }
  t.same(validateCardNumber('6222020200123456788', table), {
    ok: true,
    cardNumber: '6222020200123456788',
    bin: '622202',
    last4: '6788',
    issuer: { name: { 'zh-CN': '中国工商银行', en: 'Industrial and Commercial Bank of China (ICBC)' }, type: 'debit' },
  });
});

t.test('without a table only the format and the check digit are checked', async (t) => {
  t.same(validateCardNumber('4111111111111111'), { ok: true, cardNumber: '4111111111111111', bin: '411111', last4: '1111' });
  const result = validateCardNumber('6222020200123456788');
  t.ok(result.ok && !('issuer' in result), 'no issuer without a table');
  t.same(validateCardNumber('6222020200123456789'), { ok: false, reason: 'luhn' });
});

t.test('every wrong check digit fails with luhn', async (t) => {
  for (const cardNumber of ['6222020200123456788', '6225880123456783', '6217000310098765438']) {
    for (const wrong of wrongChecks(cardNumber)) t.same(validateCardNumber(wrong, table), { ok: false, reason: 'luhn' }, wrong);
  }
  t.same(validateCardNumber('6222020200123456878', table), { ok: false, reason: 'luhn' }, 'two adjacent digits swapped');
});

t.test('lengths outside 16 to 19 digits fail with format', async (t) => {
  for (const length of [12, 13, 14, 15, 20, 21]) {
    const cardNumber = withCheck(('622202' + '0'.repeat(20)).slice(0, length - 1));
    t.same(validateCardNumber(cardNumber, table), { ok: false, reason: 'format' }, `${length} digits with a valid check digit`);
  }
});

t.test('anything but digits fails with format', async (t) => {
  for (const input of ['622202020012345678A', '6222O20200123456788', '6222.0202.0012.3456.788', '+6222020200123456788', '６２２２０２0200123456788x', '卡号6222020200123456788']) {
    t.same(validateCardNumber(input, table), { ok: false, reason: 'format' }, input);
  }
});

t.test('empty input', async (t) => {
  for (const input of ['', '   ', ' - ', '\u3000']) t.same(validateCardNumber(input, table), { ok: false, reason: 'empty' }, JSON.stringify(input));
});

t.test('a valid number with an unlisted BIN fails with unknown_issuer', async (t) => {
  t.same(validateCardNumber('4111111111111111', table), { ok: false, reason: 'unknown_issuer' });
  t.same(validateCardNumber(withCheck('622203020012345678'), table), { ok: false, reason: 'unknown_issuer' }, 'neighbouring BIN');
  t.same(validateCardNumber(withCheck('62220'.padEnd(18, '1')), table), { ok: false, reason: 'unknown_issuer' });
  t.same(validateCardNumber('6222020200123456789', table), { ok: false, reason: 'luhn' }, 'the check digit is checked before the issuer');
});

t.test('the longest listed prefix wins', async (t) => {
  const raw = {
    bins: [
      { prefix: '622202', name: { 'zh-CN': '甲银行', en: 'Bank A' }, type: 'debit' },
      { prefix: '62220288', name: { 'zh-CN': '乙银行', en: 'Bank B' }, type: 'credit' },
    ],
    messages: table.messages,
  };
  const custom = parseBinTable(raw);
  const a = validateCardNumber(withCheck('622202770012345678'), custom);
  const b = validateCardNumber(withCheck('622202880012345678'), custom);
  t.ok(a.ok && a.issuer?.name.en === 'Bank A' && a.issuer.type === 'debit');
  t.ok(b.ok && b.issuer?.name.en === 'Bank B' && b.issuer.type === 'credit' && b.bin === '622202');
});

t.test('normalisation: spaces, hyphens and full-width digits', async (t) => {
  t.equal(normalizeCardNumber('6222 0202 0012 3456 788'), '6222020200123456788');
  t.equal(normalizeCardNumber('6222-0202-0012-3456-788'), '6222020200123456788');
  t.equal(normalizeCardNumber(' 6222\u30000202\t0012\u20133456－788 '), '6222020200123456788', 'ideographic space, tab, en dash, full-width hyphen');
  t.equal(normalizeCardNumber(fullWidth('6222020200123456788')), '6222020200123456788');
  t.equal(normalizeCardNumber('6222abc'), '6222abc', 'letters are left for the validator to refuse');
  for (const input of ['6222 0202 0012 3456 788', '6222-0202-0012-3456-788', fullWidth('6222 0202 0012 3456 788'), '\t6222020200123456788\n']) {
    const result = validateCardNumber(input, table);
    t.ok(result.ok && result.cardNumber === '6222020200123456788', JSON.stringify(input));
  }
});

t.test('masking keeps the first 4 and last 4 digits', async (t) => {
  t.equal(maskCardNumber('6222020200123456788'), '6222 **** **** 6788');
  t.equal(maskCardNumber('6225880123456783'), '6225 **** **** 6783');
  const card17 = withCheck('6217000310098765');
  t.equal(maskCardNumber(card17), `6217 **** **** ${card17.slice(-4)}`);
  t.equal(maskCardNumber('6222020200123456788').length, maskCardNumber('6225880123456783').length, 'the mask does not reveal the length');
  for (const input of ['', '622202020012345', '62220202001234567890', '6222 0202 0012 3456 788', '622202020012345678X']) {
    const masked = maskCardNumber(input);
    t.match(masked, /^\**$/, `${JSON.stringify(input)} is fully starred`);
    t.equal(masked.length, input.length);
  }
});

t.test('an invalid BIN table is refused', async (t) => {
  const good = { bins: [{ prefix: '622202', name: { 'zh-CN': '甲银行', en: 'Bank A' }, type: 'debit' }], messages: table.messages };
  t.ok(parseBinTable({ $comment: 'sample', ...good }).issuers.has('622202'), 'a "$" key is a comment');
  const bad: [string, unknown][] = [
    ['not an object', []],
    ['no bins', { ...good, bins: [] }],
    ['short prefix', { ...good, bins: [{ ...good.bins[0], prefix: '62220' }] }],
    ['long prefix', { ...good, bins: [{ ...good.bins[0], prefix: '622202123' }] }],
    ['duplicate prefix', { ...good, bins: [good.bins[0], good.bins[0]] }],
    ['unknown type', { ...good, bins: [{ ...good.bins[0], type: 'prepaid' }] }],
    ['name without en', { ...good, bins: [{ ...good.bins[0], name: { 'zh-CN': '甲银行' } }] }],
    ['unknown entry field', { ...good, bins: [{ ...good.bins[0], bank: 'A' }] }],
    ['missing message', { ...good, messages: { ...table.messages, luhn: undefined } }],
    ['unknown message', { ...good, messages: { ...table.messages, expired: { 'zh-CN': '过期', en: 'Expired' } } }],
    ['unknown top-level field', { ...good, issuers: [] }],
  ];
  for (const [label, value] of bad) t.throws(() => parseBinTable(value), label);
});
