import t from 'tap';
import { checkPassword, loadCommonPasswords } from '../../src/authn/password/policy.ts';
import { hashPassword, verifyPassword, needsRehash } from '../../src/authn/password/hashing.ts';

const commonPasswords = loadCommonPasswords(new URL('../../config/common-passwords.txt', import.meta.url).pathname);
const context = { minLength: 8, idNumber: '11010519491231002X', phone: '+8613800138000', commonPasswords };

t.test('password rules', async (t) => {
  t.same(checkPassword('Tea-garden-2026', context), []);
  t.same(checkPassword('short1!', context), ['too_short']);
  t.same(checkPassword('密码安全很重要啊', context), [], 'length counts characters, not bytes');
  t.same(checkPassword('x'.repeat(129) + 'Ab1', context), ['too_long']);
  t.same(checkPassword('my11010519491231002x', context), ['contains_id_number'], 'whole ID number, case-insensitive');
  t.same(checkPassword('born19491231!', context), ['contains_id_number'], 'birth date');
  t.same(checkPassword('abc31002X!', context), ['contains_id_number'], 'last six');
  t.same(checkPassword('tel13800138000', context), ['contains_phone']);
  t.same(checkPassword('x00138000y', context), ['contains_phone'], 'last eight digits of the phone');
  t.same(checkPassword('Password123', context), ['common_password'], 'common list, case-insensitive');
  t.same(checkPassword('woaini1314', context), ['common_password']);
  t.same(checkPassword('123456', context), ['too_short', 'common_password'], 'every violation is reported');
});

t.test('argon2id hashing with OWASP parameters, uniform cost for missing accounts', async (t) => {
  const hash = await hashPassword('Tea-garden-2026');
  t.match(hash, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
  t.equal(await verifyPassword(hash, 'Tea-garden-2026'), true);
  t.equal(await verifyPassword(hash, 'tea-garden-2026'), false);
  t.equal(await verifyPassword(null, 'anything'), false, 'no account: still verifies a dummy hash, returns false');
  t.equal(await verifyPassword('not-a-hash', 'x'), false, 'a corrupt hash fails closed');
  t.equal(needsRehash(hash), false);
  t.equal(needsRehash('$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHRzYWx0$0wCIgEDBm0a6kzkQ3hjOY3y4cP6rAD2kGuAexOPSRdc'), true, 'weaker parameters are upgraded at next login');
});
