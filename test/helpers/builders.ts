import { randomInt } from 'node:crypto';
import { idNumberCheckChar } from '../../src/identity/id-number.ts';
import { readFileSync } from 'node:fs';
import type { Runtime } from '../../src/bootstrap/runtime.ts';

export const TEST_PASSWORD = 'Correct-Horse-42';


let phoneCounter = randomInt(0, 1_000_000);

/** A unique valid mainland mobile number in E.164. */
export function buildPhone(): string {
  phoneCounter = (phoneCounter + 1) % 100_000_000;
  return `+86139${String(phoneCounter).padStart(8, '0')}`;
}

/** A valid ID number that is NOT in the sandbox register (for "identity not confirmed" cases). */
export function buildUnregisteredIdNumber(): string {
  const body = `110101${1950 + randomInt(0, 50)}0${randomInt(1, 10)}1${randomInt(0, 10)}${String(randomInt(0, 1000)).padStart(3, '0')}`;
  return body + idNumberCheckChar(body);
}

const SANDBOX_CITIZENS = (JSON.parse(readFileSync(new URL('../../config/sandbox-population-register.json', import.meta.url), 'utf8')) as {
  citizens: { name: string; idNumber: string }[];
}).citizens;
let nextCitizen = 0;

/** The next sandbox-register citizen not yet used by this test file (each file has its own database). */
export function nextRegisterCitizen(): { name: string; idNumber: string } {
  const citizen = SANDBOX_CITIZENS[nextCitizen++];
  if (!citizen) throw new Error('test file used up the sandbox register citizens; add more to config/sandbox-population-register.json');
  return citizen;
}

export async function buildCitizen(runtime: Runtime, overrides: { name?: string; idNumber?: string; phone?: string; password?: string } = {}) {
  const citizen = {
    ...(overrides.idNumber ? { name: overrides.name ?? '', idNumber: overrides.idNumber } : nextRegisterCitizen()),
    phone: buildPhone(),
    password: TEST_PASSWORD,
    ...overrides,
  };
  const account = await runtime.accounts.register({ ...citizen, ip: '127.0.0.1' });
  return { ...citizen, account };
}
