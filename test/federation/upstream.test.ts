import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';
import { buildApp } from '../../src/app.ts';
import { upstreamChoices } from '../../src/federation/pages.ts';
import { idNumberCheckChar } from '../../src/identity/id-number.ts';
import { loginPage } from '../../src/interactions/views/pages.ts';
import { startTestServer } from '../helpers/app.ts';
import { buildCitizen, buildUnregisteredIdNumber, nextRegisterCitizen } from '../helpers/builders.ts';
import { createTestRuntime, freePort } from '../helpers/runtime.ts';
import { formOf } from '../helpers/user-agent.ts';
import { startFakeUpstream } from './fake-upstream.ts';

const RP_CALLBACK = 'https://portal.example.gov.cn/callback';

/**
 * A cookie-keeping user agent across several servers (one jar per host name, as browsers do: the
 * provincial platform runs on localhost and ours on 127.0.0.1). It follows redirects between the origins
 * in `follow` and stops at the first one leaving them (the relying party's callback).
 */
function createBrowser(follow: readonly string[]) {
  const jars = new Map<string, Map<string, string>>();
  const jar = (url: string) => {
    const host = new URL(url).hostname;
    if (!jars.has(host)) jars.set(host, new Map());
    return jars.get(host)!;
  };

  async function request(url: string, form?: Record<string, string>) {
    let current = url;
    let method = form ? 'POST' : 'GET';
    let body = form ? new URLSearchParams(form).toString() : undefined;
    for (let hop = 0; hop < 20; hop++) {
      const cookies = jar(current);
      const response = await fetch(current, {
        method,
        redirect: 'manual',
        headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '), ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        body,
      });
      for (const header of response.headers.getSetCookie()) {
        const [pair, ...attributes] = header.split(';');
        const name = pair.slice(0, pair.indexOf('=')).trim();
        const value = pair.slice(pair.indexOf('=') + 1).trim();
        if (value === '' || attributes.some((a) => /expires=Thu, 01 Jan 1970|max-age=0\b/i.test(a.trim()))) cookies.delete(name);
        else cookies.set(name, value);
      }
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        const next = new URL(location, current);
        if (!follow.includes(next.origin)) return { response, url: current, redirectedTo: next.href, html: '' };
        current = next.href;
        method = 'GET';
        body = undefined;
        continue;
      }
      return { response, url: current, redirectedTo: undefined as string | undefined, html: await response.text() };
    }
    throw new Error('too many redirects');
  }

  return { get: (url: string) => request(url), post: (url: string, form: Record<string, string>) => request(url, form) };
}

// The provincial platform: a second instance of this server, with a client registered for ours.
const province = await startTestServer(t);

// Our server, with federation routes added to the app before it listens (test/helpers/app.ts, by hand).
const ourPort = await freePort();
const ourIssuer = `http://127.0.0.1:${ourPort}`;
const callback = (id: string) => `${ourIssuer}/federation/callback/${id}`;

const provinceClient = await province.runtime.clients.create({
  client_id: 'city-idp', client_name: '市统一身份认证平台',
  redirect_uris: [callback('province'), callback('province-link-only')],
  grant_types: ['authorization_code'], response_types: ['code'], scope: 'openid profile id_number', require_consent: false,
});
const provinceNoIdClient = await province.runtime.clients.create({
  client_id: 'city-idp-noid', client_name: '市统一身份认证平台（无身份证号）',
  redirect_uris: [callback('province-noid')],
  grant_types: ['authorization_code'], response_types: ['code'], scope: 'openid profile', require_consent: false,
});

const fake = await startFakeUpstream(t);

