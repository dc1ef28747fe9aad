import t from 'tap';
import Fastify from 'fastify';
import formbody from '@fastify/formbody';
import * as client from 'openid-client';
import { startTestServer } from '../helpers/app.ts';
import { buildCitizen } from '../helpers/builders.ts';
import { createUserAgent, formOf } from '../helpers/user-agent.ts';

const RP_CALLBACK = 'https://portal.example.gov.cn/callback';
const RP_AFTER_LOGOUT = 'https://portal.example.gov.cn/bye';

/** The OAuth `error` a rejected openid-client call carries, or 'no error' when it succeeded. */
async function oauthError(call: Promise<unknown>): Promise<string> {
  return call.then(() => 'no error', (error: { error?: string }) => error.error ?? String(error));
}

t.test('authorization code + PKCE login, refresh rotation, revocation and logout, driven by openid-client', async (t) => {
  // A real back-channel logout receiver for the relying party.
  const received: string[] = [];
  const rp = Fastify();
  await rp.register(formbody);
  rp.post('/backchannel', async (request) => {
    received.push((request.body as { logout_token: string }).logout_token);
    return {};
  });
  await rp.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => rp.close());
  const rpAddress = rp.server.address() as { port: number };

  const { runtime, issuer } = await startTestServer(t);
  const registered = await runtime.clients.create({
    client_id: 'portal',
    client_name: '测试门户',
    redirect_uris: [RP_CALLBACK],
    post_logout_redirect_uris: [RP_AFTER_LOGOUT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    backchannel_logout_uri: `http://127.0.0.1:${rpAddress.port}/backchannel`,
    backchannel_logout_session_required: true,
  });
  const citizen = await buildCitizen(runtime);

  const config = await client.discovery(new URL(issuer), 'portal', registered.client_secret!, client.ClientSecretBasic(registered.client_secret!), {
    execute: [client.allowInsecureRequests],
  });
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: RP_CALLBACK,
    scope: 'openid profile phone offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    prompt: 'consent',
  });

  const ua = createUserAgent(issuer);
  const loginPage = await ua.get(authorizationUrl.toString());
  t.equal(loginPage.response.status, 200);
  t.match(loginPage.response.headers.get('content-security-policy'), /frame-ancestors 'none'/);
  t.match(loginPage.html, /测试门户/, 'the login page names the relying party');

  const login = formOf(loginPage.html, '/login');
  const consentPage = await ua.post(login.action, { csrf: login.csrf, identifier: citizen.idNumber.toLowerCase(), password: citizen.password });
  t.equal(consentPage.response.status, 200);
  const consent = formOf(consentPage.html, '/consent');
  const back = await ua.post(consent.action, { csrf: consent.csrf });
  t.ok(back.redirectedTo?.startsWith(RP_CALLBACK), 'redirected back to the relying party');

  const tokens = await client.authorizationCodeGrant(config, new URL(back.redirectedTo!), {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce,
  });
  const claims = tokens.claims()!;
  t.equal(claims.sub, citizen.account.id);
  t.equal(claims.acr, `${issuer}/acr/L1`);
  t.same(claims.amr, ['pwd']);
  t.type(claims.auth_time, 'number');
  t.ok(tokens.refresh_token, 'a refresh token was issued for offline_access');

  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  t.equal(userinfo.name, citizen.name);
  t.equal(userinfo.phone_number, citizen.phone);
  t.equal(userinfo.phone_number_verified, true);
  t.notOk('id_number' in userinfo, 'the ID number is not released without its scope');

  // Refresh rotation: a new refresh token each time; the used one is dead and its reuse revokes the grant.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
  t.not(refreshed.refresh_token, tokens.refresh_token, 'refresh token rotated');
  t.equal(await oauthError(client.refreshTokenGrant(config, tokens.refresh_token!)), 'invalid_grant', 'a rotated refresh token cannot be reused');
  t.equal(await oauthError(client.refreshTokenGrant(config, refreshed.refresh_token!)), 'invalid_grant', 'reuse detection revoked the whole grant');

  // Revocation and introspection.
  t.equal(await oauthError(client.authorizationCodeGrant(config, new URL(back.redirectedTo!), {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce,
  })), 'invalid_grant', 'an authorization code is single use');

  // A fresh login through the still-valid SSO session (no password asked again).
  const verifier2 = client.randomPKCECodeVerifier();
  const state2 = client.randomState();
  const sso = await ua.get(client.buildAuthorizationUrl(config, {
    redirect_uri: RP_CALLBACK, scope: 'openid profile', code_challenge: await client.calculatePKCECodeChallenge(verifier2),
    code_challenge_method: 'S256', state: state2,
  }).toString());
  // Reuse detection revoked the consent grant, so consent is asked again, but the SSO session holds: no password.
  t.notMatch(sso.html, /name="password"/, 'single sign-on: no login page the second time');
  const reconsent = formOf(sso.html, '/consent');
  const back2 = await ua.post(reconsent.action, { csrf: reconsent.csrf });
  t.ok(back2.redirectedTo?.startsWith(RP_CALLBACK));
  const tokens2 = await client.authorizationCodeGrant(config, new URL(back2.redirectedTo!), { pkceCodeVerifier: verifier2, expectedState: state2 });

  const before = await client.tokenIntrospection(config, tokens2.access_token);
  t.equal(before.active, true);
  t.equal(before.sub, citizen.account.id);
  await client.tokenRevocation(config, tokens2.access_token);
  const after = await client.tokenIntrospection(config, tokens2.access_token);
  t.equal(after.active, false, 'revoked access token is inactive');

  // RP-initiated logout with confirmation, reaching the RP through back-channel logout.
  const endSession = client.buildEndSessionUrl(config, { id_token_hint: tokens2.id_token!, post_logout_redirect_uri: RP_AFTER_LOGOUT, state: 'bye' });
  const confirm = await ua.get(endSession.toString());
  t.equal(confirm.response.status, 200);
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.html)?.[1];
  const action = /<form[^>]*id="op.logoutForm"[^>]*action="([^"]+)"|<form[^>]*action="([^"]+)"[^>]*id="op.logoutForm"/.exec(confirm.html);
  t.ok(xsrf && action, 'logout confirmation form present');
  const done = await ua.post(action![1] ?? action![2], { xsrf: xsrf!, logout: 'yes' });
  t.equal(done.redirectedTo, `${RP_AFTER_LOGOUT}?state=bye`);
  t.equal(received.length, 1, 'the relying party received a back-channel logout token');
  const logoutClaims = JSON.parse(Buffer.from(received[0].split('.')[1], 'base64url').toString());
  t.equal(logoutClaims.sub, citizen.account.id);
  t.equal(logoutClaims.sid, claims.sid);

  const again = await ua.get(client.buildAuthorizationUrl(config, {
    redirect_uri: RP_CALLBACK, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier2), code_challenge_method: 'S256', state: 'x',
  }).toString());
  t.equal(again.response.status, 200, 'after logout the login page is shown again');
  t.match(again.html, /name="password"/);

  const events = (await runtime.audit.list({ limit: 200 })).map((e) => `${e.event}:${e.result}`);
  for (const expected of ['account.registered:success', 'login.password:success', 'consent.granted:success', 'token.issued:success', 'token.issued:failure', 'logout:success', 'logout.backchannel:success']) {
    t.ok(events.includes(expected), `audited ${expected}`);
  }
});
