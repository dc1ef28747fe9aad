/**
 * Test PKIs made by the real OpenSSL 3.0 CLI, in a temp directory removed when the test ends.
 *
 *   const pki = createTestPki(t);
 *   const root = pki.root({ name: 'Root A', keyType: 'sm2' });          // self-signed CA (keyType default 'sm2')
 *   const ca = root.intermediate({ name: 'Issuing CA A', pathLen: 0 });  // key type defaults to the issuer's
 *   const leaf = ca.leaf({ name: '张三', idNumber: '11010519491231002X', ocspUrl: 'http://127.0.0.1:8888' });
 *   leaf.cert;                  // ParsedCertificate (src/pki/certificate.ts)
 *   leaf.sign(challenge);       // SM2-with-SM3 (default ID) / RSA PKCS#1 v1.5 SHA-256 / ECDSA SHA-256, DER
 *   leaf.sign(challenge, { encoding: 'raw' }); // r‖s for SM2 and ECDSA
 *
 * Every CA is an `openssl ca` directory (`ca.dir`, `ca.configFile`, `ca.indexFile`, `ca.certFile`, `ca.keyFile`):
 *   ca.revoke(leaf, 'keyCompromise');  // updates index.txt
 *   ca.crlDer({ nextUpdateHours: 1 }); // CRL signed by the CA (SM2 with the GM/T 0009 default ID)
 *   ca.ocspSigner();                   // delegated responder cert (EKU OCSPSigning, ocspNoCheck)
 *   // openssl ocsp -index ca.indexFile -CA ca.certFile -rsigner s.certFile -rkey s.keyFile ...
 *   //   (+ -rmd sm3 -rsigopt distid:1234567812345678 for SM2, see SM2_SIGN_OPTIONS)
 *
 * Cross-certification and bridges (RFC 5280 policy mapping):
 *   const bridge = pki.root({ name: 'Bridge' });
 *   bridge.crossCertify(rootB, { policies: [pA], policyMappings: [[pA, pB]], requireExplicitPolicy: 0 });
 *   rootA.crossCertify(bridge);  // with rootA as the only anchor: leaf → CA B → rootB → bridge → rootA
 *
 * CA options: policies (certificatePolicies; intermediates and cross-certificates default to anyPolicy), pathLen,
 * nameConstraints, policyMappings, requireExplicitPolicy / inhibitPolicyMapping (skip certs), inhibitAnyPolicy,
 * `ca: false` (a "non-CA intermediate" that can still issue through openssl), keyUsage, validity, digest (sha1/md5
 * to test weak algorithms), pss (RSA-PSS signature), rsaBits, crlUrl, ocspUrl, extraExtensions.
 * Leaf options: name or subject, keyType, idNumber (+ idNumberTag: GM/T 0015 IdentifyCode CHOICE tag), keyUsage,
 * extendedKeyUsage, policies, crlUrl, ocspUrl, extraExtensions (raw openssl extension lines), validity, and
 * `sm2Encoding: 'sm2-oid'` (SPKI algorithm 1.2.156.10197.1.301 and NULL signature parameters, re-signed with
 * sm-crypto-v2; the certificate keeps its serial, so it is in the CA's index.txt like any other).
 * Validity: `days`, `notBefore`/`notAfter`, or `expired: true` (ended yesterday) / `notYetValid: true` (starts tomorrow).
 *
 * Everything is synchronous and generates only what the test asks for (an RSA-2048 key costs ~0.1–1 s).
 */
import { execFileSync } from 'node:child_process';
import { sign as nodeSign } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { sm2 } from 'sm-crypto-v2';
import { parseCertificate } from '../../src/pki/certificate.ts';
import { GM_OID, SM2_DEFAULT_USER_ID } from '../../src/pki/gm-engine.ts';
import type { ParsedCertificate } from '../../src/pki/types.ts';

export type TestKeyType = 'rsa' | 'ec' | 'ec-p384' | 'sm2';