const provinceEntry = {
  type: 'oidc', issuer: province.issuer, clientId: 'city-idp', clientSecret: provinceClient.client_secret,
  scopes: ['openid', 'profile', 'id_number'], claims: { idNumber: 'id_number', name: 'name' },
  acr: {
    [`${province.issuer}/acr/L1`]: { proofing: 'register_verified', methods: ['pwd'] },
    [`${province.issuer}/acr/L2`]: { proofing: 'register_verified', methods: ['pwd', 'sms'] },
  },
  allowedProofing: 'register_verified',
};
const fakeEntry = (id: string, clientId: string) => ({
  id, displayName: { 'zh-CN': `测试平台 ${id}`, en: `test platform ${id}` }, type: 'oidc', issuer: fake.base,
  clientId, clientSecret: `${clientId}-secret`, scopes: ['openid', 'profile'], claims: { idNumber: 'id_number', name: 'name' },
  acr: { [`${fake.base}/acr/high`]: { proofing: 'biometric_verified', methods: ['pwd', 'sms', 'face'] } },
  createAccounts: true, allowedProofing: 'biometric_verified',
});
const closedPort = await freePort();
const upstreamFile = {
  upstreams: [
    { id: 'province-down', displayName: { 'zh-CN': '省政务服务网', en: 'the provincial platform' }, ...provinceEntry, createAccounts: true, issuer: `http://127.0.0.1:${closedPort}` },
    { id: 'province', displayName: { 'zh-CN': '省政务服务网', en: 'the provincial platform' }, ...provinceEntry, createAccounts: true },
    { id: 'province-link-only', displayName: { 'zh-CN': '省政务服务网', en: 'the provincial platform' }, ...provinceEntry, createAccounts: false },
    {
      id: 'province-noid', displayName: { 'zh-CN': '省政务服务网', en: 'the provincial platform' }, ...provinceEntry, createAccounts: true,
      clientId: 'city-idp-noid', clientSecret: provinceNoIdClient.client_secret, scopes: ['openid', 'profile'],
    },
    fakeEntry('fake', 'good'),
    fakeEntry('fake-wrong-iss', 'wrong-iss'),
    fakeEntry('fake-wrong-aud', 'wrong-aud'),
    fakeEntry('fake-wrong-key', 'wrong-key'),
    fakeEntry('fake-bad-id', 'bad-id'),
    {
      id: 'payapp', displayName: { 'zh-CN': '某支付', en: 'PayApp' }, type: 'oauth2',
      authorizationEndpoint: `${fake.base}/oauth/authorize`, tokenEndpoint: `${fake.base}/oauth/token`, userinfoEndpoint: `${fake.base}/oauth/userinfo`,
      tokenEndpointAuthMethod: 'client_secret_post', clientId: 'payapp', clientSecret: 'payapp-secret', scopes: ['auth_user'],
      userinfo: { subject: 'data.user_id', idNumber: 'data.cert_no', name: 'data.real_name' },
      grant: { proofing: 'bank_verified', methods: ['pwd', 'sms'] },
      createAccounts: false, allowedProofing: 'bank_verified',
    },
  ],
};

// Configured the way an operator does: a file named by UPSTREAMS_FILE, so buildApp wires everything itself.
const upstreamsPath = join(mkdtempSync(join(tmpdir(), 'upstreams-')), 'upstreams.json');
writeFileSync(upstreamsPath, JSON.stringify(upstreamFile));
const ours = await createTestRuntime(t, { env: { ISSUER: ourIssuer, PORT: String(ourPort), UPSTREAMS_FILE: upstreamsPath } });
const upstreams = ours.upstreams;
const app = await buildApp(ours, { logger: false });
t.teardown(() => app.close());
await app.listen({ port: ourPort, host: '127.0.0.1' });

const portal = await ours.clients.create({
  client_id: 'portal', client_name: '测试门户', redirect_uris: [RP_CALLBACK],
  grant_types: ['authorization_code'], response_types: ['code'], scope: 'openid profile', require_consent: false,
});
const portalConfig = await client.discovery(new URL(ourIssuer), 'portal', undefined, client.ClientSecretBasic(portal.client_secret!), {
  execute: [client.allowInsecureRequests],
});

const FOLLOW = [new URL(ourIssuer).origin, new URL(province.issuer).origin, fake.base];

