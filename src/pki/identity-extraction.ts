import * as asn1js from 'asn1js';
import { validateIdNumber, type IdNumberRejection } from '../identity/id-number.ts';
import { validateUscc, type UsccRejection } from '../identity/uscc.ts';
import type { ExtractedIdentity, IdentityExtractionRule, ParsedCertificate } from './types.ts';

/** GM/T 0015 identity-code extensions (standards §2.4). The 2023 OIDs come from the XiPKI README, not the standard's text. */
export const GMT_0015_OIDS = {
  /** IdentifyCode CHOICE { [0] resident ID card, [1] military officer card, [2] passport } (GM/T 0015-2012). */
  IDENTIFY_CODE: '1.2.156.10260.4.1.1',
  INSURANCE_NUMBER: '1.2.156.10260.4.1.2',
  IC_REGISTRATION_NUMBER: '1.2.156.10260.4.1.3',
  ORGANIZATION_CODE: '1.2.156.10260.4.1.4',
  TAXATION_NUMBER: '1.2.156.10260.4.1.5',
  /** GM/T 0015-2023: plain string values. */
  RESIDENT_ID_CARD_NUMBER: '1.2.156.10260.4.1.1.1',
  PASSPORT_NUMBER: '1.2.156.10260.4.1.1.2',
  UNIFIED_SOCIAL_CREDIT_CODE: '1.2.156.10260.4.4',
} as const;

/** IdentifyCode CHOICE tags. */
export const IDENTIFY_CODE_TAG = { RESIDENT_ID_CARD: 0, MILITARY_OFFICER_CARD: 1, PASSPORT: 2 } as const;

export type IdentityRejection =
  | IdNumberRejection
  | UsccRejection
  /** The value is not a string (or a CHOICE of strings) we can read. */
  | 'encoding'
  /** Two sources of the same identifier disagree, or a subject attribute holds several different valid values. */
  | 'ambiguous';

export class IdentityExtractionError extends Error {
  readonly code: 'identity_missing' | 'identity_invalid';
  readonly reason?: IdentityRejection;

  constructor(code: 'identity_missing' | 'identity_invalid', message: string, reason?: IdentityRejection) {
    super(message);
    this.name = 'IdentityExtractionError';
    this.code = code;
    if (reason) this.reason = reason;
  }
}

const COMMON_NAME = '2.5.4.3';

type RawValue = ({ value: string } | { unreadable: string }) & { tag?: number };

/** The text inside an identity extension: a plain string, or a context-tagged (CHOICE) string, implicit or explicit. */
function readExtensionValue(bytes: Uint8Array): RawValue {
  const decoded = asn1js.fromBER(bytes);
  if (decoded.offset === -1 || decoded.offset !== bytes.byteLength) return { unreadable: 'the extension value is not a single DER element' };
  const element = decoded.result;
  if (element.idBlock.tagClass === 3) {
    const tag = element.idBlock.tagNumber;
    if (element.idBlock.isConstructed) {
      const inner = (element as asn1js.Constructed).valueBlock.value;
      const text = inner.length === 1 ? stringOf(inner[0]) : undefined;
      return text === undefined ? { unreadable: `[${tag}] does not wrap a string`, tag } : { value: text, tag };
    }
    const content = (element.valueBlock as unknown as { valueHexView: Uint8Array }).valueHexView;
    return { value: new TextDecoder('utf-8', { fatal: false }).decode(content), tag };
  }
  const text = stringOf(element);
  return text === undefined ? { unreadable: 'the extension value is not a string' } : { value: text };
}

function stringOf(element: asn1js.AsnType): string | undefined {
  if (element instanceof asn1js.PrintableString || element instanceof asn1js.Utf8String || element instanceof asn1js.IA5String
    || element instanceof asn1js.VisibleString || element instanceof asn1js.NumericString || element instanceof asn1js.BmpString
    || element instanceof asn1js.TeletexString || element instanceof asn1js.UniversalString) {
    return element.valueBlock.value;
  }
  return undefined;
}

function clean(value: string, rule: IdentityExtractionRule): string {
  let text = value.trim();
  const prefixes = [...(rule.stripPrefixes ?? [])].sort((a, b) => b.length - a.length);
  const prefix = prefixes.find((p) => p !== '' && text.toUpperCase().startsWith(p.toUpperCase()));
  if (prefix) text = text.slice(prefix.length);
  if (rule.removeCharacters) text = Array.from(text).filter((c) => !rule.removeCharacters!.includes(c)).join('');
  return text.trim();
}

