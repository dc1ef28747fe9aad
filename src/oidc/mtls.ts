import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { KoaContextWithOIDC, TLSClientAuthProperty } from 'oidc-provider';
import { createProxyCertificateReader, ipFamily } from '../authn/certificate/proxy-certificate.ts';
import { parseCertificateChain, toPem } from '../pki/certificate.ts';
import { validatePath } from '../pki/path-validator.ts';
import type { ParsedCertificate } from '../pki/types.ts';
import type { TrustStore } from '../trust/trust-store.ts';

/**
 * RFC 8705 client authentication (`tls_client_auth`, `self_signed_tls_client_auth`) behind the TLS-terminating
 * proxy: the certificate comes from the same header, under the same rule, as for certificate logins
 * (src/authn/certificate/presented-certificates.ts) — it counts only on connections whose socket peer is a
 * configured proxy address.
 *
 * oidc-provider calls `certificateAuthorized` synchronously, but path validation (and the trust store) is
 * asynchronous, so `prepare` (a provider middleware) validates the forwarded chain before the endpoint runs and
 * keeps the verdict for the request.
 */

export type MtlsDeps = {
  proxy: { header: string; addresses: readonly string[] };
  /** Lazy: the trust registry is created after the provider. */
  trustStore: () => TrustStore;
  clock: () => Date;
  maxChainLength: number;
  log?: (message: string, detail?: unknown) => void;
};

type Presented = { leaf: ParsedCertificate; rest: ParsedCertificate[] };

const TLS_CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';
const SUBJECT_ALT_NAME = '2.5.29.17';
const GENERAL_NAME = { EMAIL: 1, DNS: 2, URI: 6, IP: 7 } as const;

/** RFC 4514 §3 names, and the ones CAs commonly print; anything else is written as a dotted OID. */
const ATTRIBUTE_OIDS: Readonly<Record<string, string>> = {
  CN: '2.5.4.3', SN: '2.5.4.4', SERIALNUMBER: '2.5.4.5', C: '2.5.4.6', L: '2.5.4.7', ST: '2.5.4.8', STREET: '2.5.4.9',
  O: '2.5.4.10', OU: '2.5.4.11', TITLE: '2.5.4.12', POSTALCODE: '2.5.4.17', GN: '2.5.4.42', GIVENNAME: '2.5.4.42',
  INITIALS: '2.5.4.43', DNQUALIFIER: '2.5.4.46', PSEUDONYM: '2.5.4.65', ORGANIZATIONIDENTIFIER: '2.5.4.97',
  DC: '0.9.2342.19200300.100.1.25', UID: '0.9.2342.19200300.100.1.1', EMAILADDRESS: '1.2.840.113549.1.9.1', E: '1.2.840.113549.1.9.1',
};


/** caseIgnoreMatch with insignificant spaces (RFC 4518, simplified as in src/pki/name-constraints.ts). */
const normalise = (value: string) => value.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();

type Attribute = { type: string; value: string };

/**
 * An RFC 4514 string as RDNs in its own order (most specific first), each a list of attributes; undefined when it
 * does not parse. Spaces around `,`, `+` and `=` are tolerated; `#hex` values are kept as written (lower-cased),
 * which is how src/pki/certificate.ts shows non-string values.
 */
