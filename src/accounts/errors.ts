import { AppError } from '../http/errors.ts';
import { ID_NUMBER_REJECTION_MESSAGES, type IdNumberRejection } from '../identity/id-number.ts';
import { PASSWORD_VIOLATION_MESSAGES, type PasswordViolation } from '../authn/password/policy.ts';

export const invalidIdNumber = (reason: IdNumberRejection) =>
  new AppError('invalid_id_number', ID_NUMBER_REJECTION_MESSAGES[reason].en, { status: 400, detail: { field: 'id_number', reason } });
export const invalidPhone = () =>
  new AppError('invalid_phone', 'Only mainland China mobile numbers (+86 1xxxxxxxxxx) are accepted.', { status: 400, detail: { field: 'phone' } });
export const invalidName = () =>
  new AppError('invalid_name', 'The name must be 2 to 50 characters, as on the ID card.', { status: 400, detail: { field: 'name' } });
export const weakPassword = (violations: PasswordViolation[]) =>
  new AppError('weak_password', violations.map((v) => PASSWORD_VIOLATION_MESSAGES[v].en).join(' '), { status: 400, detail: { field: 'password', violations } });
/** Never says which of the two elements was wrong (two-element oracle, standards §5). */
export const identityNotConfirmed = () =>
  new AppError('identity_not_confirmed', 'The name and ID number could not be confirmed together.', { status: 400 });
export const alreadyRegistered = () =>
  new AppError('already_registered', 'An account already exists for this ID number or mobile number. Please sign in instead.', { status: 409 });
