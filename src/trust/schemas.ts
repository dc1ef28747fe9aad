import { MAX_RETIRE_GRACE_SECONDS } from './list-signing-keys.ts';
import { CERTIFICATE_ROLES, KEY_PROTECTIONS, REVOCATION_MODES, SERVICE_STATUSES, SERVICE_TYPES, SIGNING_KEY_USAGES } from './types.ts';

/** Request shapes of the trust APIs; the registry service checks meaning (certificates, levels, USCC) on top. */

const OID = '^[0-2](\\.(0|[1-9][0-9]{0,9})){1,30}$';
const certificateText = { type: 'string', minLength: 1, maxLength: 32 * 1024 } as const;
const url = { type: 'string', minLength: 1, maxLength: 2000 } as const;
const urlList = { type: 'array', items: url, maxItems: 10 } as const;
const reason = { type: 'string', minLength: 1, maxLength: 500 } as const;
const fingerprint = { type: 'string', pattern: '^[0-9a-fA-F]{64}$' } as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', format: 'uuid' } },
} as const;

export const certificateParams = {
  type: 'object',
  required: ['id', 'fingerprint'],
  properties: { id: { type: 'string', format: 'uuid' }, fingerprint },
} as const;

export const operatorBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'uscc'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    uscc: { type: 'string', minLength: 1, maxLength: 32 },
    miitLicence: { type: ['string', 'null'], maxLength: 100 },
    osccaLicence: { type: ['string', 'null'], maxLength: 100 },
    partnerClientId: { type: ['string', 'null'], pattern: '^[A-Za-z0-9._-]{3,64}$' },
  },
} as const;

const extractionRule = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'source'],
  properties: {
    kind: { enum: ['citizen', 'enterprise'] },
    source: {
      type: 'object',
      required: ['type'],
      properties: {
        type: { enum: ['extension', 'subject'] },
        oid: { type: 'string', pattern: OID },
        choiceTag: { type: 'integer', minimum: 0, maximum: 30 },
        attribute: { type: 'string', pattern: OID },
      },
      additionalProperties: false,
    },
    stripPrefixes: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 16 }, maxItems: 10 },
    removeCharacters: { type: 'string', minLength: 1, maxLength: 32 },
    allowLegacy15: { type: 'boolean' },
  },
} as const;

const serviceSettingsProperties = {
  type: { enum: SERVICE_TYPES },
  name: { type: 'string', minLength: 1, maxLength: 200 },
  crlUrls: urlList,
  ocspUrls: urlList,
  policyLevels: {
    type: 'object', maxProperties: 50, propertyNames: { pattern: OID },
    additionalProperties: { type: 'string', minLength: 1, maxLength: 16 },
  },
  keyUsages: { type: 'array', minItems: 1, maxItems: 2, uniqueItems: true, items: { enum: SIGNING_KEY_USAGES } },
  extractionRules: { type: 'array', minItems: 1, maxItems: 10, items: extractionRule },
  revocationMode: { enum: REVOCATION_MODES },
  softFailMaxLevel: { type: ['string', 'null'], maxLength: 16 },
  keyProtection: { enum: KEY_PROTECTIONS },
  pinRequired: { type: 'boolean' },
} as const;

const serviceSettingsRequired = ['type', 'name', 'keyUsages', 'extractionRules', 'revocationMode', 'keyProtection', 'pinRequired'];

export const certificateEntry = {
  type: 'object',
  additionalProperties: false,
  required: ['certificate', 'role'],
  properties: { certificate: certificateText, role: { enum: CERTIFICATE_ROLES } },
} as const;

export const serviceCreateBody = {
  type: 'object',
  additionalProperties: false,
  required: [...serviceSettingsRequired, 'certificates'],
  properties: {
    ...serviceSettingsProperties,
    certificates: { type: 'array', maxItems: 20, items: certificateEntry },
    status: { enum: SERVICE_STATUSES },
    reason,
  },
} as const;

export const serviceUpdateBody = {
  type: 'object',
  additionalProperties: false,
  required: serviceSettingsRequired,
  properties: serviceSettingsProperties,
} as const;

export const statusBody = {
  type: 'object',
  additionalProperties: false,
  required: ['status', 'reason'],
  properties: { status: { enum: SERVICE_STATUSES }, reason },
} as const;

export const rejectBody = {
  type: 'object',
  additionalProperties: false,
  required: ['reason'],
  properties: { reason },
} as const;

export const submissionQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { enum: ['pending', 'approved', 'rejected'] },
    operatorId: { type: 'string', format: 'uuid' },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
  },
} as const;

export const peerBody = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'jwks'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    listUrl: { type: ['string', 'null'], minLength: 1, maxLength: 2000 },
    jwks: {
      type: 'object',
      additionalProperties: false,
      required: ['keys'],
      properties: { keys: { type: 'array', minItems: 1, maxItems: 10, items: { type: 'object', maxProperties: 20 } } },
    },
  },
} as const;

export const peerJwksBody = {
  type: 'object',
  additionalProperties: false,
  required: ['jwks'],
  properties: { jwks: peerBody.properties.jwks },
} as const;

/** Rotation of our own list signing key; the grace is checked again (range, integer) by the key store. */
export const activateListKeyBody = {
  type: 'object',
  additionalProperties: false,
  properties: { retireGraceSeconds: { type: 'integer', minimum: 0, maximum: MAX_RETIRE_GRACE_SECONDS } },
} as const;

export const importBody = {
  type: 'object',
  additionalProperties: false,
  properties: { jws: { type: 'string', minLength: 1, maxLength: 2 * 1024 * 1024 } },
} as const;

const submissionBody = (properties: Record<string, unknown>, required: string[]) => ({
  type: 'object',
  additionalProperties: false,
  required: ['serviceId', ...required],
  properties: { serviceId: { type: 'string', format: 'uuid' }, ...properties },
}) as const;

/** The partner's four kinds of request, each with its own exact shape. */
export const submissionBodies = {
  new_ca_certificate: submissionBody({ certificate: certificateText, role: { enum: CERTIFICATE_ROLES } }, ['certificate', 'role']),
  key_rollover: submissionBody({
    newCertificate: certificateText, role: { enum: CERTIFICATE_ROLES }, replacesFingerprint: fingerprint,
    oldAcceptedUntil: { type: 'string', format: 'date-time' },
  }, ['newCertificate', 'role', 'replacesFingerprint', 'oldAcceptedUntil']),
  endpoints: submissionBody({ crlUrls: urlList, ocspUrls: urlList }, []),
  suspension: submissionBody({ reason }, ['reason']),
} as const;
