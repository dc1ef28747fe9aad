import t from 'tap';
import { createTestApp } from '../helpers/app.ts';
import { authorizeUrl, registerPortal } from '../helpers/oidc.ts';

t.test('behind a TLS proxy with an https issuer: __Host-/__Secure- cookies, Secure, HttpOnly, SameSite', async (t) => {
  const { runtime, app } = await createTestApp(t, { env: { ISSUER: 'https://id.example.gov.cn', TRUST_PROXY: 'true', LOGIN_PER_IP_PER_MINUTE: '2' } });
  await registerPortal(runtime);
  const headers = { 'x-forwarded-proto': 'https', host: 'id.example.gov.cn' };
  const auth = await app.inject({ method: 'GET', url: authorizeUrl('https://id.example.gov.cn').replace('https://id.example.gov.cn', ''), headers });
  t.equal(auth.statusCode, 303);
  const interactionCookies = [auth.headers['set-cookie']].flat().join('\n');
  t.match(interactionCookies, /__Secure-idp_interaction=[^;]+;.*path=\/interaction\//i);
  t.match(interactionCookies, /secure/i);
  t.match(interactionCookies, /httponly/i);
  t.match(interactionCookies, /samesite=lax/i);

  const cookie = [auth.headers['set-cookie']].flat().map((c) => String(c).split(';')[0]).join('; ');
  const page = await app.inject({ method: 'GET', url: new URL(String(auth.headers.location), 'https://id.example.gov.cn').pathname, headers: { ...headers, cookie } });
  t.equal(page.statusCode, 200);
  const pageCookies = [page.headers['set-cookie']].flat().join('\n');
  t.match(pageCookies, /__Host-idp_csrf=[^;]+;.*Path=\/;.*HttpOnly;.*Secure;.*SameSite=Lax/i, 'CSRF cookie is __Host- prefixed');
  t.equal(page.headers['x-frame-options'], 'DENY');
  t.match(String(page.headers['content-security-policy']), /default-src 'none'.*frame-ancestors 'none'/);

  // Per-IP login attempt limit (2 per minute here): the third attempt is refused before any password check.
  const uid = /\/interaction\/([^/]+)/.exec(String(auth.headers.location))![1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1];
  const allCookies = `${cookie}; ${[page.headers['set-cookie']].flat().map((c) => String(c).split(';')[0]).join('; ')}`;
  const statuses = [];
  for (let i = 0; i < 3; i++) {
    const response = await app.inject({
      method: 'POST', url: `/interaction/${uid}/login`, headers: { ...headers, cookie: allCookies, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ csrf, identifier: `1101011990030701${i}4`, password: 'whatever-123' }).toString(),
    });
    statuses.push(response.statusCode);
  }
  t.same(statuses, [401, 401, 429]);
});
