// The benchmark's PKI: an SM2, an RSA-2048 and an ECDSA P-256 hierarchy (root → issuing CA → leaf) made by the
// OpenSSL CLI (test/helpers/test-pki.ts), and many SM2 citizen certificates issued from the SM2 issuing CA.
// OpenSSL makes one template leaf; each citizen's certificate is that template with its own SM2 key (sm-crypto-v2),
// serial, name and GM/T 0015 ID number, re-signed with the issuing CA's key — a few ms each instead of three
// OpenSSL processes.
import { createHash, randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { sm2 } from 'sm-crypto-v2';
import { parseCertificate } from '../../src/pki/certificate.ts';
import { SM2_DEFAULT_USER_ID } from '../../src/pki/gm-engine.ts';
import { createTestPki, sm2PrivateKeyHex, type TestCa, type TestKeyHolder } from '../../test/helpers/test-pki.ts';
import { syntheticCitizen } from '../seed-citizens.ts';
import type { CitizenKey } from './certificate-flow.ts';

export type BenchChain = {
  label: string;
  root: TestCa;
  issuing: TestCa;
  leaf: TestKeyHolder;
  /** Path of the issuing CA's CRL on the bench's file server (named in the leaf's CRL distribution point). */
  crlPath: string;
};

export type BenchPki = {
  sm2: BenchChain;
  rsa: BenchChain;
  ecdsa: BenchChain;
  /** The policy every leaf carries. */
  policy: string;
  /** Removes the OpenSSL working directory. */
  remove(): Promise<void>;
};

const ID_NUMBER_OID = '1.2.156.10260.4.1.1';
const SUBJECT_KEY_IDENTIFIER_OID = '2.5.29.14';
const COMMON_NAME_OID = '2.5.4.3';
export const BENCH_POLICY = '1.2.156.99999.7.4';

/** Three hierarchies by OpenSSL; `crlUrl(path)` names where each issuing CA's CRL will be served. */
export function createBenchPki(crlUrl: (path: string) => string): BenchPki {
  const teardowns: (() => void | Promise<void>)[] = [];
  const pki = createTestPki({ teardown: (fn) => void teardowns.push(fn) });
  const chain = (label: string, keyType: 'sm2' | 'rsa' | 'ec', slug: string): BenchChain => {
    const root = pki.root({ name: `Bench ${label} Root`, keyType });
    const issuing = root.intermediate({ name: `Bench ${label} Issuing CA`, pathLen: 0 });
    const crlPath = `/${slug}-issuing.crl`;
    const citizen = syntheticCitizen(0);
    const leaf = issuing.leaf({ name: citizen.name, keyType, idNumber: citizen.idNumber, policies: [BENCH_POLICY], crlUrl: crlUrl(crlPath) });
    return { label, root, issuing, leaf, crlPath };
  };
  return {
    sm2: chain('SM2', 'sm2', 'sm2'),
    rsa: chain('RSA-2048', 'rsa', 'rsa'),
    ecdsa: chain('ECDSA P-256', 'ec', 'ecdsa'),
    policy: BENCH_POLICY,
    async remove() {
      for (const fn of teardowns) await fn();
    },
  };
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

function serialNumber(): asn1js.Integer {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] & 0x7f) | 0x01; // positive, no leading zero byte
  return new asn1js.Integer({ valueHex: new Uint8Array(bytes) });
}

function subjectWithName(template: pkijs.RelativeDistinguishedNames, name: string): pkijs.RelativeDistinguishedNames {
  return new pkijs.RelativeDistinguishedNames({
    typesAndValues: template.typesAndValues.map((attribute) => attribute.type === COMMON_NAME_OID
      ? new pkijs.AttributeTypeAndValue({ type: COMMON_NAME_OID, value: new asn1js.Utf8String({ value: name }) })
      : attribute),
  });
}

/** GM/T 0015 IdentifyCode as OpenSSL wrote the template's: `[0] IMPLICIT PrintableString`. */
function idNumberExtension(idNumber: string, critical: boolean): pkijs.Extension {
  const value = new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: 0 }, valueHex: new Uint8Array(Buffer.from(idNumber, 'ascii')) });
  return new pkijs.Extension({ extnID: ID_NUMBER_OID, critical, extnValue: value.toBER() });
}

function subjectKeyIdentifier(point: Uint8Array): pkijs.Extension {
  const keyId = new Uint8Array(createHash('sha1').update(point).digest());
  return new pkijs.Extension({ extnID: SUBJECT_KEY_IDENTIFIER_OID, extnValue: new asn1js.OctetString({ valueHex: keyId }).toBER() });
}

/**
 * `count` citizen certificates (synthetic citizens `firstIndex` … with valid GB 11643 ID numbers), each with its own
 * SM2 key, issued by `chain.issuing` from the template leaf. Every one is parsed back as a check.
 */
export function issueCitizenCertificates(chain: BenchChain, firstIndex: number, count: number): CitizenKey[] {
  const template = chain.leaf.cert.pkijs;
  const issuerPoint = hex(chain.issuing.cert.pkijs.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView);
  const issuerKey = sm2PrivateKeyHex(chain.issuing.keyPem);
  const idCritical = template.extensions?.find((e) => e.extnID === ID_NUMBER_OID)?.critical ?? false;
  const citizens: CitizenKey[] = [];
  for (let i = firstIndex; i < firstIndex + count; i++) {
    const citizen = syntheticCitizen(i);
    const keys = sm2.generateKeyPairHex();
    const point = new Uint8Array(Buffer.from(keys.publicKey, 'hex'));
    const certificate = pkijs.Certificate.fromBER(new Uint8Array(chain.leaf.certDer));
    certificate.serialNumber = serialNumber();
    certificate.subject = subjectWithName(template.subject, citizen.name);
    certificate.subjectPublicKeyInfo = new pkijs.PublicKeyInfo({
      algorithm: template.subjectPublicKeyInfo.algorithm,
      subjectPublicKey: new asn1js.BitString({ valueHex: point }),
    });
    certificate.extensions = (template.extensions ?? []).map((extension) => {
      if (extension.extnID === ID_NUMBER_OID) return idNumberExtension(citizen.idNumber, idCritical);
      if (extension.extnID === SUBJECT_KEY_IDENTIFIER_OID) return subjectKeyIdentifier(point);
      return extension;
    });
    const tbs = new Uint8Array(certificate.encodeTBS().toBER());
    certificate.tbsView = tbs;
    const signature = sm2.doSignature(tbs, issuerKey, { der: true, hash: true, publicKey: issuerPoint, userId: SM2_DEFAULT_USER_ID });
    certificate.signatureValue = new asn1js.BitString({ valueHex: new Uint8Array(Buffer.from(signature, 'hex')) });
    const der = new Uint8Array(certificate.toSchema(false).toBER());
    const parsed = parseCertificate(der);
    if (parsed.keyAlgorithm !== 'sm2') throw new Error(`citizen certificate ${i} does not carry an SM2 key`);
    citizens.push({
      idNumber: citizen.idNumber, name: citizen.name, chainBase64: Buffer.from(der).toString('base64'),
      privateKeyHex: keys.privateKey, publicKeyHex: keys.publicKey,
    });
  }
  return citizens;
}
