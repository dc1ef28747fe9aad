import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { ParsedCertificate } from './types.ts';

/**
 * RFC 5280 name constraints (§6.1.3 (b)(c), §6.1.4 (g)). pkijs checks them too, but only after its policy step,
 * which returns early on paths our own policy processing accepts, so the check lives here.
 * Supported forms: directoryName, rfc822Name (also e-mail addresses in the subject DN), dNSName, URI, iPAddress.
 * A constraint on any other form fails a later certificate that carries a name of that form (RFC 5280 §4.2.1.10).
 */

const NAME_CONSTRAINTS = '2.5.29.30';
const SUBJECT_ALT_NAME = '2.5.29.17';
const EMAIL_ATTRIBUTES = new Set(['1.2.840.113549.1.9.1', '0.9.2342.19200300.100.1.3']);

const FORM = { RFC822: 1, DNS: 2, DIRECTORY: 4, URI: 6, IP: 7 } as const;
const SUPPORTED_FORMS: ReadonlySet<number> = new Set(Object.values(FORM));
const FORM_NAMES: Record<number, string> = {
  0: 'otherName', 1: 'rfc822Name', 2: 'dNSName', 3: 'x400Address', 4: 'directoryName', 5: 'ediPartyName', 6: 'URI', 7: 'iPAddress', 8: 'registeredID',
};

type Name = { form: number; value: unknown; display: string };

/** Case-insensitive, whitespace-collapsed comparison of attribute strings (RFC 4518, simplified) and exact otherwise. */
function attributeEqual(a: pkijs.AttributeTypeAndValue, b: pkijs.AttributeTypeAndValue): boolean {
  if (a.type !== b.type) return false;
  const text = (v: unknown) => {
    const value = (v as { valueBlock?: { value?: unknown } }).valueBlock?.value;
    return typeof value === 'string' ? value.trim().replace(/ +/g, ' ').toLowerCase() : undefined;
  };
  const [x, y] = [text(a.value), text(b.value)];
  if (x !== undefined && y !== undefined) return x === y;
  return Buffer.from((a.value as asn1js.BaseBlock).toBER(false)).equals(Buffer.from((b.value as asn1js.BaseBlock).toBER(false)));
}

function withinDirectory(name: pkijs.RelativeDistinguishedNames, base: pkijs.RelativeDistinguishedNames): boolean {
  if (base.typesAndValues.length > name.typesAndValues.length) return false;
  return base.typesAndValues.every((attribute, i) => attributeEqual(name.typesAndValues[i], attribute));
}

function withinDomain(host: string, constraint: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  const c = constraint.toLowerCase();
  if (c === '') return true;
  if (c.startsWith('.')) return h.endsWith(c);
  return h === c || h.endsWith(`.${c}`);
}

function withinRfc822(mailbox: string, constraint: string): boolean {
  const at = mailbox.lastIndexOf('@');
  if (at < 1) return false;
  const host = mailbox.slice(at + 1).toLowerCase();
  if (constraint.includes('@')) {
    const cAt = constraint.lastIndexOf('@');
    return mailbox.slice(0, at) === constraint.slice(0, cAt) && host === constraint.slice(cAt + 1).toLowerCase();
  }
  return constraint.startsWith('.') ? host.endsWith(constraint.toLowerCase()) : host === constraint.toLowerCase();
}

function uriHost(uri: string): string | undefined {
  try {
    const host = new URL(uri).hostname;
    return host === '' ? undefined : host.replace(/^\[|\]$/g, '');
  } catch {
    return undefined;
  }
}

function withinUri(uri: string, constraint: string): boolean {
  const host = uriHost(uri);
  if (host === undefined) return false;
  return constraint.startsWith('.') ? host.toLowerCase().endsWith(constraint.toLowerCase()) : host.toLowerCase() === constraint.toLowerCase();
}

function withinIp(address: Uint8Array, constraint: Uint8Array): boolean {
  if (constraint.length !== address.length * 2) return false;
  for (let i = 0; i < address.length; i++) {
    if ((address[i] & constraint[address.length + i]) !== (constraint[i] & constraint[address.length + i])) return false;
  }
  return true;
}

