import { createHash, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import Fastify from 'fastify';
import type { FastifyInstance, LightMyRequestResponse as InjectResponse } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';
import t from 'tap';
import type { Test } from 'tap';
import { demoBackchannelLogouts, registerDemoRoutes } from '../../src/demo/routes.ts';

const CLIENT_ID = 'demo-portal';
const CLIENT_SECRET = 'demo-portal-secret';
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

type PendingAuthorization = { code: string; challenge: string; nonce: string };

/** Stands in for the identity provider inside this unit test only; the real flow is covered elsewhere. */
async function startIssuerStub() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = 'stub-key-1';
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };

  const stub = Fastify({ logger: false });
  await stub.register(formbody);
  // Known only once listening; the handlers below read it per request.
  let issuer = '';

  const state = { pending: undefined as PendingAuthorization | undefined, userName: '张三 <script>alert(1)</script>', sid: 'sid-1' };
  const accessToken = 'stub-access-token';

  stub.get('/.well-known/openid-configuration', async () => ({
    issuer,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    end_session_endpoint: `${issuer}/session/end`,
    userinfo_endpoint: `${issuer}/me`,
    id_token_signing_alg_values_supported: ['ES256'],
    code_challenge_methods_supported: ['S256'],
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
  }));
  stub.get('/jwks', async () => ({ keys: [publicJwk] }));
  stub.post<{ Body: Record<string, string> }>('/token', async (request, reply) => {
    // RFC 6749 section 2.3.1: both parts are form-urlencoded before base64.
    const basic = Buffer.from(request.headers.authorization?.replace(/^Basic /, '') ?? '', 'base64').toString().split(':').map(decodeURIComponent);
    if (basic[0] !== CLIENT_ID || basic[1] !== CLIENT_SECRET) return reply.status(401).send({ error: 'invalid_client' });
    const { pending } = state;
    const { code, code_verifier: verifier, redirect_uri: redirectUri, grant_type: grantType } = request.body;
    const challenge = verifier ? createHash('sha256').update(verifier).digest('base64url') : undefined;
    if (!pending || grantType !== 'authorization_code' || code !== pending.code || challenge !== pending.challenge
      || redirectUri !== `${issuer}/demo/callback`) {
      return reply.status(400).send({ error: 'invalid_grant' });
    }
    state.pending = undefined;
    const idToken = await new SignJWT({ nonce: pending.nonce, sid: state.sid, name: state.userName, acr: 'urn:gov:loa:2', amr: ['pwd'], auth_time: Math.floor(Date.now() / 1000) })
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer(issuer).setAudience(CLIENT_ID).setSubject('citizen-1').setIssuedAt().setExpirationTime('10m')
      .sign(privateKey);
    return { access_token: accessToken, token_type: 'Bearer', expires_in: 600, id_token: idToken, scope: 'openid profile phone' };
  });
  stub.get('/me', async (request, reply) => {
    if (request.headers.authorization !== `Bearer ${accessToken}`) return reply.status(401).header('www-authenticate', 'Bearer error="invalid_token"').send();
    return { sub: 'citizen-1', name: state.userName, phone_number: '+8613800138000' };
  });

  await stub.listen({ host: '127.0.0.1', port: 0 });
  issuer = `http://127.0.0.1:${(stub.server.address() as AddressInfo).port}`;

  return { stub, issuer, privateKey, kid, state };
}

const issuerStub = await startIssuerStub();
t.teardown(() => issuerStub.stub.close());

async function buildDemoApp(): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  await app.register(cookie, { secret: 'test-cookie-secret-0123456789abcdef' });
  await app.register(formbody);
  await registerDemoRoutes(app, { issuer: issuerStub.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, cookieSecret: 'unused-because-parent-has-cookie' });
  await app.ready();
  return app;
}

function cookieValue(response: InjectResponse, name: string): string | undefined {
  return (response.cookies as { name: string; value: string }[]).find((c) => c.name === name)?.value;
}

function logoutToken(overrides: { claims?: JWTPayload; header?: Record<string, unknown>; key?: CryptoKey; omitIat?: boolean } = {}) {
  const payload: JWTPayload = {
    iss: issuerStub.issuer, aud: CLIENT_ID, events: { [EVENT]: {} }, sid: 'sid-1', jti: randomUUID(), ...overrides.claims,
  };
  let jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', kid: issuerStub.kid, typ: 'logout+jwt', ...overrides.header });
  if (payload.exp === undefined) jwt = jwt.setExpirationTime('2m');
  if (payload.iat === undefined && !overrides.omitIat) jwt = jwt.setIssuedAt();
  return jwt.sign(overrides.key ?? issuerStub.privateKey);
}

