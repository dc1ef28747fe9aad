import { AppError } from '../http/errors.ts';

/** One message for "no such account" and "wrong secret", so a response never tells whether an account exists. */
export const invalidCredentials = () =>
  new AppError('invalid_credentials', 'The account or password is incorrect.', { status: 401 });

export const temporarilyLocked = (retryAfterSeconds: number) =>
  new AppError('temporarily_locked', 'Too many failed attempts. Sign-in with this identifier is paused for a while.', { status: 429, retryAfterSeconds });

export const invalidCode = () => new AppError('invalid_code', 'The verification code is incorrect.', { status: 401 });
export const expiredCode = () => new AppError('expired_code', 'The verification code has expired or was already used. Request a new one.', { status: 401 });
export const codeVoided = () => new AppError('code_voided', 'Too many wrong codes: this code is void. Request a new one.', { status: 401 });
export const accountUnavailable = () => new AppError('account_unavailable', 'This account cannot sign in at the moment. Please contact the service hall.', { status: 403 });
