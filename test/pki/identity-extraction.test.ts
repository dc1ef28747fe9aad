import t, { type Test } from 'tap';
import { validateIdNumber } from '../../src/identity/id-number.ts';
import { validateUscc } from '../../src/identity/uscc.ts';
import { extractIdentity, GMT_0015_OIDS, IdentityExtractionError } from '../../src/pki/identity-extraction.ts';
import type { IdentityExtractionRule, ParsedCertificate } from '../../src/pki/types.ts';
import { createTestPki } from '../helpers/test-pki.ts';

const ID_FEMALE_1949 = '11010519491231002X';
const ID_MALE_1990 = '110101199003078515';
const ID_LEGACY_15 = '110105491231002'; // the 15-digit form of ID_FEMALE_1949
const ID_BAD_CHECK = '110101199003078516';
const USCC = '91350100M000100Y43';
const USCC_BAD_CHECK = '91350100M000100Y44';
const PRIVATE_USCC_OID = '1.2.156.112570.11.210';

const citizenFromIdentifyCode: IdentityExtractionRule = { kind: 'citizen', source: { type: 'extension', oid: GMT_0015_OIDS.IDENTIFY_CODE, choiceTag: 0 } };
const citizenFrom2023: IdentityExtractionRule = { kind: 'citizen', source: { type: 'extension', oid: GMT_0015_OIDS.RESIDENT_ID_CARD_NUMBER } };
const citizenFromSerialNumber: IdentityExtractionRule = { kind: 'citizen', source: { type: 'subject', attribute: '2.5.4.5' }, stripPrefixes: ['ID:'] };
const enterpriseFromPrivateOid: IdentityExtractionRule = { kind: 'enterprise', source: { type: 'extension', oid: PRIVATE_USCC_OID }, removeCharacters: '- ' };

function expectError(t: Test, fn: () => unknown, code: IdentityExtractionError['code'], reason: string | undefined, what: string): void {
  try {
    fn();
    t.fail(`${what}: expected IdentityExtractionError ${code}`);
  } catch (error) {
    t.ok(error instanceof IdentityExtractionError, `${what}: an IdentityExtractionError`);
    t.equal((error as IdentityExtractionError).code, code, `${what}: ${(error as Error).message}`);
    t.equal((error as IdentityExtractionError).reason, reason, `${what}: reason`);
  }
}

t.test('the example identifiers are valid', async (t) => {
  t.equal(validateIdNumber(ID_FEMALE_1949).ok, true);
  t.equal(validateIdNumber(ID_MALE_1990).ok, true);
  t.same(validateIdNumber(ID_BAD_CHECK), { ok: false, reason: 'check_digit' });
  t.equal(validateUscc(USCC).ok, true);
  t.same(validateUscc(USCC_BAD_CHECK), { ok: false, reason: 'check_char' });
});

