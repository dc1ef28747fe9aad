import t from 'tap';
import { maskPhone, nationalNumber, normalizeMainlandMobile } from '../../src/identity/phone.ts';

t.test('accepted forms normalise to E.164', async (t) => {
  for (const input of [
    '13800138000',
    '+8613800138000',
    '+86 138 0013 8000',
    '+86-138-0013-8000',
    '008613800138000',
    '0086 138 0013 8000',
    '86 13800138000',
    '8613800138000',
    ' 138 0013 8000 ',
    '１３８００１３８０００',
    '＋８６ １３８ ００１３ ８０００',
    '138\u30000013\u30008000',
  ]) {
    t.same(normalizeMainlandMobile(input), { ok: true, phone: '+8613800138000' }, input);
  }
});

t.test('every second digit 3–9 is a mobile prefix', async (t) => {
  for (const second of ['3', '4', '5', '6', '7', '8', '9']) {
    const national = `1${second}912345678`;
    t.same(normalizeMainlandMobile(national), { ok: true, phone: `+86${national}` });
  }
});

t.test('rejected numbers', async (t) => {
  for (const input of [
    '',
    '   ',
    '1380013800', // 10 digits
    '138001380001', // 12 digits
    '12800138000', // second digit 2
    '10800138000', // second digit 0
    '11800138000', // second digit 1
    '23800138000', // does not start with 1
    '010-12345678', // Beijing landline
    '02112345678', // Shanghai landline
    '+86 10 1234 5678', // landline in international form
    '+1 415 555 2671', // US
    '+852 9123 4567', // Hong Kong
    '+886 912 345 678', // Taiwan
    '+44 7911 123456', // UK
    '+8713800138000', // other country code
    '+86 0138 0013 8000', // trunk prefix
    '013800138000', // trunk prefix
    '+86 13800138000 ext 1',
    '1380013800O', // letter O
    '138 0013 800a',
    '+ 8613800138000x',
    '++8613800138000',
    '86+13800138000',
    '00 86 138001380000',
  ]) {
    t.same(normalizeMainlandMobile(input), { ok: false, reason: 'format' }, JSON.stringify(input));
  }
});

t.test('nationalNumber', async (t) => {
  t.equal(nationalNumber('+8613800138000'), '13800138000');
  t.throws(() => nationalNumber('13800138000'), RangeError);
  t.throws(() => nationalNumber('+14155552671'), RangeError);
});

t.test('maskPhone', async (t) => {
  t.equal(maskPhone('+8613800138000'), '138****8000');
  t.equal(maskPhone('+8619912345678'), '199****5678');
  t.equal(maskPhone('13800138000'), '***********', 'not E.164 → fully starred, never the input');
  t.equal(maskPhone('+14155552671'), '************');
  t.equal(maskPhone(''), '');
});
