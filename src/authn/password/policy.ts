import { readFileSync } from 'node:fs';

export type PasswordViolation = 'too_short' | 'too_long' | 'contains_id_number' | 'contains_phone' | 'common_password';

export const PASSWORD_MAX_LENGTH = 128;

export function loadCommonPasswords(file: string): ReadonlySet<string> {
  return new Set(readFileSync(file, 'utf8').split('\n').map((l) => l.trim().toLowerCase()).filter((l) => l && !l.startsWith('#')));
}

/**
 * NIST 800-63B §5.1.1.2: length and a block list rather than composition rules. Parts of the ID number
 * (birth date, last six) and the phone are refused because they are what an attacker tries first.
 */
export function checkPassword(
  password: string,
  context: { minLength: number; idNumber?: string; phone?: string; commonPasswords: ReadonlySet<string> },
): PasswordViolation[] {
  const violations: PasswordViolation[] = [];
  const length = [...password].length;
  if (length < context.minLength) violations.push('too_short');
  if (length > PASSWORD_MAX_LENGTH) violations.push('too_long');
  const lower = password.toLowerCase();
  if (context.idNumber) {
    const id = context.idNumber.toLowerCase();
    if (lower.includes(id) || lower.includes(id.slice(6, 14)) || lower.includes(id.slice(-6))) violations.push('contains_id_number');
  }
  if (context.phone) {
    const national = context.phone.replace(/^\+86/, '');
    if (lower.includes(national) || lower.includes(national.slice(-8))) violations.push('contains_phone');
  }
  if (context.commonPasswords.has(lower)) violations.push('common_password');
  return violations;
}

export const PASSWORD_VIOLATION_MESSAGES: Record<PasswordViolation, { zh: string; en: string }> = {
  too_short: { zh: '密码至少需要 8 个字符。', en: 'The password must have at least 8 characters.' },
  too_long: { zh: '密码不能超过 128 个字符。', en: 'The password must have at most 128 characters.' },
  contains_id_number: { zh: '密码不能包含身份证号码或其中的出生日期、后六位。', en: 'The password must not contain your ID number, its birth date or its last six characters.' },
  contains_phone: { zh: '密码不能包含手机号码。', en: 'The password must not contain your mobile number.' },
  common_password: { zh: '该密码过于常见，容易被猜中，请换一个。', en: 'This password is too common and easy to guess: choose another.' },
};