/** Our relying party sends a fresh browser to our login page. */
async function authorize(browser: ReturnType<typeof createBrowser>) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const page = await browser.get(client.buildAuthorizationUrl(portalConfig, {
    redirect_uri: RP_CALLBACK, scope: 'openid profile', code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256', state, nonce, ui_locales: 'en',
  }).href);
  const uid = /\/interaction\/([^/?]+)$/.exec(new URL(page.url).pathname)?.[1];
  if (!uid) throw new Error(`not on a login page: ${page.url}`);
  return {
    page, uid,
    redeem: async (back: string | undefined) => {
      if (!back?.startsWith(RP_CALLBACK)) throw new Error(`did not come back to the relying party (${back})`);
      const tokens = await client.authorizationCodeGrant(portalConfig, new URL(back), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
      return tokens.claims()!;
    },
  };
}

/** Our login page → the provincial platform's password login → back through our callback. */
async function viaProvince(upstreamId: string, person: { idNumber: string; password: string }) {
  const browser = createBrowser(FOLLOW);
  const login = await authorize(browser);
  const atProvince = await browser.get(`${ourIssuer}/interaction/${login.uid}/upstream/${upstreamId}`);
  const form = formOf(atProvince.html, '/login');
  const back = await browser.post(new URL(form.action, atProvince.url).href, { csrf: form.csrf, identifier: person.idNumber, password: person.password });
  return { login, atProvince, back };
}

async function viaFake(upstreamId: string) {
  const browser = createBrowser(FOLLOW);
  const login = await authorize(browser);
  const back = await browser.get(`${ourIssuer}/interaction/${login.uid}/upstream/${upstreamId}`);
  return { login, back };
}

const count = async (sql: string, params: unknown[] = []) => Number((await ours.db.query<{ n: string }>(sql, params)).rows[0].n);
const tables = async () => ({
  accounts: await count('SELECT count(*) AS n FROM accounts'),
  links: await count('SELECT count(*) AS n FROM upstream_links'),
  proofings: await count('SELECT count(*) AS n FROM account_proofings'),
});
const upstreamAudit = async () => ours.audit.list({ event: 'login.upstream', limit: 1000 });
const lastFailure = async () => (await upstreamAudit()).find((e) => e.result === 'failure');
const MASKED = /^\d{4}\*{10}\d{3}[\dX]$/;

/** A valid ID number differing from `idNumber` only in its sequence code. */
function sibling(idNumber: string): string {
  const body = idNumber.slice(0, 14) + String((Number(idNumber.slice(14, 17)) + 1) % 1000).padStart(3, '0');
  return body + idNumberCheckChar(body);
}

const citizenA = await buildCitizen(province.runtime);
let accountA = '';

