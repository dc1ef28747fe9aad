import { PASSWORD_VIOLATION_MESSAGES, type PasswordViolation } from '../authn/password/policy.ts';
import type { AppError } from '../http/errors.ts';
import { ID_NUMBER_REJECTION_MESSAGES, type IdNumberRejection } from '../identity/id-number.ts';
import { ERROR_MESSAGES, type Locale } from './i18n.ts';

/** The message a person sees for a typed error, as precise as the error allows, in their language. */
export function describeError(error: AppError, locale: Locale): string {
  const lang = locale === 'en' ? 'en' : 'zh';
  if (error.code === 'invalid_id_number') {
    const reason = error.detail?.reason as IdNumberRejection | undefined;
    if (reason && ID_NUMBER_REJECTION_MESSAGES[reason]) return ID_NUMBER_REJECTION_MESSAGES[reason][lang];
  }
  if (error.code === 'weak_password') {
    const violations = (error.detail?.violations ?? []) as PasswordViolation[];
    if (violations.length > 0) return violations.map((v) => PASSWORD_VIOLATION_MESSAGES[v][lang]).join(' ');
  }
  return ERROR_MESSAGES[error.code]?.[locale] ?? error.message;
}