export function parseDistinguishedName(text: string): Attribute[][] | undefined {
  const rdns: Attribute[][] = [[]];
  let i = 0;
  while (i < text.length) {
    const equals = text.indexOf('=', i);
    if (equals < 0) return undefined;
    const rawType = text.slice(i, equals).trim();
    const type = /^(oid\.)?\d+(\.\d+)+$/i.test(rawType) ? rawType.replace(/^oid\./i, '') : ATTRIBUTE_OIDS[rawType.toUpperCase()];
    if (!type) return undefined;
    i = equals + 1;
    while (text[i] === ' ') i++;
    const bytes: number[] = [];
    let hexValue = text[i] === '#';
    let trailingSpaces = 0;
    for (; i < text.length && text[i] !== ',' && text[i] !== '+'; i++) {
      const c = text[i];
      if (c === '\\') {
        const pair = text.slice(i + 1, i + 3);
        if (/^[0-9a-f]{2}$/i.test(pair)) {
          bytes.push(parseInt(pair, 16));
          i += 2;
        } else if (i + 1 < text.length && ' "#+,;<=>\\'.includes(text[i + 1])) {
          bytes.push(text.charCodeAt(++i));
        } else {
          return undefined;
        }
        trailingSpaces = 0;
        hexValue &&= false;
        continue;
      }
      if (c === '"' || c === ';' || c === '<' || c === '>') return undefined;
      const character = String.fromCodePoint(text.codePointAt(i)!);
      i += character.length - 1;
      bytes.push(...Buffer.from(character, 'utf8'));
      trailingSpaces = character === ' ' ? trailingSpaces + 1 : 0;
    }
    const value = Buffer.from(bytes.slice(0, bytes.length - trailingSpaces)).toString('utf8');
    if (value.length === 0 || (hexValue && !/^#([0-9a-f]{2})+$/i.test(value))) return undefined;
    rdns.at(-1)!.push({ type, value: hexValue ? value.toLowerCase() : value });
    if (i < text.length) {
      if (text[i] === ',') rdns.push([]);
      i++;
      if (i >= text.length) return undefined;
    }
  }
  return rdns[0].length > 0 ? rdns : undefined;
}

const sameAttribute = (a: Attribute, b: Attribute) => a.type === b.type && normalise(a.value) === normalise(b.value);

/**
 * RFC 8705 `tls_client_auth_subject_dn`: the registered RFC 4514 string names the certificate's subject. RFC 4514
 * writes the last RDN first, so `CN=x,O=y,C=CN` is the subject `C=CN, O=y, CN=x`; the reverse order does not match.
 */
export function subjectMatches(cert: ParsedCertificate, expected: string): boolean {
  const rdns = parseDistinguishedName(expected);
  if (!rdns) return false;
  const actual = cert.subjectAttributes;
  if (rdns.reduce((n, rdn) => n + rdn.length, 0) !== actual.length) return false;
  let position = 0;
  // pkijs flattens the subject, so each registered RDN is compared, as a set, with the same number of attributes.
  for (const rdn of [...rdns].reverse()) {
    const slice = actual.slice(position, position + rdn.length);
    position += rdn.length;
    const unmatched = [...slice];
    for (const attribute of rdn) {
      const index = unmatched.findIndex((candidate) => sameAttribute(candidate, attribute));
      if (index < 0) return false;
      unmatched.splice(index, 1);
    }
  }
  return true;
}

function alternativeNames(cert: ParsedCertificate): pkijs.GeneralName[] {
  const san = (cert.pkijs.extensions ?? []).find((e) => e.extnID === SUBJECT_ALT_NAME)?.parsedValue as unknown;
  return san instanceof pkijs.AltName ? san.altNames : [];
}

function ipText(value: unknown): string | undefined {
  const bytes = value instanceof asn1js.OctetString ? value.valueBlock.valueHexView : undefined;
  if (bytes?.length === 4) return [...bytes].join('.');
  if (bytes?.length === 16) return Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] << 8) | bytes[2 * i + 1]).toString(16)).join(':');
  return undefined;
}

/** RFC 8705 §2.1.2: the registered value must equal one subjectAltName entry of the given type. */
export function alternativeNameMatches(cert: ParsedCertificate, property: Exclude<TLSClientAuthProperty, 'tls_client_auth_subject_dn'>, expected: string): boolean {
  const names = alternativeNames(cert);
  const strings = (type: number) => names.filter((n) => n.type === type && typeof n.value === 'string').map((n) => n.value as string);
  switch (property) {
    case 'tls_client_auth_san_dns': {
      const wanted = expected.toLowerCase().replace(/\.$/, '');
      return strings(GENERAL_NAME.DNS).some((name) => name.toLowerCase().replace(/\.$/, '') === wanted);
    }
    case 'tls_client_auth_san_uri':
      return strings(GENERAL_NAME.URI).includes(expected);
    case 'tls_client_auth_san_email': {
      // The local part is case-sensitive, the domain is not (RFC 5280 §4.2.1.6).
      const split = (address: string) => {
        const at = address.lastIndexOf('@');
        return at < 0 ? undefined : `${address.slice(0, at)}@${address.slice(at + 1).toLowerCase()}`;
      };
      const wanted = split(expected);
      return wanted !== undefined && strings(GENERAL_NAME.EMAIL).some((name) => split(name) === wanted);
    }
    case 'tls_client_auth_san_ip': {
      if (isIP(expected) === 0) return false;
      // A BlockList compares addresses, not spellings (`::1` and `0:0:0:0:0:0:0:1`).
      const list = new BlockList();
      list.addAddress(expected, ipFamily(expected));
      return names.filter((n) => n.type === GENERAL_NAME.IP).map((n) => ipText(n.value))
        .some((address) => address !== undefined && isIP(address) === isIP(expected) && list.check(address, ipFamily(address)));
    }
    default:
      return false;
  }
}

