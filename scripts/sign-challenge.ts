/**
 * Plays the USB key of the demo citizen 张三 (development only): signs a certificate-login challenge with the demo
 * SM2 key from config/demo-ca and prints what the login page's manual form wants.
 *
 *   npm run sign-challenge            # paste the challenge from the page, then Ctrl-D
 *   npm run sign-challenge -- FILE    # or read it from a file
 */
import { readFileSync } from 'node:fs';
import * as asn1js from 'asn1js';
import { sm2 } from 'sm-crypto-v2';
import { DEMO_CA_DIR } from '../src/bootstrap/demo-ca.ts';
import { parseCertificate } from '../src/pki/certificate.ts';
import { SM2_DEFAULT_USER_ID } from '../src/pki/gm-engine.ts';

function privateScalar(pem: string): string {
  const der = Buffer.from(pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
  let node = asn1js.fromBER(der).result as asn1js.Sequence;
  const items = node.valueBlock.value;
  // PKCS#8 wraps the SEC1 ECPrivateKey in an OCTET STRING.
  if (items[2] instanceof asn1js.OctetString) node = asn1js.fromBER(items[2].valueBlock.valueHexView).result as asn1js.Sequence;
  const scalar = node.valueBlock.value[1];
  if (!(scalar instanceof asn1js.OctetString)) throw new Error('not an EC private key');
  return Buffer.from(scalar.valueBlock.valueHexView).toString('hex').padStart(64, '0');
}

const source = process.argv[2];
const challenge = (source ? readFileSync(source, 'utf8') : readFileSync(0, 'utf8')).replace(/\r\n/g, '\n').trim();
if (!challenge.startsWith('GOV-IDP-CERT-LOGIN/1\n')) {
  console.error('That is not a certificate-login challenge (it starts with GOV-IDP-CERT-LOGIN/1).');
  process.exit(1);
}
const leafPem = readFileSync(`${DEMO_CA_DIR}zhangsan.pem`, 'utf8');
const leaf = parseCertificate(leafPem);
const point = Buffer.from(leaf.pkijs.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView).toString('hex');
const signature = sm2.doSignature(new TextEncoder().encode(challenge), privateScalar(readFileSync(`${DEMO_CA_DIR}zhangsan.key`, 'utf8')), {
  der: true, hash: true, publicKey: point, userId: SM2_DEFAULT_USER_ID,
});
console.log(`signature (Base64):\n${Buffer.from(signature, 'hex').toString('base64')}\n`);
console.log(`certificate chain (Base64 DER, signing certificate first):\n${Buffer.from(leaf.der).toString('base64')}`);