t.test('a provincial login creates the local account, proofed and levelled by the mapping', async (t) => {
  const before = await tables();
  const { login, atProvince, back } = await viaProvince('province', citizenA);

  t.equal(login.page.response.status, 200);
  t.match(login.page.html, /name="password"/, 'our own login page is shown first');
  const choices = upstreamChoices(upstreams, 'en', login.uid);
  t.match(loginPage({ locale: 'en', uid: login.uid, csrf: 'x', clientName: 'portal', langSwitchHref: '#', upstreams: choices }),
    `href="/interaction/${login.uid}/upstream/province"`, 'the login page renders the upstream buttons it is given');
  t.match(login.page.html, `/interaction/${login.uid}/upstream/province`, 'the live login page offers the upstream');

  t.equal(new URL(atProvince.url).origin, new URL(province.issuer).origin, 'the person signs in at the provincial platform');
  t.equal(atProvince.response.status, 200);

  const claims = await login.redeem(back.redirectedTo);
  t.equal(claims.acr, `${ourIssuer}/acr/L1`, 'provincial L1 (register-verified, password) is our L1');
  t.same(claims.amr, ['pwd']);
  accountA = claims.sub;

  const account = (await ours.accounts.findById(accountA))!;
  t.equal(account.idNumber, citizenA.idNumber, 'the account carries the ID number the province asserted');
  t.equal(account.name, citizenA.name);
  t.equal(account.passwordHash, null, 'no password: it signs in through the upstream');
  t.equal(account.status, 'active');
  t.equal(await ours.proofing.best(accountA), 'register_verified');

  const after = await tables();
  t.same(after, { accounts: before.accounts + 1, links: before.links + 1, proofings: before.proofings + 1 });
  const { rows: links } = await ours.db.query('SELECT upstream, subject, account_id FROM upstream_links WHERE account_id = $1', [accountA]);
  t.same(links, [{ upstream: 'province', subject: citizenA.account.id, account_id: accountA }], 'the provincial subject is linked');
  const { rows: proofings } = await ours.db.query('SELECT proofing, evidence FROM account_proofings WHERE account_id = $1', [accountA]);
  t.same(proofings, [{ proofing: 'register_verified', evidence: { upstream: 'province', subject: citizenA.account.id, acr: `${province.issuer}/acr/L1` } }]);

  const success = (await upstreamAudit()).find((e) => e.result === 'success' && e.accountId === accountA)!;
  t.ok(success, 'the login is audited');
  t.match(success.actor, MASKED, 'with the ID number masked');
  t.match(success.detail, { upstream: 'province', account: 'created', proofing: 'register_verified', methods: ['pwd'], acr: `${province.issuer}/acr/L1` });
  t.equal(success.clientId, 'portal');
  const linked = await ours.audit.list({ event: 'account.linked_upstream', accountId: accountA });
  t.equal(linked.length, 1);
  t.match(linked[0].detail, { upstream: 'province', created: true });
  t.notMatch(String(linked[0].detail?.subject), citizenA.account.id, 'the upstream subject is masked in the audit');
  t.equal((await ours.audit.list({ event: 'account.registered', accountId: accountA })).length, 1);
});

t.test('the same upstream subject comes back to the same account, without a new link', async (t) => {
  const before = await tables();
  const { login, back } = await viaProvince('province', citizenA);
  const claims = await login.redeem(back.redirectedTo);
  t.equal(claims.sub, accountA);
  t.same(await tables(), before, 'nothing new written: no account, link or proofing');
  t.match((await upstreamAudit()).find((e) => e.result === 'success')!.detail, { account: 'known' });
});

t.test('an existing local account is linked by its ID number, not duplicated', async (t) => {
  const person = nextRegisterCitizen();
  const local = await buildCitizen(ours, person);
  const atProvince = await buildCitizen(province.runtime, person);
  const before = await tables();

  // createAccounts=false does not matter when the account exists.
  const { login, back } = await viaProvince('province-link-only', atProvince);
  const claims = await login.redeem(back.redirectedTo);
  t.equal(claims.sub, local.account.id, 'signed in as the account registered here');
  t.equal(claims.acr, `${ourIssuer}/acr/L1`);

  const after = await tables();
  t.equal(after.accounts, before.accounts, 'no second account');
  t.equal(after.links, before.links + 1);
  t.equal(after.proofings, before.proofings, 'register-verified already: no proofing recorded');
  t.match((await ours.audit.list({ event: 'account.linked_upstream', accountId: local.account.id }))[0].detail, { upstream: 'province-link-only', created: false });

  t.test('a plain OAuth 2.0 login (a payment app) maps its fixed grant and raises the proofing', async (t) => {
    fake.people.set('payapp', { sub: 'pay-000123', idNumber: person.idNumber, name: person.name });
    const { login, back } = await viaFake('payapp');
    const claims = await login.redeem(back.redirectedTo);
    t.equal(claims.sub, local.account.id);
    t.equal(claims.acr, `${ourIssuer}/acr/L2`, 'bank-verified + password + SMS is our L2');
    t.same(claims.amr, ['pwd', 'sms', 'otp', 'mfa']);
    t.same(fake.tokenRequests.at(-1), { clientId: 'payapp', auth: 'post' }, 'the code was redeemed with PKCE and client_secret_post');
    t.equal(await ours.proofing.best(local.account.id), 'bank_verified', 'the stronger proofing was recorded');
    const { rows } = await ours.db.query('SELECT evidence FROM account_proofings WHERE account_id = $1', [local.account.id]);
    t.same(rows, [{ evidence: { upstream: 'payapp', subject: 'pay-000123' } }]);
    t.equal(await count('SELECT count(*) AS n FROM upstream_links WHERE upstream = $1 AND account_id = $2', ['payapp', local.account.id]), 1);
  });
});

