// GB 32100-2015 统一社会信用代码 (unified social credit code).

export type UsccRejection = 'empty' | 'format' | 'check_char';

export type UsccResult =
  | { ok: true; uscc: string; orgCodeCheck: boolean; region: string }
  | { ok: false; reason: UsccRejection };

export const USCC_REJECTION_MESSAGES: Record<UsccRejection, { zh: string; en: string }> = {
  empty: {
    zh: '请输入统一社会信用代码。',
    en: 'Please enter the unified social credit code.',
  },
  format: {
    zh: '统一社会信用代码应为 18 位，由数字和大写字母组成（不使用 I、O、Z、S、V），第 3–8 位为数字。',
    en: 'The unified social credit code must be 18 characters of digits and capital letters (I, O, Z, S and V are not used), with digits in characters 3–8.',
  },
  check_char: {
    zh: '校验码（最后一位）不正确，请核对代码。',
    en: 'The check character (last character) does not match: please check the code.',
  },
};

// GB 32100-2015: 31-character set, the letters I, O, Z, S and V are excluded; index = character value.
const CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';
// GB 32100-2015 position-18 weights: Wi = 3^(i−1) mod 31.
const WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] as const;
// GB 11714-1997 organization code check (positions 9–17 of the USCC).
const ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2] as const;

const FORMAT = /^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/;

export function normalizeUscc(input: string): string {
  return input
    .replace(/\s+/gu, '')
    .replace(/[\uFF10-\uFF19\uFF21-\uFF3A\uFF41-\uFF5A]/gu, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0))
    .toUpperCase();
}

/** Position-18 check character for the first 17 characters of a code. */
export function usccCheckChar(body17: string): string {
  if (!/^[0-9A-HJ-NPQRTUWXY]{17}$/.test(body17)) {
    throw new RangeError('usccCheckChar expects exactly 17 characters from the GB 32100 character set');
  }
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += CHARS.indexOf(body17[i]) * WEIGHTS[i];
  return CHARS[(31 - (sum % 31)) % 31];
}

function orgCheckChar(body8: string): string {
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += Number.parseInt(body8[i], 36) * ORG_WEIGHTS[i];
  const c = 11 - (sum % 11);
  return c === 10 ? 'X' : c === 11 ? '0' : String(c);
}

/**
 * Strict charset and position-18 check. The embedded GB 11714 check (position 17) is only reported as
 * `orgCodeCheck`: codes that fail it are known to have been issued, so it must not be a hard rejection.
 */
export function validateUscc(input: string): UsccResult {
  const code = normalizeUscc(input);
  if (code === '') return { ok: false, reason: 'empty' };
  if (!FORMAT.test(code)) return { ok: false, reason: 'format' };
  if (usccCheckChar(code.slice(0, 17)) !== code[17]) return { ok: false, reason: 'check_char' };
  return {
    ok: true,
    uscc: code,
    orgCodeCheck: orgCheckChar(code.slice(8, 16)) === code[16],
    region: code.slice(2, 8),
  };
}

/** First 4 + stars + last 4. Anything that is not 18 characters is fully starred. */
export function maskUscc(uscc: string): string {
  const chars = Array.from(uscc);
  if (chars.length !== 18) return '*'.repeat(chars.length);
  return chars.slice(0, 4).join('') + '*'.repeat(10) + chars.slice(14).join('');
}