/** Why a certificate may not authenticate a `tls_client_auth` client, or undefined when it may. */
function usageProblem(leaf: ParsedCertificate): string | undefined {
  if (leaf.isCA) return 'a CA certificate is not a client certificate';
  if (leaf.keyUsage && !leaf.keyUsage.includes('digitalSignature')) return 'the keyUsage does not include digitalSignature';
  if (leaf.extendedKeyUsage && !leaf.extendedKeyUsage.some((oid) => oid === TLS_CLIENT_AUTH_EKU || oid === ANY_EKU)) {
    return 'the extendedKeyUsage does not include TLS client authentication';
  }
  return undefined;
}

export function createMtlsClientAuth(deps: MtlsDeps) {
  const readProxyCertificate = createProxyCertificateReader(deps.proxy);

  // Per request: the parsed forwarded chain (null: none usable) and the verdict of `prepare`.
  const presentedByRequest = new WeakMap<IncomingMessage, Presented | null>();
  const authorizedRequests = new WeakSet<IncomingMessage>();

  function read(req: IncomingMessage): Presented | undefined {
    // Anything but one well-formed forwarded chain from a proxy is no certificate: the client is then unauthenticated.
    const forwarded = readProxyCertificate(req);
    if (!forwarded.ok) return undefined;
    try {
      const [leaf, ...rest] = parseCertificateChain(forwarded.pem, { maxCertificates: deps.maxChainLength });
      return { leaf, rest };
    } catch {
      return undefined;
    }
  }

  function presented(req: IncomingMessage): Presented | undefined {
    let value = presentedByRequest.get(req);
    if (value === undefined) {
      value = read(req) ?? null;
      presentedByRequest.set(req, value);
    }
    return value ?? undefined;
  }

  /** True when the leaf is a client certificate that chains to an anchor of a usable registered CA. */
  async function chainsToRegisteredCa({ leaf, rest }: Presented): Promise<boolean> {
    if (usageProblem(leaf)) return false;
    const trust = await deps.trustStore().current();
    const known = new Set(trust.intermediates.map((c) => c.fingerprint));
    const intermediates = [...trust.intermediates, ...rest.filter((c) => !known.has(c.fingerprint))];
    const result = await validatePath({ leaf, intermediates, anchors: trust.anchors, at: deps.clock() });
    // As for certificate login: every registered CA on the path must be usable now (a client could send a
    // suspended issuing CA along with its certificate and still reach a granted root).
    return result.ok && result.path.slice(0, -1).every((cert) => trust.entryForCertificate(cert.fingerprint)?.usable !== false);
  }

  return {
    /** Provider middleware: validates a forwarded certificate before a POST endpoint authenticates its client. */
    async prepare(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
      const certificate = ctx.method === 'POST' ? presented(ctx.req) : undefined;
      if (certificate) {
        try {
          if (await chainsToRegisteredCa(certificate)) authorizedRequests.add(ctx.req);
        } catch (error) {
          // Fails closed: without the trust registry no certificate is authorised.
          deps.log?.('mTLS client certificate could not be checked against the trust registry', error);
        }
      }
      await next();
    },

    getCertificate(ctx: KoaContextWithOIDC): string | undefined {
      const certificate = presented(ctx.req);
      return certificate ? toPem(certificate.leaf.der) : undefined;
    },

    certificateAuthorized(ctx: KoaContextWithOIDC): boolean {
      return authorizedRequests.has(ctx.req);
    },

    certificateSubjectMatches(ctx: KoaContextWithOIDC, property: TLSClientAuthProperty, expected: string): boolean {
      const certificate = presented(ctx.req);
      if (!certificate) return false;
      return property === 'tls_client_auth_subject_dn'
        ? subjectMatches(certificate.leaf, expected)
        : alternativeNameMatches(certificate.leaf, property, expected);
    },
  };
}

export type MtlsClientAuth = ReturnType<typeof createMtlsClientAuth>;
