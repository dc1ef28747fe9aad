import type { LevelCatalog } from '../assurance/levels.ts';
import { AppError, invalidInput } from '../http/errors.ts';
import { validateUscc } from '../identity/uscc.ts';
import { CertificateError, parseCertificate } from '../pki/certificate.ts';
import type { IdentityExtractionRule, ParsedCertificate } from '../pki/types.ts';
import {
  CERTIFICATE_ROLES, KEY_PROTECTIONS, REVOCATION_MODES, SERVICE_TYPES, SIGNING_KEY_USAGES,
  type CertificateRole, type OperatorInput, type ServiceSettings,
} from './types.ts';

/**
 * Semantic validation shared by the admin API, the partner API and peer-list import. The HTTP schemas check
 * the shape first; this checks it again (a peer's list has no HTTP schema) and then the meaning: check
 * characters, certificates, level ids. Every refusal names the field.
 */

export const OID_PATTERN = /^[0-2](\.(0|[1-9][0-9]{0,9})){1,30}$/;
export const FINGERPRINT_PATTERN = /^[0-9a-f]{64}$/;
const MAX_URLS = 10;
const MAX_RULES = 10;
const MAX_POLICIES = 50;

const fail = (field: string, message: string) => invalidInput(message, { field });

export function certificateError(field: string, reason: string, message: string) {
  return new AppError('invalid_certificate', message, { status: 400, detail: { field, reason } });
}

type Json = Record<string, unknown>;

function object(value: unknown, field: string, allowed: readonly string[]): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail(field, `${field} must be an object.`);
  const unknown = Object.keys(value).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw fail(`${field}.${unknown[0]}`, `${field} has an unknown property "${unknown[0]}".`);
  return value as Json;
}

function text(value: unknown, field: string, max: number, options: { optional?: boolean; min?: number } = {}): string | undefined {
  if ((value === undefined || value === null) && options.optional) return undefined;
  if (typeof value !== 'string') throw fail(field, `${field} must be a string.`);
  const trimmed = value.trim();
  if (trimmed.length < (options.min ?? 1) || trimmed.length > max) throw fail(field, `${field} must be ${options.min ?? 1}–${max} characters.`);
  return trimmed;
}

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) throw fail(field, `${field} must be one of: ${allowed.join(', ')}.`);
  return value as T;
}

function boolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw fail(field, `${field} must be true or false.`);
  return value;
}

function array(value: unknown, field: string, max: number): unknown[] {
  if (!Array.isArray(value)) throw fail(field, `${field} must be an array.`);
  if (value.length > max) throw fail(field, `${field} has more than ${max} entries.`);
  return value;
}

export function validateOperator(raw: unknown): Required<{ [K in keyof OperatorInput]: Exclude<OperatorInput[K], undefined> }> {
  const input = object(raw, 'operator', ['name', 'uscc', 'miitLicence', 'osccaLicence', 'partnerClientId']);
  const uscc = validateUscc(String(input.uscc ?? ''));
  if (typeof input.uscc !== 'string' || !uscc.ok) {
    throw fail('uscc', `The unified social credit code is not valid (${uscc.ok ? 'format' : uscc.reason}).`);
  }
  const partnerClientId = text(input.partnerClientId, 'partnerClientId', 64, { optional: true });
  if (partnerClientId !== undefined && !/^[A-Za-z0-9._-]{3,64}$/.test(partnerClientId)) throw fail('partnerClientId', 'partnerClientId is not a client id.');
  return {
    name: text(input.name, 'name', 200)!,
    uscc: uscc.uscc,
    miitLicence: text(input.miitLicence, 'miitLicence', 100, { optional: true }) ?? null,
    osccaLicence: text(input.osccaLicence, 'osccaLicence', 100, { optional: true }) ?? null,
    partnerClientId: partnerClientId ?? null,
  };
}

/**
 * A certificate given for a CA service: it must parse, be a CA certificate (basicConstraints cA, keyCertSign when
 * keyUsage is present), be valid now, and a cross-certificate must be issued by another CA than its subject.
 */
