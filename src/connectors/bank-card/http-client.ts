import { ConnectorError } from '../errors.ts';
import { assertConnectorUrl, postSigned } from '../signed-http.ts';
import type { BankCardVerifier } from './types.ts';

export const BANK_CARD_VERIFY_PATH = '/v1/bankcard/verify';
export const BANK_CARD_TRANSACTION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const ANSWER_KEYS = ['result', 'transactionId'];

function parseAnswer(value: unknown): { match: boolean; transactionId: string } | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== ANSWER_KEYS.length || !keys.every((key) => ANSWER_KEYS.includes(key))) return undefined;
  const { result, transactionId } = value as Record<string, unknown>;
  if (result !== 'match' && result !== 'mismatch') return undefined;
  if (typeof transactionId !== 'string' || !BANK_CARD_TRANSACTION_ID.test(transactionId)) return undefined;
  return { match: result === 'match', transactionId };
}

/** Client of the bank-card four-element check (protocol in types.ts). `name` doubles as the ConnectorError connector. */
export function createHttpBankCardVerifier(options: {
  url: string;
  appId: string;
  secret: string;
  timeoutMs: number;
  name?: string;
}): BankCardVerifier {
  assertConnectorUrl(options.url);
  const name = options.name ?? 'bank-card';
  return {
    name,
    async verify(input) {
      const answer = await postSigned({
        url: options.url,
        path: BANK_CARD_VERIFY_PATH,
        appId: options.appId,
        secret: options.secret,
        body: { name: input.name, idNumber: input.idNumber, cardNumber: input.cardNumber, phone: input.phone },
        timeoutMs: options.timeoutMs,
        connector: name,
      });
      const verdict = parseAnswer(answer);
      if (verdict === undefined) throw new ConnectorError(name, 'bad_response', { status: 200 });
      return verdict;
    },
  };
}
