import t from 'tap';
import { checkUserAuthentication, insufficientUserAuthentication } from '../../src/assurance/resource-server.ts';

const L3 = 'https://id.example.gov.cn/acr/L3';
const L4 = 'https://id.example.gov.cn/acr/L4';
const requirement = { acceptableAcr: [L3, L4], maxAgeSeconds: 900 };
const NOW = 1_800_000_000;

t.test('RFC 9470 challenges for resource servers', async (t) => {
  t.same(checkUserAuthentication({ active: true, acr: L3, auth_time: NOW - 60 }, requirement, NOW), { ok: true });
  t.same(checkUserAuthentication({ active: true, acr: L4, auth_time: NOW - 900 }, requirement, NOW), { ok: true }, 'exactly max_age old is fine');
  t.same(checkUserAuthentication({ active: false }, requirement, NOW),
    { ok: false, status: 401, error: 'invalid_token', wwwAuthenticate: 'Bearer error="invalid_token"' });
  t.same(checkUserAuthentication({ active: true, acr: 'https://id.example.gov.cn/acr/L1', auth_time: NOW }, requirement, NOW), {
    ok: false, status: 401, error: 'insufficient_user_authentication',
    wwwAuthenticate: `Bearer error="insufficient_user_authentication", error_description="A higher authentication level is required", acr_values="${L3} ${L4}", max_age="900"`,
  });
  const old = checkUserAuthentication({ active: true, acr: L3, auth_time: NOW - 901 }, requirement, NOW);
  t.match(old, { ok: false, error: 'insufficient_user_authentication', wwwAuthenticate: /error_description="More recent authentication is required"/ });
  t.match(checkUserAuthentication({ active: true, acr: L3 }, requirement, NOW), { ok: false }, 'no auth_time with a max age: refused');
  t.equal(insufficientUserAuthentication({ acceptableAcr: [L3] }, 'say "why"'),
    `Bearer error="insufficient_user_authentication", error_description="say \\"why\\"", acr_values="${L3}"`, 'quotes are escaped');
});