t.test('createAccounts=false and no local account: a clear page, nothing written', async (t) => {
  const stranger = await buildCitizen(province.runtime);
  const before = await tables();
  const { back } = await viaProvince('province-link-only', stranger);
  t.equal(back.response.status, 403);
  t.match(back.html, /There is no account here for your citizen ID number yet/);
  t.match(back.html, /Go back and choose another way to sign in/);
  t.same(await tables(), before, 'no account, link or proofing');
  const failure = (await lastFailure())!;
  t.match(failure.detail, { upstream: 'province-link-only', reason: 'no_local_account' });
  t.match(failure.actor, MASKED);
});

t.test('an upstream that releases no ID number is refused with a clear page', async (t) => {
  const citizen = await buildCitizen(province.runtime);
  const before = await tables();
  const { back } = await viaProvince('province-noid', citizen);
  t.equal(back.response.status, 400);
  t.match(back.html, /did not provide your citizen ID number/);
  t.same(await tables(), before);
  t.match((await lastFailure())!.detail, { upstream: 'province-noid', reason: 'id_number_missing' });
});

t.test('a forged callback is refused', async (t) => {
  // Stops where our server sends the browser to the province: the login cookie is set, the code never comes.
  const browser = createBrowser([new URL(ourIssuer).origin]);
  const login = await authorize(browser);
  const started = await browser.get(`${ourIssuer}/interaction/${login.uid}/upstream/province`);
  t.ok(started.redirectedTo?.startsWith(`${province.issuer}/auth?`), 'sent to the provincial platform');
  const sent = new URL(started.redirectedTo!).searchParams;
  t.equal(sent.get('code_challenge_method'), 'S256');
  t.ok(sent.get('nonce') && sent.get('state'), 'with state and nonce');
  t.equal(sent.get('redirect_uri'), callback('province'));

  const forged = await browser.get(`${ourIssuer}/federation/callback/province?code=stolen&state=guessed`);
  t.equal(forged.response.status, 400);
  t.match(forged.html, /does not match the sign-in this browser started/);
  t.match(forged.html, `href="/interaction/${login.uid}"`, 'with the way back to the login page');
  t.match((await lastFailure())!.detail, { upstream: 'province', reason: 'state_mismatch' });

  const replay = await browser.get(`${ourIssuer}/federation/callback/province?code=stolen&state=${sent.get('state')}`);
  t.equal(replay.response.status, 400, 'the login cookie was spent by the forged attempt');
  t.match((await lastFailure())!.detail, { reason: 'no_transaction' });

  const elsewhere = await createBrowser([new URL(ourIssuer).origin]).get(`${ourIssuer}/federation/callback/province?code=x&state=${sent.get('state')}`);
  t.equal(elsewhere.response.status, 400, 'a callback in a browser that started nothing');
  t.match(elsewhere.html, /不是从本浏览器发起的/, 'in the default language: nothing tells which the person uses');

  const unknown = await browser.get(`${ourIssuer}/federation/callback/nowhere?code=x&state=y`);
  t.equal(unknown.response.status, 404);
});

t.test('an unreachable upstream: a clear page and the way back', async (t) => {
  const browser = createBrowser(FOLLOW);
  const login = await authorize(browser);
  const page = await browser.get(`${ourIssuer}/interaction/${login.uid}/upstream/province-down`);
  t.equal(page.response.status, 503);
  t.match(page.html, /the provincial platform cannot be reached at the moment/);
  t.match(page.html, `href="/interaction/${login.uid}"`);
  t.match((await lastFailure())!, { clientId: 'portal', detail: { upstream: 'province-down', reason: 'upstream_unavailable', step: 'start' } });
  const back = await browser.get(`${ourIssuer}/interaction/${login.uid}`);
  t.equal(back.response.status, 200, 'the login is still there for another method');
});