/** Arguments every OpenSSL command that signs with SM2 needs (standards Appendix A). */
export const SM2_SIGN_OPTIONS = ['-sigopt', `distid:${SM2_DEFAULT_USER_ID}`] as const;

export type CrlReason =
  | 'unspecified' | 'keyCompromise' | 'CACompromise' | 'affiliationChanged' | 'superseded'
  | 'cessationOfOperation' | 'certificateHold' | 'removeFromCRL';

export type NameConstraintEntry =
  /** OpenSSL GeneralName syntax: `DNS:example.gov.cn`, `email:.gov.cn`, `IP:10.0.0.0/255.0.0.0`, `URI:.gov.cn`. */
  | string
  /** A directoryName subtree, in `-subj` syntax: `/C=CN/O=Test Gov`. */
  | { directoryName: string };

export type Validity = {
  days?: number;
  notBefore?: Date;
  notAfter?: Date;
  /** notBefore two years ago, notAfter yesterday. */
  expired?: boolean;
  /** notBefore tomorrow. */
  notYetValid?: boolean;
};

export type CaOptions = Validity & {
  name: string;
  /** Full subject in `-subj` syntax; default `/C=CN/O=Test PKI/CN=<name>`. */
  subject?: string;
  keyType?: TestKeyType;
  rsaBits?: number;
  /** Digest this certificate is signed with when the issuer is RSA/ECDSA (SM2 issuers always use SM3). */
  digest?: 'sha256' | 'sha384' | 'sha1' | 'md5';
  /** RSA issuers: sign this certificate with RSASSA-PSS (salt 32) instead of PKCS#1 v1.5. */
  pss?: boolean;
  policies?: string[];
  pathLen?: number;
  /** false: basicConstraints CA:FALSE and keyUsage digitalSignature (a leaf posing as an intermediate). */
  ca?: boolean;
  /** Default `['keyCertSign', 'cRLSign']` (CA) or `['digitalSignature', 'nonRepudiation']` (`ca: false`). */
  keyUsage?: string[];
  nameConstraints?: { permitted?: NameConstraintEntry[]; excluded?: NameConstraintEntry[] };
  policyMappings?: [issuerDomainPolicy: string, subjectDomainPolicy: string][];
  requireExplicitPolicy?: number;
  inhibitPolicyMapping?: number;
  inhibitAnyPolicy?: number;
  crlUrl?: string;
  ocspUrl?: string;
  extraExtensions?: string[];
};

export type CrossCertifyOptions = Omit<CaOptions, 'name' | 'subject' | 'keyType' | 'rsaBits'>;

export type LeafOptions = Validity & {
  /** Common name; default `Test Subject <n>`. */
  name?: string;
  /** Full subject: `-subj` syntax, or attributes in order, e.g. `{ C: 'CN', CN: '张三', serialNumber: 'ID:…' }`. */
  subject?: string | Record<string, string>;
  keyType?: TestKeyType;
  rsaBits?: number;
  digest?: CaOptions['digest'];
  pss?: boolean;
  /** GM/T 0015 IdentifyCode `1.2.156.10260.4.1.1` as `[idNumberTag] IMPLICIT PrintableString` (tag default 0). */
  idNumber?: string;
  idNumberTag?: 0 | 1 | 2;
  /** Default `['digitalSignature', 'nonRepudiation']`; `[]` leaves the extension out. */
  keyUsage?: string[];
  /** OpenSSL names or OIDs, e.g. `clientAuth`, `OCSPSigning`. */
  extendedKeyUsage?: string[];
  policies?: string[];
  crlUrl?: string;
  ocspUrl?: string;
  /** Raw OpenSSL extension lines, e.g. `1.2.156.112570.11.210=ASN1:UTF8String:91350100M000100Y43`. */
  extraExtensions?: string[];
  /** 'sm2-oid': SPKI algorithm `1.2.156.10197.1.301` itself and NULL signatureAlgorithm parameters (SM2 issuer and key). */
  sm2Encoding?: 'ec-public-key' | 'sm2-oid';
};

