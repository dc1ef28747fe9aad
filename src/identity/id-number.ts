// GB 11643-1999 公民身份号码 (citizen identity number).

export type IdNumberRejection =
  | 'empty'
  | 'format'
  | 'check_digit'
  | 'province'
  | 'birth_date'
  | 'birth_date_future';

export type IdNumberResult =
  | {
      ok: true;
      idNumber: string;
      /** YYYY-MM-DD */
      birthDate: string;
      sex: 'M' | 'F';
      region: string;
      upgradedFrom15?: boolean;
    }
  | { ok: false; reason: IdNumberRejection };

export const ID_NUMBER_REJECTION_MESSAGES: Record<IdNumberRejection, { zh: string; en: string }> = {
  empty: {
    zh: '请输入公民身份号码。',
    en: 'Please enter your citizen ID number.',
  },
  format: {
    zh: '公民身份号码应为 18 位（前 17 位为数字，最后一位为数字或 X），或 15 位数字的旧号码。',
    en: 'The ID number must be 18 characters (17 digits followed by a digit or X), or a 15-digit legacy number.',
  },
  check_digit: {
    zh: '校验码（最后一位）不正确，请核对号码。',
    en: 'The check digit (last character) does not match: please check the number.',
  },
  province: {
    zh: '号码前两位不是有效的省级行政区划代码，请核对号码。',
    en: 'The first two digits are not a valid province code: please check the number.',
  },
  birth_date: {
    zh: '号码中的出生日期（第 7–14 位）不是有效日期，请核对号码。',
    en: 'The birth date in the number (characters 7–14) is not a valid date: please check the number.',
  },
  birth_date_future: {
    zh: '号码中的出生日期（第 7–14 位）晚于今天，请核对号码。',
    en: 'The birth date in the number (characters 7–14) is in the future: please check the number.',
  },
};

// GB 11643-1999 check character, ISO 7064 MOD 11-2: Wi = 2^(18−i) mod 11 for positions i = 1…17.
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const CHECK_CHARS = '10X98765432';

// Province-level GB/T 2260 codes, plus 71 (Taiwan), 81/82 (HK/Macao) and 83 (Taiwan residents' 居住证).
// Only the province is a hard rule: address codes never change after assignment, so abolished county codes stay valid.
const PROVINCES: ReadonlySet<string> = new Set([
  '11', '12', '13', '14', '15',
  '21', '22', '23',
  '31', '32', '33', '34', '35', '36', '37',
  '41', '42', '43', '44', '45', '46',
  '50', '51', '52', '53', '54',
  '61', '62', '63', '64', '65',
  '71', '81', '82', '83',
]);

// The Annex A example of the standard is born in 1880, so the lower bound must not be later than that.
const MIN_BIRTH_YEAR = 1800;

// China Standard Time has no DST, so "today" as a Chinese calendar date is a fixed +08:00 shift.
const CHINA_OFFSET_MS = 8 * 60 * 60 * 1000;

export function normalizeIdNumber(input: string): string {
  return input
    .replace(/\s+/gu, '')
    .replace(/[\uFF10-\uFF19]/gu, (c) => String.fromCharCode(c.charCodeAt(0) - 0xff10 + 0x30))
    .replace(/[xX\uFF38\uFF58]/gu, 'X');
}

/** MOD 11-2 check character for the first 17 digits of an 18-digit number. */
export function idNumberCheckChar(body17: string): string {
  if (!/^\d{17}$/.test(body17)) {
    throw new RangeError('idNumberCheckChar expects exactly 17 ASCII digits');
  }
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(body17[i]) * WEIGHTS[i];
  return CHECK_CHARS[sum % 11];
}

function upgrade15(id15: string): string {
  // GB 11643-1989 reserved sequence codes 996–999 for centenarians (dropped by the 1999 edition, see its foreword).
  const century = /^99[6-9]$/.test(id15.slice(12, 15)) ? '18' : '19';
  const body = id15.slice(0, 6) + century + id15.slice(6, 15);
  return body + idNumberCheckChar(body);
}

function chinaDate(instant: Date): string {
  return new Date(instant.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 10);
}

/**
 * Validates a citizen ID number. Input is normalised first; 15-digit legacy numbers are upgraded to 18 digits.
 * "Today" (default: now) is evaluated as a calendar date in China Standard Time.
 */
export function validateIdNumber(input: string, options: { today?: Date } = {}): IdNumberResult {
  let id = normalizeIdNumber(input);
  if (id === '') return { ok: false, reason: 'empty' };

  let upgraded = false;
  if (/^\d{15}$/.test(id)) {
    id = upgrade15(id);
    upgraded = true;
  }
  if (!/^\d{17}[\dX]$/.test(id)) return { ok: false, reason: 'format' };
  if (idNumberCheckChar(id.slice(0, 17)) !== id[17]) return { ok: false, reason: 'check_digit' };
  if (!PROVINCES.has(id.slice(0, 2))) return { ok: false, reason: 'province' };

  const year = Number(id.slice(6, 10));
  const month = Number(id.slice(10, 12));
  const day = Number(id.slice(12, 14));
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (
    year < MIN_BIRTH_YEAR ||
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day
  ) {
    return { ok: false, reason: 'birth_date' };
  }
  const birthDate = `${id.slice(6, 10)}-${id.slice(10, 12)}-${id.slice(12, 14)}`;
  if (birthDate > chinaDate(options.today ?? new Date())) return { ok: false, reason: 'birth_date_future' };

  const result: IdNumberResult = {
    ok: true,
    idNumber: id,
    birthDate,
    // GB 11643-1999: the last digit of the sequence code (position 17) is odd for men, even for women.
    sex: Number(id[16]) % 2 === 1 ? 'M' : 'F',
    region: id.slice(0, 6),
  };
  if (upgraded) result.upgradedFrom15 = true;
  return result;
}

/** `11010519491231002X` → `1101**********002X`. Anything that is not 18 characters is fully starred. */
export function maskIdNumber(idNumber: string): string {
  const chars = Array.from(idNumber);
  if (chars.length !== 18) return '*'.repeat(chars.length);
  return chars.slice(0, 4).join('') + '*'.repeat(10) + chars.slice(14).join('');
}