export function validateCaCertificate(input: unknown, role: CertificateRole, field: string, now: Date): ParsedCertificate {
  if (typeof input !== 'string' || input.length === 0) throw fail(field, `${field} must be a PEM or base64 DER certificate.`);
  let cert: ParsedCertificate;
  try {
    cert = parseCertificate(input);
  } catch (error) {
    if (error instanceof CertificateError) throw certificateError(field, error.code, error.message);
    throw error;
  }
  if (!cert.isCA) throw certificateError(field, 'not_a_ca', `The certificate "${cert.subject}" is not a CA certificate (basicConstraints cA is not set); it cannot be registered as ${role}.`);
  if (cert.keyUsage && !cert.keyUsage.includes('keyCertSign')) {
    throw certificateError(field, 'not_a_ca', `The certificate "${cert.subject}" does not assert keyCertSign; it cannot be registered as ${role}.`);
  }
  if (cert.notAfter.getTime() <= now.getTime()) throw certificateError(field, 'expired', `The certificate "${cert.subject}" expired on ${cert.notAfter.toISOString()}.`);
  if (role === 'cross' && cert.selfIssued) throw certificateError(field, 'not_cross', `The certificate "${cert.subject}" is self-issued; a cross-certificate is issued by another CA.`);
  return cert;
}

export function validateRole(value: unknown, field: string): CertificateRole {
  return oneOf(value, field, CERTIFICATE_ROLES);
}

export function validateUrls(value: unknown, field: string): string[] {
  const urls = array(value, field, MAX_URLS).map((entry, i) => {
    const url = text(entry, `${field}[${i}]`, 2000)!;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw fail(`${field}[${i}]`, `${field}[${i}] is not a URL.`);
    }
    // CRLs and OCSP are served over plain HTTP by design (RFC 5280 §4.2.1.13, RFC 6960 A.1): both are signed.
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw fail(`${field}[${i}]`, `${field}[${i}] must be an http or https URL.`);
    if (parsed.username || parsed.password || parsed.hash) throw fail(`${field}[${i}]`, `${field}[${i}] must not carry credentials or a fragment.`);
    return parsed.toString();
  });
  return [...new Set(urls)];
}

export function validateExtractionRules(value: unknown, field = 'extractionRules'): IdentityExtractionRule[] {
  const rules = array(value, field, MAX_RULES);
  if (rules.length === 0) throw fail(field, `${field} needs at least one rule: where this CA puts the ID number or the USCC.`);
  return rules.map((raw, i) => {
    const at = `${field}[${i}]`;
    const rule = object(raw, at, ['kind', 'source', 'stripPrefixes', 'removeCharacters', 'allowLegacy15']);
    const kind = oneOf(rule.kind, `${at}.kind`, ['citizen', 'enterprise'] as const);
    const sourceType = oneOf((rule.source as Json | undefined)?.type, `${at}.source.type`, ['extension', 'subject'] as const);
    let source: IdentityExtractionRule['source'];
    if (sourceType === 'extension') {
      const s = object(rule.source, `${at}.source`, ['type', 'oid', 'choiceTag']);
      if (typeof s.oid !== 'string' || !OID_PATTERN.test(s.oid)) throw fail(`${at}.source.oid`, `${at}.source.oid must be a dotted OID.`);
      if (s.choiceTag !== undefined && (!Number.isInteger(s.choiceTag) || (s.choiceTag as number) < 0 || (s.choiceTag as number) > 30)) {
        throw fail(`${at}.source.choiceTag`, `${at}.source.choiceTag must be an integer 0–30.`);
      }
      source = { type: 'extension', oid: s.oid, ...(s.choiceTag !== undefined ? { choiceTag: s.choiceTag as number } : {}) };
    } else {
      const s = object(rule.source, `${at}.source`, ['type', 'attribute']);
      if (typeof s.attribute !== 'string' || !OID_PATTERN.test(s.attribute)) throw fail(`${at}.source.attribute`, `${at}.source.attribute must be a dotted OID (e.g. 2.5.4.5).`);
      source = { type: 'subject', attribute: s.attribute };
    }
    const result: IdentityExtractionRule = { kind, source };
    if (rule.stripPrefixes !== undefined) {
      result.stripPrefixes = array(rule.stripPrefixes, `${at}.stripPrefixes`, 10).map((p, j) => {
        if (typeof p !== 'string' || p.length < 1 || p.length > 16) throw fail(`${at}.stripPrefixes[${j}]`, `${at}.stripPrefixes[${j}] must be 1–16 characters.`);
        return p;
      });
    }
    if (rule.removeCharacters !== undefined) {
      if (typeof rule.removeCharacters !== 'string' || rule.removeCharacters.length < 1 || rule.removeCharacters.length > 32) {
        throw fail(`${at}.removeCharacters`, `${at}.removeCharacters must be 1–32 characters.`);
      }
      result.removeCharacters = rule.removeCharacters;
    }
    if (rule.allowLegacy15 !== undefined) result.allowLegacy15 = boolean(rule.allowLegacy15, `${at}.allowLegacy15`);
    if (kind === 'enterprise' && result.allowLegacy15) throw fail(`${at}.allowLegacy15`, `${at}.allowLegacy15 applies to citizen ID numbers only.`);
    return result;
  });
}