const bytesOf = (value: unknown): Uint8Array => (value instanceof asn1js.OctetString ? value.valueBlock.valueHexView : new Uint8Array());

function within(name: Name, base: pkijs.GeneralName): boolean {
  switch (name.form) {
    case FORM.DIRECTORY: return base.value instanceof pkijs.RelativeDistinguishedNames && withinDirectory(name.value as pkijs.RelativeDistinguishedNames, base.value);
    case FORM.RFC822: return typeof base.value === 'string' && withinRfc822(name.value as string, base.value);
    case FORM.DNS: return typeof base.value === 'string' && withinDomain(name.value as string, base.value);
    case FORM.URI: return typeof base.value === 'string' && withinUri(name.value as string, base.value);
    case FORM.IP: return withinIp(bytesOf(name.value), bytesOf(base.value));
    default: return false;
  }
}

function namesOf(cert: ParsedCertificate): Name[] {
  const names: Name[] = [];
  if (cert.pkijs.subject.typesAndValues.length > 0) names.push({ form: FORM.DIRECTORY, value: cert.pkijs.subject, display: 'the subject' });
  for (const attribute of cert.subjectAttributes) {
    if (EMAIL_ATTRIBUTES.has(attribute.type)) names.push({ form: FORM.RFC822, value: attribute.value, display: `e-mail ${attribute.value}` });
  }
  const san = (cert.pkijs.extensions ?? []).find((e) => e.extnID === SUBJECT_ALT_NAME)?.parsedValue as unknown;
  if (san instanceof pkijs.AltName) {
    for (const general of san.altNames) {
      const display = typeof general.value === 'string' ? `${FORM_NAMES[general.type]} ${general.value}` : `a ${FORM_NAMES[general.type] ?? 'name'}`;
      names.push({ form: general.type, value: general.value, display });
    }
  }
  return names;
}

function constraintsOf(cert: ParsedCertificate): pkijs.NameConstraints | undefined {
  const value = (cert.pkijs.extensions ?? []).find((e) => e.extnID === NAME_CONSTRAINTS)?.parsedValue as unknown;
  return value instanceof pkijs.NameConstraints ? value : undefined;
}

/**
 * Checks `path` (trust anchor first). Returns a failure message, or undefined when every name is allowed.
 * Constraints in the trust anchor's own certificate are honoured as well.
 */
export function checkNameConstraints(path: readonly ParsedCertificate[]): string | undefined {
  // Each entry is one CA's permitted subtrees of one form: a name must be within one subtree of every entry.
  const permitted: { form: number; subtrees: pkijs.GeneralName[]; by: string }[] = [];
  const excluded: { base: pkijs.GeneralName; by: string }[] = [];
  const n = path.length - 1;
  for (let i = 0; i <= n; i++) {
    const cert = path[i];
    if (i > 0 && (i === n || !cert.selfIssued)) {
      for (const name of namesOf(cert)) {
        const constrainedForms = new Set([...permitted.map((p) => p.form), ...excluded.map((e) => e.base.type)]);
        if (!SUPPORTED_FORMS.has(name.form) && constrainedForms.has(name.form)) {
          return `"${cert.subject}" carries ${name.display}, a name form whose constraints cannot be processed`;
        }
        for (const set of permitted) {
          if (set.form === name.form && !set.subtrees.some((base) => within(name, base))) {
            return `${name.display} of "${cert.subject}" is outside the permitted subtrees of "${set.by}"`;
          }
        }
        const hit = excluded.find((e) => e.base.type === name.form && within(name, e.base));
        if (hit) return `${name.display} of "${cert.subject}" is in an excluded subtree of "${hit.by}"`;
      }
    }
    if (i === n) break;
    const constraints = constraintsOf(cert);
    if (!constraints) continue;
    const byForm = new Map<number, pkijs.GeneralName[]>();
    for (const subtree of constraints.permittedSubtrees ?? []) byForm.set(subtree.base.type, [...(byForm.get(subtree.base.type) ?? []), subtree.base]);
    for (const [form, subtrees] of byForm) permitted.push({ form, subtrees, by: cert.subject });
    for (const subtree of constraints.excludedSubtrees ?? []) excluded.push({ base: subtree.base, by: cert.subject });
  }
  return undefined;
}
