import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { validateCardNumber } from '../../identity/bank-card.ts';
import { idNumberCheckChar, validateIdNumber } from '../../identity/id-number.ts';
import { invalidRequest, isPlainObject, startSignedSandbox } from '../sandbox-server.ts';
import { BANK_CARD_VERIFY_PATH } from './http-client.ts';
import type { BankCardClaim } from './types.ts';

export type SandboxBankCard = Readonly<BankCardClaim & { outage?: boolean }>;

export type SandboxBankCardService = {
  url: string;
  /** Correctly signed JSON requests that reached the endpoint, answered or not: what a vendor would bill. */
  requests(): number;
  close(): Promise<void>;
};

const ID_NUMBER_18 = /^\d{17}[\dX]$/;
const CARD_NUMBER = /^\d{16,19}$/;
const MAINLAND_MOBILE_E164 = /^\+861[3-9]\d{9}$/;
const MAX_NAME_LENGTH = 50;
const CARD_KEYS = new Set(['name', 'idNumber', 'cardNumber', 'phone', 'outage']);
const BODY_KEYS = new Set(['name', 'idNumber', 'cardNumber', 'phone']);

function isWellFormedName(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const length = Array.from(value).length;
  return length >= 1 && length <= MAX_NAME_LENGTH && !/\p{Cc}/u.test(value);
}

function isWellFormedIdNumber(value: unknown): value is string {
  return typeof value === 'string' && ID_NUMBER_18.test(value) && idNumberCheckChar(value.slice(0, 17)) === value[17];
}

function isWellFormedCardNumber(value: unknown): value is string {
  return typeof value === 'string' && CARD_NUMBER.test(value) && validateCardNumber(value).ok;
}

/** Errors name the position in the list only, never the data. */
export function parseSandboxBankCards(value: unknown): readonly SandboxBankCard[] {
  if (!Array.isArray(value)) throw new Error('sandbox bank cards must be an array');
  const seen = new Set<string>();
  return Object.freeze(
    value.map((entry: unknown, index) => {
      if (!isPlainObject(entry)) throw new Error(`sandbox bank card #${index}: must be an object`);
      for (const key of Object.keys(entry)) {
        if (!CARD_KEYS.has(key)) throw new Error(`sandbox bank card #${index}: unknown field "${key.slice(0, 32)}"`);
      }
      const { name, idNumber, cardNumber, phone, outage } = entry;
      if (!isWellFormedName(name) || name.trim() !== name) {
        throw new Error(`sandbox bank card #${index}: name must be a trimmed string of 1 to ${MAX_NAME_LENGTH} characters`);
      }
      const checked = typeof idNumber === 'string' ? validateIdNumber(idNumber) : undefined;
      if (checked === undefined || !checked.ok || checked.idNumber !== idNumber) {
        throw new Error(`sandbox bank card #${index}: idNumber must be a valid 18-character citizen ID number (GB 11643)`);
      }
      if (!isWellFormedCardNumber(cardNumber)) {
        throw new Error(`sandbox bank card #${index}: cardNumber must be 16 to 19 digits with a valid Luhn check digit`);
      }
      if (seen.has(cardNumber)) throw new Error(`sandbox bank card #${index}: duplicate cardNumber`);
      seen.add(cardNumber);
      if (typeof phone !== 'string' || !MAINLAND_MOBILE_E164.test(phone)) {
        throw new Error(`sandbox bank card #${index}: phone must be a mainland China mobile number in E.164 form (+861XXXXXXXXXX)`);
      }
      if (outage !== undefined && typeof outage !== 'boolean') throw new Error(`sandbox bank card #${index}: outage must be a boolean`);
      const card = { name, idNumber: idNumber as string, cardNumber, phone };
      return Object.freeze(outage === true ? { ...card, outage } : card);
    }),
  );
}

/** Reads `{ "cards": [{ "name", "idNumber", "cardNumber", "phone", "outage"? }, …] }` (config/sandbox-bank-cards.json). */
export async function loadSandboxBankCards(path: string): Promise<readonly SandboxBankCard[]> {
  const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
  if (!isPlainObject(parsed)) throw new Error('sandbox bank cards file must hold a JSON object');
  return parseSandboxBankCards(parsed.cards);
}

/**
 * Development stand-in for the card network's four-element check: same endpoint and signature checks. It answers
 * "match" only for the exact four elements of one listed card and, like the real service, never says which
 * element was wrong. A card listed with `outage` stands for an issuing bank that is down: 503 whoever asks.
 */
export async function startSandboxBankCardService(options: {
  appId: string;
  secret: string;
  cards: readonly SandboxBankCard[];
  host?: string;
  port?: number;
}): Promise<SandboxBankCardService> {
  const cards = new Map(parseSandboxBankCards(options.cards).map((card) => [card.cardNumber, card]));
  let requests = 0;
  const server = await startSignedSandbox({
    appId: options.appId,
    secret: options.secret,
    host: options.host,
    port: options.port,
    routes: [
      {
        path: BANK_CARD_VERIFY_PATH,
        handle(body) {
          requests++;
          if (!isPlainObject(body)) return invalidRequest('the body must be a JSON object');
          for (const key of Object.keys(body)) if (!BODY_KEYS.has(key)) return invalidRequest(`unknown field "${key.slice(0, 32)}"`);
          const { name, idNumber, cardNumber, phone } = body;
          if (!isWellFormedName(name)) return invalidRequest(`name must be a string of 1 to ${MAX_NAME_LENGTH} characters`);
          if (!isWellFormedIdNumber(idNumber)) {
            return invalidRequest('idNumber must be 18 characters (17 digits and a digit or X) with a valid check character');
          }
          if (!isWellFormedCardNumber(cardNumber)) return invalidRequest('cardNumber must be 16 to 19 digits with a valid Luhn check digit');
          if (typeof phone !== 'string' || !MAINLAND_MOBILE_E164.test(phone)) {
            return invalidRequest('phone must be a mainland China mobile number in E.164 form (+861XXXXXXXXXX)');
          }
          const card = cards.get(cardNumber);
          if (card?.outage === true) return { status: 503, body: { error: 'temporarily_unavailable' } };
          const match = card !== undefined && card.name === name && card.idNumber === idNumber && card.phone === phone;
          return { status: 200, body: { result: match ? 'match' : 'mismatch', transactionId: `sandbox-bankcard-${randomUUID()}` } };
        },
      },
    ],
  });
  return { url: server.url, requests: () => requests, close: server.close };
}