/** The level at and above which an unknown revocation status is never tolerated (the brief's L4). */
function softFailCeiling(catalog: LevelCatalog): number {
  return catalog.level('L4')?.rank ?? Math.max(...catalog.levels.map((l) => l.rank));
}

export type LevelPolicy = 'refuse' | 'drop';

/**
 * Service settings. With `unknownLevels: 'drop'` (peer lists) a policy mapped to a level we do not define is left
 * out and noted instead of refusing the list: an unknown level is never trusted. A soft-fail level we do not
 * accept becomes "never soft-fail", which is only stricter.
 */
export function validateServiceSettings(raw: unknown, catalog: LevelCatalog, options: { unknownLevels?: LevelPolicy; notes?: string[]; allowedKeys?: readonly string[] } = {}): ServiceSettings {
  const keys = ['type', 'name', 'crlUrls', 'ocspUrls', 'policyLevels', 'keyUsages', 'extractionRules', 'revocationMode', 'softFailMaxLevel', 'keyProtection', 'pinRequired'];
  const input = object(raw, 'service', [...keys, ...(options.allowedKeys ?? [])]);
  const drop = options.unknownLevels === 'drop';
  const note = (message: string) => options.notes?.push(message);

  const policyInput = object(input.policyLevels ?? {}, 'policyLevels', Object.keys((input.policyLevels as Json | undefined) ?? {}));
  if (Object.keys(policyInput).length > MAX_POLICIES) throw fail('policyLevels', `policyLevels has more than ${MAX_POLICIES} entries.`);
  const policyLevels: Record<string, string> = {};
  for (const [oid, level] of Object.entries(policyInput)) {
    if (!OID_PATTERN.test(oid)) throw fail(`policyLevels.${oid}`, `"${oid}" is not a dotted certificate-policy OID.`);
    if (typeof level !== 'string' || !catalog.level(level)) {
      if (drop) {
        note(`policy ${oid}: unknown level "${String(level)}" dropped`);
        continue;
      }
      throw fail(`policyLevels.${oid}`, `Unknown level "${String(level)}" for policy ${oid}; defined levels: ${catalog.levels.map((l) => l.id).join(', ')}.`);
    }
    policyLevels[oid] = level;
  }

  const keyUsages = [...new Set(array(input.keyUsages, 'keyUsages', SIGNING_KEY_USAGES.length).map((u, i) => oneOf(u, `keyUsages[${i}]`, SIGNING_KEY_USAGES)))];
  if (keyUsages.length === 0) throw fail('keyUsages', 'keyUsages needs digitalSignature and/or nonRepudiation: only signing certificates log in.');

  let softFailMaxLevel: string | null = null;
  if (input.softFailMaxLevel !== undefined && input.softFailMaxLevel !== null) {
    const level = typeof input.softFailMaxLevel === 'string' ? catalog.level(input.softFailMaxLevel) : undefined;
    const ceiling = softFailCeiling(catalog);
    if (!level) {
      if (!drop) throw fail('softFailMaxLevel', `Unknown level "${String(input.softFailMaxLevel)}"; defined levels: ${catalog.levels.map((l) => l.id).join(', ')}.`);
      note(`softFailMaxLevel: unknown level "${String(input.softFailMaxLevel)}" replaced by none`);
    } else if (level.rank >= ceiling) {
      if (!drop) throw fail('softFailMaxLevel', `softFailMaxLevel may not be ${level.id}: at L4 and above an unknown revocation status is always a failure.`);
      note(`softFailMaxLevel: ${level.id} not accepted, replaced by none`);
    } else {
      softFailMaxLevel = level.id;
    }
  }

  return {
    type: oneOf(input.type, 'type', SERVICE_TYPES),
    name: text(input.name, 'name', 200)!,
    crlUrls: validateUrls(input.crlUrls ?? [], 'crlUrls'),
    ocspUrls: validateUrls(input.ocspUrls ?? [], 'ocspUrls'),
    policyLevels,
    keyUsages,
    extractionRules: validateExtractionRules(input.extractionRules),
    revocationMode: oneOf(input.revocationMode, 'revocationMode', REVOCATION_MODES),
    softFailMaxLevel,
    keyProtection: oneOf(input.keyProtection, 'keyProtection', KEY_PROTECTIONS),
    pinRequired: boolean(input.pinRequired, 'pinRequired'),
  };
}