type Validated = { ok: true; value: string } | { ok: false; reason: IdentityRejection; detail: string };

function validate(value: string, rule: IdentityExtractionRule, today: Date | undefined): Validated {
  if (rule.kind === 'enterprise') {
    const result = validateUscc(value);
    return result.ok ? { ok: true, value: result.uscc } : { ok: false, reason: result.reason, detail: 'unified social credit code' };
  }
  if (/^\d{15}$/.test(value.trim()) && !rule.allowLegacy15) {
    return { ok: false, reason: 'format', detail: '15-digit legacy ID number, which this CA profile does not accept' };
  }
  const result = validateIdNumber(value, { today });
  return result.ok ? { ok: true, value: result.idNumber } : { ok: false, reason: result.reason, detail: 'citizen ID number' };
}

function describe(rule: IdentityExtractionRule): string {
  return rule.source.type === 'extension' ? `extension ${rule.source.oid}` : `subject attribute ${rule.source.attribute}`;
}

/** Candidate raw values of one rule's source; an empty list means the source is absent. */
function rawValues(cert: ParsedCertificate, rule: IdentityExtractionRule): string[] {
  const source = rule.source;
  if (source.type === 'subject') return cert.subjectAttributes.filter((a) => a.type === source.attribute).map((a) => a.value);
  const extension = (cert.pkijs.extensions ?? []).find((e) => e.extnID === source.oid);
  if (!extension) return [];
  const raw = readExtensionValue(extension.extnValue.valueBlock.valueHexView);
  if ('unreadable' in raw) throw new IdentityExtractionError('identity_invalid', `The ${describe(rule)} cannot be read: ${raw.unreadable}.`, 'encoding');
  if (source.choiceTag !== undefined && raw.tag !== undefined && raw.tag !== source.choiceTag) {
    // e.g. a passport number ([2]) where the profile wants a resident ID card number ([0]).
    return [];
  }
  return [raw.value];
}

/** The one identifier of `kind` the rules find, validated; undefined when no rule's source is present. */
function extractKind(cert: ParsedCertificate, rules: readonly IdentityExtractionRule[], today: Date | undefined): string | undefined {
  let found: { value: string; rule: IdentityExtractionRule } | undefined;
  for (const rule of rules) {
    const values = rawValues(cert, rule);
    if (values.length === 0) continue;
    const results = values.map((v) => validate(clean(v, rule), rule, today));
    const valid = [...new Set(results.flatMap((r) => (r.ok ? [r.value] : [])))];
    if (valid.length === 0) {
      const first = results[0] as Extract<Validated, { ok: false }>;
      throw new IdentityExtractionError('identity_invalid', `The ${describe(rule)} does not hold a valid ${first.detail} (${first.reason}).`, first.reason);
    }
    if (valid.length > 1) throw new IdentityExtractionError('identity_invalid', `The ${describe(rule)} holds several different identifiers.`, 'ambiguous');
    if (found && found.value !== valid[0]) {
      throw new IdentityExtractionError('identity_invalid', `The ${describe(found.rule)} and the ${describe(rule)} disagree.`, 'ambiguous');
    }
    found ??= { value: valid[0], rule };
  }
  return found?.value;
}

/**
 * Reads the citizen ID number and/or the unified social credit code from a certificate according to its CA's
 * extraction profile. Every rule whose source is present must yield a valid identifier, and rules of the same kind
 * must agree. Binding uses the validated identifier, never the DN string.
 * Throws IdentityExtractionError: 'identity_missing' when no rule's source is present, 'identity_invalid' otherwise.
 */
export function extractIdentity(cert: ParsedCertificate, rules: readonly IdentityExtractionRule[],
  options: { today?: Date } = {}): ExtractedIdentity {
  const citizenId = extractKind(cert, rules.filter((r) => r.kind === 'citizen'), options.today);
  const uscc = extractKind(cert, rules.filter((r) => r.kind === 'enterprise'), options.today);
  if (citizenId === undefined && uscc === undefined) {
    throw new IdentityExtractionError('identity_missing',
      rules.length ? `The certificate carries none of the identifiers its CA profile names (${rules.map(describe).join('; ')}).`
        : 'The CA profile names no identity source.');
  }
  const name = cert.subjectAttributes.find((a) => a.type === COMMON_NAME)?.value.trim();
  return { ...(citizenId ? { citizenId } : {}), ...(uscc ? { uscc } : {}), ...(name ? { name } : {}) };
}
