// ISO/IEC 7812-1 payment card numbers (China UnionPay bank cards, 银行卡号).
import { readFile } from 'node:fs/promises';

export type Localized = { 'zh-CN': string; en: string };

export type CardType = 'debit' | 'credit';

export type CardIssuer = { name: Localized; type: CardType };

export type BankCardRejection = 'empty' | 'format' | 'luhn' | 'unknown_issuer';

export type BankCardResult =
  | {
      ok: true;
      cardNumber: string;
      /** The first 6 digits. */
      bin: string;
      last4: string;
      /** Present when the number was checked against a BIN table. */
      issuer?: CardIssuer;
    }
  | { ok: false; reason: BankCardRejection };

export type BinTable = {
  /** Keyed by BIN prefix (6 to 8 digits). */
  issuers: ReadonlyMap<string, CardIssuer>;
  messages: Readonly<Record<BankCardRejection, Localized>>;
};

export const BANK_CARD_REJECTIONS: readonly BankCardRejection[] = ['empty', 'format', 'luhn', 'unknown_issuer'];

const CARD_NUMBER = /^\d{16,19}$/;
// ISO/IEC 7812-1:2017 lengthened the IIN from 6 to 8 digits, so a table may list either.
const BIN_PREFIX = /^\d{6,8}$/;
const CARD_TYPES: readonly CardType[] = ['debit', 'credit'];
const MIN_BIN_LENGTH = 6;
const MAX_BIN_LENGTH = 8;

export function normalizeCardNumber(input: string): string {
  return input
    .replace(/[\uFF10-\uFF19]/gu, (c) => String.fromCharCode(c.charCodeAt(0) - 0xff10 + 0x30))
    .replace(/[\s\-\u2010-\u2015\u2212\uFF0D]+/gu, '');
}

/** Luhn (ISO/IEC 7812-1 Annex B) check digit to append to `body`, the number without its last digit. */
export function luhnCheckDigit(body: string): string {
  if (!/^\d+$/.test(body)) throw new RangeError('luhnCheckDigit expects one or more ASCII digits');
  let sum = 0;
  // Doubling starts with the rightmost digit of the body: it sits next to the check digit.
  for (let i = body.length - 1, double = true; i >= 0; i--, double = !double) {
    let digit = Number(body[i]);
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return String((10 - (sum % 10)) % 10);
}

/** Longest listed prefix wins, so an 8-digit entry can refine a 6-digit one. */
function issuerOf(cardNumber: string, table: BinTable): CardIssuer | undefined {
  for (let length = MAX_BIN_LENGTH; length >= MIN_BIN_LENGTH; length--) {
    const issuer = table.issuers.get(cardNumber.slice(0, length));
    if (issuer !== undefined) return issuer;
  }
  return undefined;
}

/**
 * Validates a bank card number: normalised first, then 16 to 19 digits and the Luhn check. With a BIN table the
 * issuer must be listed (`unknown_issuer` otherwise) and is returned; without one, no issuer is looked up.
 */
export function validateCardNumber(input: string, table?: BinTable): BankCardResult {
  const cardNumber = normalizeCardNumber(input);
  if (cardNumber === '') return { ok: false, reason: 'empty' };
  if (!CARD_NUMBER.test(cardNumber)) return { ok: false, reason: 'format' };
  if (luhnCheckDigit(cardNumber.slice(0, -1)) !== cardNumber.slice(-1)) return { ok: false, reason: 'luhn' };
  const result: BankCardResult = { ok: true, cardNumber, bin: cardNumber.slice(0, 6), last4: cardNumber.slice(-4) };
  if (table === undefined) return result;
  const issuer = issuerOf(cardNumber, table);
  if (issuer === undefined) return { ok: false, reason: 'unknown_issuer' };
  result.issuer = issuer;
  return result;
}

/**
 * `6222021234567890128` → `6222 **** **** 0128`. The middle is always eight stars, so the mask does not reveal
 * the length either. Anything that is not 16 to 19 digits is fully starred, never returned as is.
 */
export function maskCardNumber(cardNumber: string): string {
  if (!CARD_NUMBER.test(cardNumber)) return '*'.repeat(Array.from(cardNumber).length);
  return `${cardNumber.slice(0, 4)} **** **** ${cardNumber.slice(-4)}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isLocalized(value: unknown): value is Localized {
  if (!isObject(value)) return false;
  const keys = Object.keys(value);
  return (
    keys.length === 2 &&
    typeof value['zh-CN'] === 'string' &&
    value['zh-CN'].trim() !== '' &&
    typeof value.en === 'string' &&
    value.en.trim() !== ''
  );
}

/** `{ bins: [{ prefix, name, type }, …], messages: { <reason>: { zh-CN, en } } }`; any other key must start with `$`. */
export function parseBinTable(value: unknown): BinTable {
  if (!isObject(value)) throw new Error('BIN table must be a JSON object');
  for (const key of Object.keys(value)) {
    if (key !== 'bins' && key !== 'messages' && !key.startsWith('$')) throw new Error(`BIN table: unknown field "${key.slice(0, 32)}"`);
  }
  if (!Array.isArray(value.bins) || value.bins.length === 0) throw new Error('BIN table: "bins" must be a non-empty array');
  const issuers = new Map<string, CardIssuer>();
  value.bins.forEach((entry: unknown, index) => {
    if (!isObject(entry)) throw new Error(`BIN table entry #${index}: must be an object`);
    for (const key of Object.keys(entry)) {
      if (key !== 'prefix' && key !== 'name' && key !== 'type') throw new Error(`BIN table entry #${index}: unknown field "${key.slice(0, 32)}"`);
    }
    const { prefix, name, type } = entry;
    if (typeof prefix !== 'string' || !BIN_PREFIX.test(prefix)) throw new Error(`BIN table entry #${index}: prefix must be 6 to 8 digits`);
    if (issuers.has(prefix)) throw new Error(`BIN table entry #${index}: duplicate prefix`);
    if (!isLocalized(name)) throw new Error(`BIN table entry #${index}: name must be { "zh-CN", "en" } non-empty strings`);
    if (typeof type !== 'string' || !CARD_TYPES.includes(type as CardType)) {
      throw new Error(`BIN table entry #${index}: type must be one of ${CARD_TYPES.join(', ')}`);
    }
    issuers.set(prefix, Object.freeze({ name: Object.freeze({ 'zh-CN': name['zh-CN'], en: name.en }), type: type as CardType }));
  });

  const messages = value.messages;
  if (!isObject(messages)) throw new Error('BIN table: "messages" must be an object');
  for (const key of Object.keys(messages)) {
    if (!BANK_CARD_REJECTIONS.includes(key as BankCardRejection)) throw new Error(`BIN table: unknown message "${key.slice(0, 32)}"`);
  }
  const texts = {} as Record<BankCardRejection, Localized>;
  for (const reason of BANK_CARD_REJECTIONS) {
    const text = messages[reason];
    if (!isLocalized(text)) throw new Error(`BIN table: message "${reason}" must be { "zh-CN", "en" } non-empty strings`);
    texts[reason] = Object.freeze({ 'zh-CN': text['zh-CN'], en: text.en });
  }
  return Object.freeze({ issuers, messages: Object.freeze(texts) });
}

/** Reads and checks a BIN table file (config/bank-bins.json). */
export async function loadBinTable(path: string): Promise<BinTable> {
  return parseBinTable(JSON.parse(await readFile(path, 'utf8')));
}
