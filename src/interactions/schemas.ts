/** Form bodies of the interaction pages. Unknown fields are refused; every field is a bounded string. */
const str = (maxLength: number) => ({ type: 'string', maxLength });

const form = (properties: Record<string, object>, required: string[]) => ({
  body: { type: 'object', properties: { csrf: str(128), ...properties }, required: ['csrf', ...required], additionalProperties: false },
  params: { type: 'object', properties: { uid: { type: 'string', pattern: '^[A-Za-z0-9_-]{10,64}$' } }, required: ['uid'] },
});

export const uidParams = { params: form({}, []).params };
export const passwordLoginSchema = form({ identifier: str(64), password: str(1024) }, ['identifier', 'password']);
export const smsSendSchema = form({ phone: str(32) }, ['phone']);
export const smsVerifySchema = form({ phone: str(32), code: str(16) }, ['phone', 'code']);
export const registerSendSchema = form({ name: str(64), id_number: str(32), phone: str(32) }, ['name', 'id_number', 'phone']);
export const registerCompleteSchema = form({ code: str(16), password: str(1024), password_confirm: str(1024) }, ['code', 'password', 'password_confirm']);
export const csrfOnlySchema = form({}, []);
export const abortSchema = form({ reason: { type: 'string', enum: ['unavailable'] } }, []);
export const stepUpPasswordSchema = form({ password: str(1024) }, ['password']);
export const codeSchema = form({ code: str(16) }, ['code']);
export const bankCardCheckSchema = form({ card_number: str(40), phone: str(32) }, ['card_number', 'phone']);

const nonEmpty = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength });
/** The signed challenge of certificate login; a chain of several certificates in PEM needs the room. */
export const certificateSignedSchema = form({ challenge: nonEmpty(1024), signature: nonEmpty(2048), chain: nonEmpty(120000) }, ['challenge', 'signature', 'chain']);
