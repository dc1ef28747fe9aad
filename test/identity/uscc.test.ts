import t from 'tap';
import {
  USCC_REJECTION_MESSAGES,
  maskUscc,
  normalizeUscc,
  usccCheckChar,
  validateUscc,
} from '../../src/identity/uscc.ts';

t.test('reference vectors V1–V3 (standards.md §1.3) are valid', async (t) => {
  t.same(validateUscc('91110108MA01234537'), {
    ok: true,
    uscc: '91110108MA01234537',
    orgCodeCheck: true,
    region: '110108',
  });
  t.same(validateUscc('12310000425012349Q'), {
    ok: true,
    uscc: '12310000425012349Q',
    orgCodeCheck: true,
    region: '310000',
  });
  t.same(validateUscc('52440300MJL000120N'), {
    ok: true,
    uscc: '52440300MJL000120N',
    orgCodeCheck: true,
    region: '440300',
  });
  t.same(validateUscc('914403001922038216'), {
    ok: true,
    uscc: '914403001922038216',
    orgCodeCheck: true,
    region: '440300',
  }, 'well-known real code');
});

t.test('reference vectors I1–I4', async (t) => {
  t.same(validateUscc('91110108MA0123453A'), { ok: false, reason: 'check_char' }, 'I1 position-18 check');
  t.same(validateUscc('O1110108MA01234537'), { ok: false, reason: 'format' }, 'I2 forbidden O');
  // I3: position 18 is consistent, only the embedded GB 11714 check fails → accepted, flagged.
  t.same(validateUscc('91110108MA01234511'), {
    ok: true,
    uscc: '91110108MA01234511',
    orgCodeCheck: false,
    region: '110108',
  }, 'I3 org-code check reported, not rejected');
  t.same(validateUscc('91350211M0000XUF46'), { ok: false, reason: 'check_char' }, 'I4 fails the algorithm');
});

t.test('normalisation', async (t) => {
  t.equal(normalizeUscc(' 9111 0108 ma01 2345 37 '), '91110108MA01234537');
  t.equal(normalizeUscc('９１１１０１０８ＭＡ０１２３４５３７'), '91110108MA01234537');
  t.equal(normalizeUscc('９１１１０１０８ｍａ０１２３４５３７'), '91110108MA01234537');
  t.equal(normalizeUscc('91110108\u3000MA01234537'), '91110108MA01234537');
  const expected = { ok: true, uscc: '12310000425012349Q', orgCodeCheck: true, region: '310000' };
  t.same(validateUscc('12310000425012349q'), expected, 'lower-case');
  t.same(validateUscc('１２３１００００ ４２５０１２３４９ｑ'), expected, 'full-width with spaces');
});

t.test('empty input', async (t) => {
  t.same(validateUscc(''), { ok: false, reason: 'empty' });
  t.same(validateUscc(' \u3000 '), { ok: false, reason: 'empty' });
});

t.test('format errors', async (t) => {
  for (const input of [
    '91110108MA0123453', // 17
    '91110108MA012345377', // 19
    '91110108MA0123453I', // I is excluded
    '91110108MA0123453Z', // Z is excluded
    '91110108MS01234537', // S is excluded
    '91110108MV01234537', // V is excluded
    '9111O108MA01234537', // letter in the digit-only region code
    '91110108MA0123-537',
    '91110108MA01234537'.replace('MA', 'M\u00c4'),
  ]) {
    t.same(validateUscc(input), { ok: false, reason: 'format' }, input);
  }
});

t.test('usccCheckChar', async (t) => {
  t.equal(usccCheckChar('91110108MA0123453'), '7');
  t.equal(usccCheckChar('12310000425012349'), 'Q');
  t.equal(usccCheckChar('52440300MJL000120'), 'N');
  t.equal(usccCheckChar('91440300192203821'), '6');
  // Every body gets a check char from the 31-character set, and that char validates.
  for (const body of ['00000000000000000', 'YY999999YYYYYYYYY', '91110108MA0000000']) {
    const code = body + usccCheckChar(body);
    t.equal(validateUscc(code).ok, true, code);
  }
  t.throws(() => usccCheckChar('91110108MA012345'), RangeError);
  t.throws(() => usccCheckChar('91110108MA012345O'), RangeError);
});

t.test('maskUscc', async (t) => {
  t.equal(maskUscc('91110108MA01234537'), '9111**********4537');
  t.equal(maskUscc('91110108MA0123453'), '*****************');
  t.equal(maskUscc(''), '');
});

t.test('rejection messages', async (t) => {
  t.same(Object.keys(USCC_REJECTION_MESSAGES).sort(), ['check_char', 'empty', 'format']);
  for (const m of Object.values(USCC_REJECTION_MESSAGES)) {
    t.ok(m.zh.length > 0 && m.en.length > 0);
  }
});
