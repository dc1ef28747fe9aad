// Mainland China mobile numbers only (11 digits, 1[3-9]xxxxxxxxx), stored as E.164 (+86…).

export type MobileResult = { ok: true; phone: string } | { ok: false; reason: 'format' };

const E164_MOBILE = /^\+86(1[3-9]\d{9})$/;

/**
 * Accepts `13800138000`, `+86 138 0013 8000`, `+86-138-0013-8000`, `008613800138000`, `86 13800138000` and the
 * same with full-width characters. Landlines, foreign numbers and anything that is not 11 national digits fail.
 */
export function normalizeMainlandMobile(input: string): MobileResult {
  const compact = input
    .replace(/[\uFF10-\uFF19]/gu, (c) => String.fromCharCode(c.charCodeAt(0) - 0xff10 + 0x30))
    .replace(/\uFF0B/gu, '+')
    .replace(/[\s\-\u2010-\u2015\u2212\uFF0D]+/gu, '');
  const match = /^(?:\+86|0086|86)?(1[3-9]\d{9})$/.exec(compact);
  if (match === null) return { ok: false, reason: 'format' };
  return { ok: true, phone: `+86${match[1]}` };
}

/** `+8613800138000` → `13800138000`. Throws on anything that is not a normalised mainland mobile number. */
export function nationalNumber(e164: string): string {
  const match = E164_MOBILE.exec(e164);
  if (match === null) throw new RangeError('nationalNumber expects a normalised mainland mobile number (+861XXXXXXXXXX)');
  return match[1];
}

/** `+8613800138000` → `138****8000`. Anything else is fully starred, never returned as is. */
export function maskPhone(e164: string): string {
  const match = E164_MOBILE.exec(e164);
  if (match === null) return '*'.repeat(Array.from(e164).length);
  return `${match[1].slice(0, 3)}****${match[1].slice(7)}`;
}