export type SignOptions = {
  /** 'der' (default): SEQUENCE { r, s } for SM2/ECDSA; 'raw': r‖s. Ignored for RSA. */
  encoding?: 'der' | 'raw';
  sm2UserId?: string;
  /** RSA only: RSASSA-PSS with SHA-256 (salt 32) instead of PKCS#1 v1.5. */
  rsaPss?: boolean;
};

export type TestCertificate = {
  certPem: string;
  certDer: Uint8Array;
  certFile: string;
  cert: ParsedCertificate;
};

export type TestKeyHolder = TestCertificate & {
  keyType: TestKeyType;
  keyPem: string;
  keyFile: string;
  sign(message: Uint8Array, options?: SignOptions): Uint8Array;
};

export type TestLeaf = TestKeyHolder;

export type TestCa = TestKeyHolder & {
  name: string;
  /** The subject in `-subj` syntax. */
  subject: string;
  dir: string;
  configFile: string;
  indexFile: string;
  intermediate(options: CaOptions): TestCa;
  crossCertify(subjectCa: TestCa, options?: CrossCertifyOptions): TestCertificate;
  leaf(options?: LeafOptions): TestLeaf;
  ocspSigner(options?: Omit<LeafOptions, 'extendedKeyUsage'>): TestLeaf;
  revoke(certificate: TestCertificate, reason?: CrlReason): void;
  crlDer(options?: { nextUpdateHours?: number; lastUpdate?: Date; nextUpdate?: Date }): Uint8Array<ArrayBuffer>;
};

export type TestPki = {
  dir: string;
  root(options: CaOptions): TestCa;
};

type Teardown = { teardown(fn: () => void | Promise<void>): void };

const ANY_POLICY = '2.5.29.32.0';
const DAY_MS = 24 * 60 * 60 * 1000;