function postLogout(app: FastifyInstance, token: string | undefined) {
  return app.inject({
    method: 'POST',
    url: '/demo/backchannel-logout',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: token === undefined ? 'other=1' : new URLSearchParams({ logout_token: token }).toString(),
  });
}

t.test('GET /demo/ without a session offers the login link', async (t) => {
  const app = await buildDemoApp();
  t.teardown(() => app.close());
  const response = await app.inject({ method: 'GET', url: '/demo/' });
  t.equal(response.statusCode, 200);
  t.match(response.headers['content-type'], /^text\/html/);
  t.equal(response.headers['content-security-policy'], CSP);
  t.equal(response.headers['cache-control'], 'no-store');
  t.match(response.body, 'href="/demo/login"');
  t.notMatch(response.body, 'href="/demo/logout"');
});

t.test('GET /demo/login redirects to the authorization endpoint with PKCE, state and nonce', async (t) => {
  const app = await buildDemoApp();
  t.teardown(() => app.close());
  const response = await app.inject({ method: 'GET', url: '/demo/login?prompt=login' });
  t.equal(response.statusCode, 302);
  t.equal(response.headers['cache-control'], 'no-store');
  const location = new URL(String(response.headers.location));
  t.equal(`${location.origin}${location.pathname}`, `${issuerStub.issuer}/auth`);
  const query = location.searchParams;
  t.equal(query.get('client_id'), CLIENT_ID);
  t.equal(query.get('response_type'), 'code');
  t.equal(query.get('redirect_uri'), `${issuerStub.issuer}/demo/callback`);
  t.equal(query.get('scope'), 'openid profile phone');
  t.equal(query.get('code_challenge_method'), 'S256');
  t.match(query.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  t.match(query.get('state'), /^[A-Za-z0-9_-]{20,}$/);
  t.match(query.get('nonce'), /^[A-Za-z0-9_-]{20,}$/);
  t.equal(query.get('prompt'), 'login');

  const transactionCookie = (response.cookies as { name: string; httpOnly?: boolean; sameSite?: string; path?: string; maxAge?: number }[])
    .find((c) => c.name === 'demo_login');
  t.ok(transactionCookie, 'transaction cookie set');
  t.equal(transactionCookie?.httpOnly, true);
  t.equal(transactionCookie?.sameSite, 'Lax');
  t.equal(transactionCookie?.path, '/demo');
  t.ok(transactionCookie?.maxAge && transactionCookie.maxAge <= 600, 'short-lived');

  const second = await app.inject({ method: 'GET', url: '/demo/login?prompt=bogus' });
  const secondQuery = new URL(String(second.headers.location)).searchParams;
  t.equal(secondQuery.get('prompt'), null, 'unknown prompt values are not passed through');
  t.not(secondQuery.get('state'), query.get('state'), 'fresh state per login');
});

t.test('GET /demo/callback with error=access_denied and no transaction renders a 400 page', async (t) => {
  const app = await buildDemoApp();
  t.teardown(() => app.close());
  const response = await app.inject({ method: 'GET', url: '/demo/callback?error=access_denied&state=x' });
  t.equal(response.statusCode, 400);
  t.match(response.headers['content-type'], /^text\/html/);
  t.equal(response.headers['content-security-policy'], CSP);
  t.match(response.body, 'access_denied');
  t.notMatch(response.body, /\bat .*\.ts:\d+/, 'no stack trace');

  const hostile = await app.inject({ method: 'GET', url: `/demo/callback?error=${encodeURIComponent('<script>alert(1)</script>')}&state=x` });
  t.equal(hostile.statusCode, 400);
  t.notMatch(hostile.body, '<script>');
  t.match(hostile.body, 'invalid_state');
});

t.test('GET /demo/callback validates the response against the login transaction', async (t) => {
  const app = await buildDemoApp();
  t.teardown(() => app.close());
  const login = await app.inject({ method: 'GET', url: '/demo/login' });
  const state = new URL(String(login.headers.location)).searchParams.get('state') ?? '';
  const cookies = { demo_login: cookieValue(login, 'demo_login') ?? '' };

  const denied = await app.inject({
    method: 'GET',
    url: `/demo/callback?${new URLSearchParams({ error: 'access_denied', error_description: 'The user <b>cancelled</b>', state })}`,
    cookies,
  });
  t.equal(denied.statusCode, 400);
  t.match(denied.body, 'access_denied');
  t.match(denied.body, 'The user &lt;b&gt;cancelled&lt;/b&gt;');
  t.equal(cookieValue(denied, 'demo_login'), '', 'transaction cookie cleared');

  const badState = await app.inject({ method: 'GET', url: '/demo/callback?code=abc&state=not-the-state', cookies });
  t.equal(badState.statusCode, 400);
  t.match(badState.body, /OAUTH_INVALID_RESPONSE/);
  t.match(badState.body, /state/);

  const tampered = await app.inject({ method: 'GET', url: `/demo/callback?code=abc&state=${state}`, cookies: { demo_login: `${cookies.demo_login}x` } });
  t.equal(tampered.statusCode, 400);
  t.match(tampered.body, 'invalid_state');
});

t.test('full flow against the stub: callback, page, back-channel logout, RP-initiated logout', async (t) => {
  const app = await buildDemoApp();
  t.teardown(() => app.close());

  const login = await app.inject({ method: 'GET', url: '/demo/login' });
  const authorization = new URL(String(login.headers.location)).searchParams;
  const state = authorization.get('state') ?? '';
  issuerStub.state.pending = { code: 'code-1', challenge: authorization.get('code_challenge') ?? '', nonce: authorization.get('nonce') ?? '' };

  const callback = await app.inject({
    method: 'GET',
    url: `/demo/callback?${new URLSearchParams({ code: 'code-1', state, iss: issuerStub.issuer })}`,
    cookies: { demo_login: cookieValue(login, 'demo_login') ?? '' },
  });
  t.equal(callback.statusCode, 303, callback.body);
  t.equal(callback.headers.location, '/demo/');
  const sessionCookie = (callback.cookies as { name: string; value: string; httpOnly?: boolean; sameSite?: string; path?: string }[])
    .find((c) => c.name === 'demo_session');
  t.ok(sessionCookie?.value);
  t.equal(sessionCookie?.httpOnly, true);
  t.equal(sessionCookie?.sameSite, 'Lax');
  t.equal(sessionCookie?.path, '/demo');
  const cookies = { demo_session: sessionCookie?.value ?? '' };

  const home = await app.inject({ method: 'GET', url: '/demo/', cookies });
  t.equal(home.statusCode, 200);
  t.equal(home.headers['content-security-policy'], CSP);
  t.match(home.body, 'href="/demo/logout"');
  t.match(home.body, '<th>sub</th><td>citizen-1</td>');
  t.match(home.body, '<th>sid</th><td>sid-1</td>');
  t.match(home.body, '<th>acr</th><td>urn:gov:loa:2</td>');
  t.match(home.body, '<th>amr</th><td>[&quot;pwd&quot;]</td>');
  t.match(home.body, `<th>iss</th><td>${issuerStub.issuer}</td>`);
  t.match(home.body, '&quot;phone_number&quot;: &quot;+8613800138000&quot;');
  t.notMatch(home.body, '<script>', 'claims and userinfo are escaped');
  t.match(home.body, '&lt;script&gt;alert(1)&lt;/script&gt;');

  const forged = await app.inject({ method: 'GET', url: '/demo/', cookies: { demo_session: 'not-signed' } });
  t.match(forged.body, 'href="/demo/login"', 'an unsigned session cookie is ignored');

  const logout = await postLogout(app, await logoutToken({ claims: { sid: 'sid-1', sub: 'citizen-1' } }));
  t.equal(logout.statusCode, 200);
  const ended = await app.inject({ method: 'GET', url: '/demo/', cookies });
  t.match(ended.body, 'id="backchannel-notice"');
  t.match(ended.body, 'href="/demo/login"');
  t.notMatch(ended.body, 'citizen-1', 'claims no longer shown');

  const rpLogout = await app.inject({ method: 'GET', url: '/demo/logout', cookies });
  t.equal(rpLogout.statusCode, 302);
  const endSession = new URL(String(rpLogout.headers.location));
  t.equal(`${endSession.origin}${endSession.pathname}`, `${issuerStub.issuer}/session/end`);
  t.match(endSession.searchParams.get('id_token_hint'), /^ey[\w-]+\.[\w-]+\.[\w-]+$/);
  t.equal(endSession.searchParams.get('post_logout_redirect_uri'), `${issuerStub.issuer}/demo/`);
  t.equal(endSession.searchParams.get('client_id'), CLIENT_ID);
  t.equal(cookieValue(rpLogout, 'demo_session'), '', 'session cookie cleared');

  const after = await app.inject({ method: 'GET', url: '/demo/', cookies });
  t.notMatch(after.body, 'backchannel-notice', 'local session is gone');
  t.match(after.body, 'href="/demo/login"');
});

t.test('POST /demo/backchannel-logout', async (t) => {
  const app = await buildDemoApp();
  t.teardown(() => app.close());

  const rejected = async (t: Test, token: string | undefined, pattern: RegExp) => {
    const response = await postLogout(app, token);
    t.equal(response.statusCode, 400, String(pattern));
    t.equal(response.json().error, 'invalid_request');
    t.match(response.json().error_description, pattern);
    t.equal(response.headers['cache-control'], 'no-store');
  };

  t.test('valid token is accepted and recorded', async (t) => {
    const before = demoBackchannelLogouts().length;
    const response = await postLogout(app, await logoutToken({ claims: { sid: 'sid-valid', sub: 'citizen-9' } }));
    t.equal(response.statusCode, 200);
    t.equal(response.headers['cache-control'], 'no-store');
    const log = demoBackchannelLogouts();
    t.equal(log.length, before + 1);
    t.match(log.at(-1), { sid: 'sid-valid', sub: 'citizen-9', at: /^\d{4}-\d\d-\d\dT/ });
  });

  t.test('sub alone is enough', async (t) => {
    const response = await postLogout(app, await logoutToken({ claims: { sid: undefined, sub: 'citizen-2' } }));
    t.equal(response.statusCode, 200);
    t.same(demoBackchannelLogouts().at(-1), { sub: 'citizen-2', at: demoBackchannelLogouts().at(-1)?.at });
  });

  t.test('wrong audience', async (t) => rejected(t, await logoutToken({ claims: { aud: 'someone-else' } }), /aud/));
  t.test('wrong issuer', async (t) => rejected(t, await logoutToken({ claims: { iss: 'https://elsewhere.example' } }), /iss/));
  t.test('expired', async (t) => rejected(t, await logoutToken({ claims: { iat: Math.floor(Date.now() / 1000) - 3600, exp: Math.floor(Date.now() / 1000) - 3000 } }), /exp|timestamp|age/));
  t.test('missing events claim', async (t) => rejected(t, await logoutToken({ claims: { events: undefined } }), /events/));
  t.test('events without the logout event', async (t) => rejected(t, await logoutToken({ claims: { events: { 'urn:other': {} } } }), /back-channel logout event/));
  t.test('nonce present', async (t) => rejected(t, await logoutToken({ claims: { nonce: 'n-1' } }), /nonce/));
  t.test('neither sid nor sub', async (t) => rejected(t, await logoutToken({ claims: { sid: undefined } }), /sid or sub/));
  t.test('missing iat', async (t) => rejected(t, await logoutToken({ omitIat: true }), /iat/));
  t.test('missing jti', async (t) => rejected(t, await logoutToken({ claims: { jti: undefined } }), /jti/));
  t.test('wrong typ header', async (t) => rejected(t, await logoutToken({ header: { typ: 'JWT' } }), /typ/));
  t.test('missing logout_token', async (t) => rejected(t, undefined, /missing logout_token/));
  t.test('not a JWT', async (t) => rejected(t, 'not-a-jwt', /rejected/));

  t.test('wrong signing key', async (t) => {
    const { privateKey: otherKey } = await generateKeyPair('ES256');
    await rejected(t, await logoutToken({ key: otherKey }), /signature/);
  });

  t.test('replayed jti', async (t) => {
    const token = await logoutToken({ claims: { jti: 'jti-replayed' } });
    t.equal((await postLogout(app, token)).statusCode, 200);
    await rejected(t, token, /already used/);
  });

  t.test('JSON body is refused', async (t) => {
    const response = await app.inject({ method: 'POST', url: '/demo/backchannel-logout', payload: { logout_token: await logoutToken() } });
    t.equal(response.statusCode, 400);
    t.equal(response.json().error, 'invalid_request');
  });
});