t.test('ID tokens with the wrong issuer, audience or signature are refused', async (t) => {
  const person = { sub: 'fake-bad-token', idNumber: buildUnregisteredIdNumber(), name: '冒名者' };
  const cases = [
    ['fake-wrong-iss', 'wrong-iss', 'OAUTH_JWT_CLAIM_COMPARISON_FAILED'],
    ['fake-wrong-aud', 'wrong-aud', 'OAUTH_JWT_CLAIM_COMPARISON_FAILED'],
    // Signed by a key the upstream's JWKS does not hold, under the kid of one it does.
    ['fake-wrong-key', 'wrong-key', 'OAUTH_INVALID_RESPONSE'],
  ];
  for (const [upstreamId, clientId, code] of cases) {
    fake.people.set(clientId, person);
    const before = await tables();
    const { back } = await viaFake(upstreamId);
    t.equal(back.response.status, 400, upstreamId);
    t.match(back.html, /failed validation/, upstreamId);
    t.same(await tables(), before, `${upstreamId}: nothing written`);
    t.match((await lastFailure())!.detail, { upstream: upstreamId, reason: 'token_invalid', error: code });
  }
});

t.test('an invalid ID number from the upstream is refused', async (t) => {
  const valid = buildUnregisteredIdNumber();
  const wrongCheck = valid.slice(0, 17) + (valid[17] === '0' ? '1' : '0');
  fake.people.set('bad-id', { sub: 'fake-bad-id', idNumber: wrongCheck, name: '张三' });
  const before = await tables();
  const { back } = await viaFake('fake-bad-id');
  t.equal(back.response.status, 400);
  t.match(back.html, /citizen ID number provided by test platform fake-bad-id is not valid/);
  t.same(await tables(), before);
  t.match((await lastFailure())!.detail, { reason: 'id_number_invalid', idNumberReason: 'check_digit' });
});

t.test('an upstream L3-equivalent login, then a changed ID number for the same subject', async (t) => {
  const idNumber = buildUnregisteredIdNumber();
  fake.people.set('good', { sub: 'fake-subject-1', idNumber, name: '李四' });
  const first = await viaFake('fake');
  const claims = await first.login.redeem(first.back.redirectedTo);
  t.equal(claims.acr, `${ourIssuer}/acr/L3`, 'biometric-verified + pwd + sms + face is our L3');
  t.same(claims.amr, ['pwd', 'sms', 'otp', 'face', 'mfa']);
  t.equal(await ours.proofing.best(claims.sub), 'biometric_verified');

  fake.people.set('good', { sub: 'fake-subject-1', idNumber: sibling(idNumber), name: '李四' });
  const before = await tables();
  const second = await viaFake('fake');
  t.equal(second.back.response.status, 403);
  t.match(second.back.html, /differs from before/);
  t.same(await tables(), before);
  const failure = (await lastFailure())!;
  t.match(failure.detail, { reason: 'id_number_changed' });
  t.equal(failure.accountId, claims.sub);
});

t.test('a frozen local account cannot sign in through an upstream', async (t) => {
  await ours.db.query("UPDATE accounts SET status = 'frozen' WHERE id = $1", [accountA]);
  const { back } = await viaProvince('province', citizenA);
  t.equal(back.response.status, 403);
  t.match(back.html, /frozen or closed/);
  t.match((await lastFailure())!, { accountId: accountA, detail: { reason: 'account_not_active', status: 'frozen' } });
});

t.test('the audit holds no full ID number', async (t) => {
  const all = JSON.stringify(await ours.audit.list({ limit: 1000 }));
  t.notOk(all.includes(citizenA.idNumber));
});