function openssl(args: readonly string[], cwd: string): string {
  try {
    return execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args.join(' ')} failed: ${stderr || (error as Error).message}`);
  }
}

const opensslTime = (date: Date): string => `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;

function validityDates(validity: Validity, defaultDays: number): { start: Date; end: Date } {
  const now = Date.now();
  if (validity.expired) return { start: new Date(now - 730 * DAY_MS), end: new Date(now - DAY_MS) };
  const start = validity.notBefore ?? new Date(validity.notYetValid ? now + DAY_MS : now - 60 * 60 * 1000);
  const end = validity.notAfter ?? new Date(start.getTime() + (validity.days ?? defaultDays) * DAY_MS);
  return { start, end };
}

function subjectString(subject: string | Record<string, string>): string {
  if (typeof subject === 'string') return subject;
  return Object.entries(subject).map(([key, value]) => `/${key}=${value.replace(/[/+=\\]/g, (c) => `\\${c}`)}`).join('');
}

function generateKey(file: string, keyType: TestKeyType, rsaBits: number, cwd: string): void {
  const pkeyopts: Record<TestKeyType, string[]> = {
    rsa: ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${rsaBits}`],
    ec: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-pkeyopt', 'ec_param_enc:named_curve'],
    'ec-p384': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384', '-pkeyopt', 'ec_param_enc:named_curve'],
    sm2: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:SM2'],
  };
  openssl(['genpkey', ...pkeyopts[keyType], '-out', file], cwd);
}

/** The 32-byte SM2 private scalar (hex) from a PKCS#8 or SEC1 PEM. */
export function sm2PrivateKeyHex(keyPem: string): string {
  const body = keyPem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, '');
  let node = asn1js.fromBER(Buffer.from(body, 'base64')).result as asn1js.Sequence;
  const items = node.valueBlock.value;
  if (items[1] instanceof asn1js.Sequence && items[2] instanceof asn1js.OctetString) { // PKCS#8 → inner ECPrivateKey
    node = asn1js.fromBER(items[2].valueBlock.valueHexView).result as asn1js.Sequence;
  }
  const scalar = node.valueBlock.value[1];
  if (!(scalar instanceof asn1js.OctetString)) throw new Error('not an EC private key');
  return Buffer.from(scalar.valueBlock.valueHexView).toString('hex').padStart(64, '0');
}

function signWith(keyType: TestKeyType, keyPem: string, cert: () => ParsedCertificate) {
  return (message: Uint8Array, options: SignOptions = {}): Uint8Array => {
    const raw = options.encoding === 'raw';
    if (keyType === 'sm2') {
      const point = Buffer.from(cert().pkijs.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView).toString('hex');
      const hex = sm2.doSignature(message, sm2PrivateKeyHex(keyPem), {
        der: !raw, hash: true, publicKey: point, userId: options.sm2UserId ?? SM2_DEFAULT_USER_ID,
      });
      return new Uint8Array(Buffer.from(hex, 'hex'));
    }
    if (keyType === 'rsa') {
      const key = options.rsaPss ? { key: keyPem, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 } : keyPem;
      return new Uint8Array(nodeSign('sha256', message, key));
    }
    const hash = keyType === 'ec-p384' ? 'sha384' : 'sha256';
    return new Uint8Array(nodeSign(hash, message, { key: keyPem, dsaEncoding: raw ? 'ieee-p1363' : 'der' }));
  };
}

function loadCertificate(certFile: string): TestCertificate {
  const certPem = readFileSync(certFile, 'utf8');
  const cert = parseCertificate(certPem, { maxBytes: 1024 * 1024 }); // tests make oversized certificates on purpose
  return { certPem, certDer: cert.der, certFile, cert };
}

/** Re-encodes an SM2 certificate in the GM/T 0015-2012 form and re-signs it with the issuer's SM2 key. */
function toSm2OidEncoding(certFile: string, issuerKeyPem: string, issuerCert: ParsedCertificate): void {
  const certificate = parseCertificate(readFileSync(certFile, 'utf8'), { maxBytes: 1024 * 1024 }).pkijs;
  const sm2WithSm3 = () => new pkijs.AlgorithmIdentifier({ algorithmId: GM_OID.SM2_WITH_SM3, algorithmParams: new asn1js.Null() });
  certificate.subjectPublicKeyInfo.algorithm = new pkijs.AlgorithmIdentifier({ algorithmId: GM_OID.SM2_CURVE });
  certificate.signature = sm2WithSm3();
  certificate.signatureAlgorithm = sm2WithSm3();
  const tbs = new Uint8Array(certificate.encodeTBS().toBER());
  certificate.tbsView = tbs;
  const issuerPoint = Buffer.from(issuerCert.pkijs.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView).toString('hex');
  const signature = sm2.doSignature(tbs, sm2PrivateKeyHex(issuerKeyPem), {
    der: true, hash: true, publicKey: issuerPoint, userId: SM2_DEFAULT_USER_ID,
  });
  certificate.signatureValue = new asn1js.BitString({ valueHex: new Uint8Array(Buffer.from(signature, 'hex')) });
  const der = new Uint8Array(certificate.toSchema(false).toBER());
  const pem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
  writeFileSync(certFile, pem);
}

export function createTestPki(t: Teardown): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'test-pki-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let counter = 0;
  const nextId = (label: string): string => `${++counter}-${label.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 40) || 'x'}`;

  function caConfig(caDir: string, keyType: TestKeyType): string {
    return `[ ca ]
default_ca = CA_default
[ CA_default ]
dir = ${caDir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
certificate = $dir/ca.pem
private_key = $dir/ca.key
crlnumber = $dir/crlnumber
rand_serial = yes
unique_subject = no
default_md = ${keyType === 'sm2' ? 'sm3' : 'sha256'}
default_days = 365
default_crl_hours = 24
policy = policy_any
email_in_dn = no
crl_extensions = crl_ext
[ policy_any ]
commonName = optional
[ crl_ext ]
authorityKeyIdentifier = keyid:always
[ req ]
distinguished_name = req_dn
string_mask = utf8only
utf8 = yes
[ req_dn ]
`;
  }

  /** Extension section plus any dirName sections that nameConstraints need. */
  function caExtensions(options: CaOptions | CrossCertifyOptions, selfSigned: boolean): string {
    const lines: string[] = [];
    const sections: string[] = [];
    const isCa = options.ca !== false;
    lines.push(isCa ? `basicConstraints = critical,CA:TRUE${options.pathLen !== undefined ? `,pathlen:${options.pathLen}` : ''}` : 'basicConstraints = critical,CA:FALSE');
    const keyUsage = options.keyUsage ?? (isCa ? ['keyCertSign', 'cRLSign'] : ['digitalSignature', 'nonRepudiation']);
    if (keyUsage.length) lines.push(`keyUsage = critical,${keyUsage.join(',')}`);
    lines.push('subjectKeyIdentifier = hash');
    if (!selfSigned) lines.push('authorityKeyIdentifier = keyid:always');
    const policies = options.policies ?? (selfSigned ? [] : [ANY_POLICY]);
    if (policies.length) lines.push(`certificatePolicies = ${policies.join(',')}`);
    if (options.policyMappings?.length) {
      lines.push(`policyMappings = critical,${options.policyMappings.map(([a, b]) => `${a}:${b}`).join(',')}`);
    }
    const constraints = [
      options.requireExplicitPolicy !== undefined ? `requireExplicitPolicy:${options.requireExplicitPolicy}` : '',
      options.inhibitPolicyMapping !== undefined ? `inhibitPolicyMapping:${options.inhibitPolicyMapping}` : '',
    ].filter(Boolean);
    if (constraints.length) lines.push(`policyConstraints = critical,${constraints.join(',')}`);
    if (options.inhibitAnyPolicy !== undefined) lines.push(`inhibitAnyPolicy = critical,${options.inhibitAnyPolicy}`);
    if (options.nameConstraints) {
      const entries: string[] = [];
      for (const kind of ['permitted', 'excluded'] as const) {
        for (const entry of options.nameConstraints[kind] ?? []) {
          if (typeof entry === 'string') {
            entries.push(`${kind};${entry}`);
          } else {
            const section = `nc_dir_${sections.length}`;
            const rdns = entry.directoryName.split('/').filter(Boolean).map((rdn) => rdn.replace('=', ' = '));
            sections.push(`[ ${section} ]\n${rdns.join('\n')}`);
            entries.push(`${kind};dirName:${section}`);
          }
        }
      }
      lines.push(`nameConstraints = critical,${entries.join(',')}`);
    }
    lines.push(...locatorExtensions(options));
    lines.push(...(options.extraExtensions ?? []));
    return [`[ ext ]`, ...lines, ...sections].join('\n') + '\n';
  }

  function locatorExtensions(options: { crlUrl?: string; ocspUrl?: string }): string[] {
    const lines: string[] = [];
    if (options.crlUrl) lines.push(`crlDistributionPoints = URI:${options.crlUrl}`);
    if (options.ocspUrl) lines.push(`authorityInfoAccess = OCSP;URI:${options.ocspUrl}`);
    return lines;
  }

  function leafExtensions(options: LeafOptions, extendedKeyUsage: string[] | undefined): string {
    const lines = ['basicConstraints = critical,CA:FALSE', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid:always'];
    const keyUsage = options.keyUsage ?? ['digitalSignature', 'nonRepudiation'];
    if (keyUsage.length) lines.push(`keyUsage = critical,${keyUsage.join(',')}`);
    if (extendedKeyUsage?.length) lines.push(`extendedKeyUsage = ${extendedKeyUsage.join(',')}`);
    if (options.policies?.length) lines.push(`certificatePolicies = ${options.policies.join(',')}`);
    lines.push(...locatorExtensions(options));
    if (options.idNumber !== undefined) {
      lines.push(`1.2.156.10260.4.1.1 = ASN1:IMPLICIT:${options.idNumberTag ?? 0},PRINTABLESTRING:${options.idNumber}`);
    }
    lines.push(...(options.extraExtensions ?? []));
    return `[ ext ]\n${lines.join('\n')}\n`;
  }

  type Issuer = { dir: string; configFile: string; keyType: TestKeyType; keyFile: string };

  /** Runs `openssl ca` for a CSR made from `subjectKeyFile` and `subject`; returns the certificate file. */
  function issue(issuer: Issuer | 'self', request: {
    workDir: string; id: string; subject: string; subjectKeyFile: string; subjectKeyType: TestKeyType;
    extensions: string; validity: Validity; defaultDays: number; digest?: CaOptions['digest']; pss?: boolean;
  }, selfCa?: Issuer): string {
    const signer = issuer === 'self' ? selfCa! : issuer;
    const csr = join(request.workDir, `${request.id}.csr`);
    const extFile = join(request.workDir, `${request.id}.ext.cnf`);
    const certFile = join(request.workDir, `${request.id}.pem`);
    writeFileSync(extFile, request.extensions);
    const subjectIsSm2 = request.subjectKeyType === 'sm2';
    openssl(['req', '-new', '-config', signer.configFile, '-utf8', '-key', request.subjectKeyFile, '-subj', request.subject,
      ...(subjectIsSm2 ? ['-sm3', ...SM2_SIGN_OPTIONS] : ['-sha256']), '-out', csr], request.workDir);
    const { start, end } = validityDates(request.validity, request.defaultDays);
    const md = signer.keyType === 'sm2' ? ['-md', 'sm3', ...SM2_SIGN_OPTIONS] : ['-md', request.digest ?? (signer.keyType === 'ec-p384' ? 'sha384' : 'sha256')];
    if (request.pss && signer.keyType === 'rsa') md.push('-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32');
    openssl(['ca', '-batch', '-notext', '-utf8', '-preserveDN', '-config', signer.configFile, '-in', csr, '-out', certFile,
      ...(issuer === 'self' ? ['-selfsign', '-keyfile', signer.keyFile] : []),
      '-startdate', opensslTime(start), '-enddate', opensslTime(end), '-extfile', extFile, '-extensions', 'ext',
      ...md, ...(subjectIsSm2 ? ['-vfyopt', `distid:${SM2_DEFAULT_USER_ID}`] : [])], request.workDir);
    return certFile;
  }

  function makeCa(options: CaOptions, issuer: TestCa | undefined): TestCa {
    const keyType = options.keyType ?? issuer?.keyType ?? 'sm2';
    const caDir = join(dir, nextId(options.name));
    mkdirSync(join(caDir, 'newcerts'), { recursive: true });
    const configFile = join(caDir, 'openssl.cnf');
    const indexFile = join(caDir, 'index.txt');
    const keyFile = join(caDir, 'ca.key');
    writeFileSync(configFile, caConfig(caDir, keyType));
    writeFileSync(indexFile, '');
    writeFileSync(join(caDir, 'index.txt.attr'), 'unique_subject = no\n');
    writeFileSync(join(caDir, 'crlnumber'), '1000\n');
    generateKey(keyFile, keyType, options.rsaBits ?? 2048, caDir);
    const self: Issuer = { dir: caDir, configFile, keyType, keyFile };
    const subject = options.subject ?? `/C=CN/O=Test PKI/CN=${options.name}`;
    const issuedFile = issue(issuer ?? 'self', {
      workDir: issuer?.dir ?? caDir, id: `ca-${nextId(options.name)}`, subject, subjectKeyFile: keyFile, subjectKeyType: keyType,
      extensions: caExtensions(options, !issuer), validity: options, defaultDays: issuer ? 1825 : 3650, digest: options.digest, pss: options.pss,
    }, self);
    writeFileSync(join(caDir, 'ca.pem'), readFileSync(issuedFile));
    return caObject(options.name, subject, caDir, keyType);
  }

  function caObject(name: string, subject: string, caDir: string, keyType: TestKeyType): TestCa {
    const loaded = loadCertificate(join(caDir, 'ca.pem'));
    const keyFile = join(caDir, 'ca.key');
    const keyPem = readFileSync(keyFile, 'utf8');
    const configFile = join(caDir, 'openssl.cnf');
    const indexFile = join(caDir, 'index.txt');
    const asIssuer: Issuer = { dir: caDir, configFile, keyType, keyFile };

    const newLeaf = (options: LeafOptions, extendedKeyUsage: string[] | undefined, label: string): TestLeaf => {
      const leafKeyType = options.keyType ?? keyType;
      const id = nextId(label);
      const leafKeyFile = join(caDir, `${id}.key`);
      generateKey(leafKeyFile, leafKeyType, options.rsaBits ?? 2048, caDir);
      const leafSubject = options.subject !== undefined
        ? subjectString(options.subject)
        : `/C=CN/O=Test PKI/CN=${options.name ?? `Test Subject ${counter}`}`;
      const certFile = issue(asIssuer, {
        workDir: caDir, id, subject: leafSubject, subjectKeyFile: leafKeyFile, subjectKeyType: leafKeyType,
        extensions: leafExtensions(options, extendedKeyUsage), validity: options, defaultDays: 365, digest: options.digest, pss: options.pss,
      });
      if (options.sm2Encoding === 'sm2-oid') {
        if (leafKeyType !== 'sm2' || keyType !== 'sm2') throw new Error("sm2Encoding 'sm2-oid' needs an SM2 key and an SM2 issuer");
        toSm2OidEncoding(certFile, keyPem, loaded.cert);
      }
      const leafKeyPem = readFileSync(leafKeyFile, 'utf8');
      const leaf = loadCertificate(certFile);
      return { ...leaf, keyType: leafKeyType, keyPem: leafKeyPem, keyFile: leafKeyFile, sign: signWith(leafKeyType, leafKeyPem, () => leaf.cert) };
    };

    const ca: TestCa = {
      ...loaded,
      name,
      subject,
      dir: caDir,
      configFile,
      indexFile,
      keyType,
      keyPem,
      keyFile,
      sign: signWith(keyType, keyPem, () => loaded.cert),
      intermediate: (options) => makeCa(options, ca),
      crossCertify(subjectCa, options = {}) {
        const certFile = issue(asIssuer, {
          workDir: caDir, id: `cross-${nextId(subjectCa.name)}`, subject: subjectCa.subject, subjectKeyFile: subjectCa.keyFile,
          subjectKeyType: subjectCa.keyType, extensions: caExtensions(options, false), validity: options, defaultDays: 1825,
          digest: options.digest, pss: options.pss,
        });
        return loadCertificate(certFile);
      },
      leaf: (options = {}) => newLeaf(options, options.extendedKeyUsage, options.name ?? 'leaf'),
      ocspSigner: (options = {}) => newLeaf({
        name: `${name} OCSP Responder`,
        keyUsage: ['digitalSignature'],
        ...options,
        extraExtensions: ['noCheck = ignored', ...(options.extraExtensions ?? [])],
      }, ['OCSPSigning'], 'ocsp'),
      revoke(certificate, reason = 'unspecified') {
        openssl(['ca', '-config', configFile, '-revoke', certificate.certFile, '-crl_reason', reason], caDir);
      },
      crlDer(options = {}) {
        const pem = join(caDir, 'crl.pem');
        const der = join(caDir, 'crl.der');
        const now = Date.now();
        const last = options.lastUpdate ?? new Date(now - 60 * 1000);
        const next = options.nextUpdate ?? new Date(last.getTime() + (options.nextUpdateHours ?? 24) * 60 * 60 * 1000);
        openssl(['ca', '-batch', '-config', configFile, '-gencrl', '-out', pem,
          '-crl_lastupdate', opensslTime(last), '-crl_nextupdate', opensslTime(next),
          ...(keyType === 'sm2' ? ['-md', 'sm3', ...SM2_SIGN_OPTIONS] : ['-md', keyType === 'ec-p384' ? 'sha384' : 'sha256'])], caDir);
        openssl(['crl', '-in', pem, '-outform', 'DER', '-out', der], caDir);
        return new Uint8Array(readFileSync(der));
      },
    };
    return ca;
  }

  return {
    dir,
    root: (options) => makeCa(options, undefined),
  };
}