t.test('citizen identity from the certificate, per CA profile', async (t) => {
  const pki = createTestPki(t);
  const ca = pki.root({ name: 'Identity CA', keyType: 'sm2' });
  const leaf = (options: Parameters<typeof ca.leaf>[0]): ParsedCertificate => ca.leaf(options).cert;

  const gmt0015 = leaf({ name: '张三', idNumber: ID_FEMALE_1949 });
  t.same(extractIdentity(gmt0015, [citizenFromIdentifyCode]), { citizenId: ID_FEMALE_1949, name: '张三' }, 'GM/T 0015 IdentifyCode [0]');
  t.same(extractIdentity(gmt0015, [{ kind: 'citizen', source: { type: 'extension', oid: GMT_0015_OIDS.IDENTIFY_CODE } }]).citizenId, ID_FEMALE_1949,
    'any CHOICE tag when the profile names none');

  const lowerX = leaf({ name: '张三', idNumber: ID_FEMALE_1949.toLowerCase() });
  t.equal(extractIdentity(lowerX, [citizenFromIdentifyCode]).citizenId, ID_FEMALE_1949, 'lower-case x is normalised');

  const passport = leaf({ name: 'Passport Holder', idNumber: 'E12345678', idNumberTag: 2 });
  expectError(t, () => extractIdentity(passport, [citizenFromIdentifyCode]), 'identity_missing', undefined, 'a passport number ([2]) where [0] is required');

  const plain2023 = leaf({ name: '李四', extraExtensions: [`${GMT_0015_OIDS.RESIDENT_ID_CARD_NUMBER} = ASN1:PRINTABLESTRING:${ID_MALE_1990}`] });
  t.same(extractIdentity(plain2023, [citizenFrom2023]), { citizenId: ID_MALE_1990, name: '李四' }, 'GM/T 0015-2023 plain PrintableString');
  const utf8 = leaf({ name: '李四', extraExtensions: [`${GMT_0015_OIDS.RESIDENT_ID_CARD_NUMBER} = ASN1:UTF8String:${ID_MALE_1990}`] });
  t.equal(extractIdentity(utf8, [citizenFrom2023]).citizenId, ID_MALE_1990, 'UTF8String value');

  const inSubject = leaf({ subject: { C: 'CN', O: 'Test Gov', CN: '王五', serialNumber: `ID:${ID_MALE_1990}` } });
  t.same(extractIdentity(inSubject, [citizenFromSerialNumber]), { citizenId: ID_MALE_1990, name: '王五' }, 'subject serialNumber with the ID: prefix stripped');
  expectError(t, () => extractIdentity(inSubject, [{ ...citizenFromSerialNumber, stripPrefixes: [] }]), 'identity_invalid', 'format',
    'the prefix is not stripped without the profile saying so');

  const badCheck = leaf({ name: '赵六', idNumber: ID_BAD_CHECK });
  expectError(t, () => extractIdentity(badCheck, [citizenFromIdentifyCode]), 'identity_invalid', 'check_digit', 'invalid check digit');

  const absent = leaf({ name: 'Nobody' });
  expectError(t, () => extractIdentity(absent, [citizenFromIdentifyCode, citizenFrom2023, citizenFromSerialNumber]), 'identity_missing', undefined, 'no identity anywhere');
  expectError(t, () => extractIdentity(absent, []), 'identity_missing', undefined, 'an empty profile');

  const legacy = leaf({ name: '旧号码', idNumber: ID_LEGACY_15 });
  expectError(t, () => extractIdentity(legacy, [citizenFromIdentifyCode]), 'identity_invalid', 'format', '15-digit ID without allowLegacy15');
  t.equal(extractIdentity(legacy, [{ ...citizenFromIdentifyCode, allowLegacy15: true }]).citizenId, ID_FEMALE_1949, '15-digit ID upgraded with allowLegacy15');

  const future = leaf({ name: '未来', idNumber: ID_MALE_1990 });
  expectError(t, () => extractIdentity(future, [citizenFromIdentifyCode], { today: new Date('1985-01-01T00:00:00Z') }), 'identity_invalid', 'birth_date_future',
    'birth date after "today"');

  const notAString = leaf({ name: 'Integer', extraExtensions: [`${GMT_0015_OIDS.RESIDENT_ID_CARD_NUMBER} = ASN1:INTEGER:42`] });
  expectError(t, () => extractIdentity(notAString, [citizenFrom2023]), 'identity_invalid', 'encoding', 'an INTEGER value');

  const twoSources = leaf({ subject: { C: 'CN', CN: '两个', serialNumber: `ID:${ID_MALE_1990}` }, idNumber: ID_FEMALE_1949 });
  expectError(t, () => extractIdentity(twoSources, [citizenFromIdentifyCode, citizenFromSerialNumber]), 'identity_invalid', 'ambiguous', 'two sources disagree');
  const agreeing = leaf({ subject: { C: 'CN', CN: '一致', serialNumber: `ID:${ID_MALE_1990}` }, idNumber: ID_MALE_1990 });
  t.equal(extractIdentity(agreeing, [citizenFromIdentifyCode, citizenFromSerialNumber]).citizenId, ID_MALE_1990, 'two sources agree');
  const fallback = leaf({ subject: { C: 'CN', CN: '备用', serialNumber: `ID:${ID_MALE_1990}` } });
  t.equal(extractIdentity(fallback, [citizenFromIdentifyCode, citizenFromSerialNumber]).citizenId, ID_MALE_1990, 'the second source when the first is absent');
});

t.test('enterprise identity: unified social credit code', async (t) => {
  const pki = createTestPki(t);
  const ca = pki.root({ name: 'Enterprise CA', keyType: 'rsa' });
  const withUscc = ca.leaf({ subject: { C: 'CN', O: '测试有限公司', CN: '测试有限公司' }, extraExtensions: [`${PRIVATE_USCC_OID} = ASN1:UTF8String:${USCC}`] });
  t.same(extractIdentity(withUscc.cert, [enterpriseFromPrivateOid]), { uscc: USCC, name: '测试有限公司' }, 'a private OID carrying a USCC');

  const dashed = ca.leaf({ extraExtensions: [`${PRIVATE_USCC_OID} = ASN1:UTF8String:9135-0100-M000100Y43`] });
  t.equal(extractIdentity(dashed.cert, [enterpriseFromPrivateOid]).uscc, USCC, 'removeCharacters drops the dashes');

  const gmt2023 = ca.leaf({ extraExtensions: [`${GMT_0015_OIDS.UNIFIED_SOCIAL_CREDIT_CODE} = ASN1:PRINTABLESTRING:${USCC}`] });
  t.equal(extractIdentity(gmt2023.cert, [{ kind: 'enterprise', source: { type: 'extension', oid: GMT_0015_OIDS.UNIFIED_SOCIAL_CREDIT_CODE } }]).uscc, USCC, 'GM/T 0015-2023 USCC OID');

  const inSubject = ca.leaf({ subject: { C: 'CN', O: 'Org', organizationIdentifier: USCC, CN: 'Org' } });
  t.equal(extractIdentity(inSubject.cert, [{ kind: 'enterprise', source: { type: 'subject', attribute: '2.5.4.97' } }]).uscc, USCC, 'organizationIdentifier');

  const bad = ca.leaf({ extraExtensions: [`${PRIVATE_USCC_OID} = ASN1:UTF8String:${USCC_BAD_CHECK}`] });
  expectError(t, () => extractIdentity(bad.cert, [enterpriseFromPrivateOid]), 'identity_invalid', 'check_char', 'invalid USCC check character');

  const legalPerson = ca.leaf({ name: '法人', idNumber: ID_MALE_1990, extraExtensions: [`${PRIVATE_USCC_OID} = ASN1:UTF8String:${USCC}`] });
  t.same(extractIdentity(legalPerson.cert, [citizenFromIdentifyCode, enterpriseFromPrivateOid]), { citizenId: ID_MALE_1990, uscc: USCC, name: '法人' },
    'both identifiers in one certificate');
  t.same(extractIdentity(withUscc.cert, [citizenFromIdentifyCode, enterpriseFromPrivateOid]), { uscc: USCC, name: '测试有限公司' },
    'the citizen rule is absent, the enterprise rule present');
});
