import { maskIdNumber, validateIdNumber } from '../identity/id-number.ts';
import { maskPhone, normalizeMainlandMobile } from '../identity/phone.ts';

/** The form of a typed login identifier that may go into an audit record or a log line. */
export function maskIdentifier(identifier: string): string {
  const phone = normalizeMainlandMobile(identifier);
  if (phone.ok) return maskPhone(phone.phone);
  const id = validateIdNumber(identifier);
  if (id.ok) return maskIdNumber(id.idNumber);
  return '(unrecognised identifier)';
}
