/**
 * Bank-card four-element check (银行卡四要素核验): the card network confirms that a bank card belongs to the
 * person with this name and citizen ID number and that this mobile number is the one reserved with the bank
 * (银行预留手机号). Signed with the scheme of signed-http.ts (same headers, same 401 errors).
 *
 *   POST /v1/bankcard/verify
 *   { "name", "idNumber", "cardNumber", "phone" }
 *   → 200 { "result": "match" | "mismatch", "transactionId" }
 *
 * `name` is the name as on the ID card (1 to 50 characters), `idNumber` an 18-character citizen ID number
 * (GB 11643), `cardNumber` 16 to 19 digits with a valid Luhn check digit, `phone` a mainland mobile number in
 * E.164 form (`+861XXXXXXXXXX`). No other field is allowed.
 *
 * "match" only when all four elements belong together. "mismatch" never says which element was wrong, so the
 * check cannot be used to find out someone's card, phone or ID number one element at a time. `transactionId`
 * (1 to 128 letters, digits, ".", "_" or "-", starting with a letter or digit) identifies the check with the
 * vendor, for billing and disputes; it is returned for both results. Any other answer shape is a protocol
 * violation.
 *
 * A malformed body gets 400 `invalid_request`; a vendor or issuing-bank outage 503.
 */

export type BankCardClaim = {
  name: string;
  /** 18-character citizen ID number. */
  idNumber: string;
  /** 16 to 19 digits, normalised. */
  cardNumber: string;
  /** E.164 mainland mobile number, `+861XXXXXXXXXX`. */
  phone: string;
};

export type BankCardVerifier = {
  name: string;
  verify(input: BankCardClaim): Promise<{ match: boolean; transactionId: string }>;
};
