import t from 'tap';
import * as client from 'openid-client';
import { startTestServer } from '../helpers/app.ts';
import { buildCitizen } from '../helpers/builders.ts';
import { latestCode, RP_CALLBACK } from '../helpers/oidc.ts';
import { createUserAgent, formOf } from '../helpers/user-agent.ts';
import { signRequest } from '../../src/connectors/signed-http.ts';

type Ua = ReturnType<typeof createUserAgent>;

/** The person at the sandbox vendor's capture page presses Start; returns where the browser is sent back. */
async function capture(captureUrl: string): Promise<string | null> {
  const page = await fetch(captureUrl);
  const html = await page.text();
  const action = /<form method="post" action="([^"]+)"/.exec(html)![1];
  const response = await fetch(new URL(action, captureUrl), { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
  return response.headers.get('location');
}

t.test('L3 by face: consent, vendor capture, signed result, evidence without images', async (t) => {
  const { runtime, issuer } = await startTestServer(t, { env: { SMS_COOLDOWN_SECONDS: '1' } });
  const land = await runtime.clients.create({ client_id: 'land', client_name: '不动产登记', redirect_uris: [RP_CALLBACK], grant_types: ['authorization_code'], require_consent: false });
  await runtime.policies.set({ clientId: 'land', minLevel: 'L3' }, { name: 'test' });
  const config = await client.discovery(new URL(issuer), 'land', land.client_secret!, client.ClientSecretBasic(land.client_secret!), { execute: [client.allowInsecureRequests] });
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const authorize = (ua: Ua) => ua.get(client.buildAuthorizationUrl(config, {
    redirect_uri: RP_CALLBACK, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', state: 's',
  }).toString());

  /** Password, then the SMS step-up; returns the page asking for face. */
  async function upToFace(citizen: { idNumber: string; password: string; phone: string }) {
    const ua = createUserAgent(issuer);
    const login = await authorize(ua);
    const form = formOf(login.html, '/login');
    const afterPassword = await ua.post(form.action, { csrf: form.csrf, identifier: citizen.idNumber, password: citizen.password });
    t.match(afterPassword.html, /还需完成：短信验证码、人脸识别/, 'L3 needs SMS and face after the password');
    const send = formOf(afterPassword.html, '/step-up/sms/send');
    const sent = await ua.post(send.action, { csrf: send.csrf });
    const verify = formOf(sent.html, '/step-up/sms/verify');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const facePage = await ua.post(verify.action, { csrf: verify.csrf, code: latestCode(runtime, citizen.phone) });
    return { ua, facePage };
  }
  async function startFace(ua: Ua, facePage: { html: string }) {
    const link = /href="(\/interaction\/[^"]+\/face)"/.exec(facePage.html)![1];
    const consent = await ua.get(link);
    const agree = formOf(consent.html, '/face/start');
    return { consent, started: await ua.post(agree.action, { csrf: agree.csrf }) };
  }

  // 张三: the sandbox vendor reports a match (score 92).
  const zhang = await buildCitizen(runtime, { name: '张三', idNumber: '11010519491231002X' });
  const { ua, facePage } = await upToFace(zhang);
  t.match(facePage.html, /还需完成：人脸识别/, 'only face is left');
  const { consent, started } = await startFace(ua, facePage);
  t.match(consent.html, /不保存您的人脸图像/, 'the consent page states what is kept');
  t.match(consent.html, /政务服务大厅现场核验/, 'and the non-face alternative');
  t.ok(started.redirectedTo, 'sent to the vendor capture page');
  const returnUrl = await capture(started.redirectedTo!);
  const done = await ua.get(returnUrl!);
  t.ok(done.redirectedTo?.startsWith(RP_CALLBACK), 'back at the relying party');
  const tokens = await client.authorizationCodeGrant(config, new URL(done.redirectedTo!), { pkceCodeVerifier: verifier, expectedState: 's' });
  t.equal(tokens.claims()!.acr, `${issuer}/acr/L3`);
  t.same(tokens.claims()!.amr, ['pwd', 'sms', 'otp', 'face', 'mfa']);
  const { rows } = await runtime.db.query('SELECT proofing, evidence FROM account_proofings WHERE account_id = $1', [zhang.account.id]);
  t.equal(rows[0].proofing, 'biometric_verified');
  t.same(Object.keys(rows[0].evidence).sort(), ['completedAt', 'score', 'transactionId', 'vendor'], 'evidence: result, score, transaction, time; no image');
  t.equal(rows[0].evidence.score, 92);
  // Replaying the return (same transaction) counts nothing.
  const replay = await ua.get(returnUrl!);
  t.notOk(replay.redirectedTo, 'a replayed return is refused');

  // 王五: no match. 孙七: liveness fails. Both end on the step-up page with a generic message.
  for (const [name, idNumber] of [['王五', '510107200002292462'], ['孙七', '320102199211030343']] as const) {
    const citizen = await buildCitizen(runtime, { name, idNumber });
    const flow = await upToFace(citizen);
    const { started: s } = await startFace(flow.ua, flow.facePage);
    const back = await flow.ua.get((await capture(s.redirectedTo!))!);
    t.equal(back.response.status, 401, `${name}: refused`);
    t.match(back.html, /人脸识别未通过。/, `${name}: a generic message`);
    t.notOk(back.redirectedTo);
  }
  const failures = (await runtime.audit.list({ event: 'face.verify' })).filter((e) => e.result === 'failure').map((e) => e.detail?.reason).sort();
  t.same(failures, ['below_threshold', 'liveness_failed'], 'each failure audited with its reason');

  // 吴建国: the vendor is down. A clear page, then the relying party gets temporarily_unavailable.
  const wu = await buildCitizen(runtime, { name: '吴建国', idNumber: '420106196309090454' });
  const outage = await upToFace(wu);
  const { started: down } = await startFace(outage.ua, outage.facePage);
  t.equal(down.response.status, 503);
  t.match(down.html, /人脸识别服务暂不可用/);
  const cancel = formOf(down.html, '/abort');
  const toRp = await outage.ua.post(cancel.action, { csrf: cancel.csrf, reason: 'unavailable' });
  t.equal(new URL(toRp.redirectedTo!).searchParams.get('error'), 'temporarily_unavailable');
  t.same((await runtime.db.query('SELECT count(*)::int AS n FROM account_proofings WHERE account_id = $1', [wu.account.id])).rows, [{ n: 0 }], 'no partial account change');

  // 周晓梅: the vendor never finishes: a "processing" page, not a hang.
  const zhou = await buildCitizen(runtime, { name: '周晓梅', idNumber: '330106197805220126' });
  const slow = await upToFace(zhou);
  const { started: pending } = await startFace(slow.ua, slow.facePage);
  const transactionId = runtime.face && /\/capture\/([^/?]+)/.exec(pending.redirectedTo!)![1];
  await fetch(pending.redirectedTo!.replace(/\/capture\/.*/, `/capture/${transactionId}`), { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
  const uid = /\/interaction\/([A-Za-z0-9_-]+)\/face"/.exec(slow.facePage.html)![1];
  const waiting = await slow.ua.get(`/interaction/${uid}/face/return?transactionId=${transactionId}`);
  t.equal(waiting.response.status, 202);
  t.match(waiting.html, /尚未返回/);
});

t.test('face judgement: threshold edges, forged, replayed and stale callbacks, nonce binding, failure limits', async (t) => {
  const { runtime, issuer } = await startTestServer(t, { env: { FACE_MIN_SCORE: '81' } });
  const face = runtime.face!;
  const li = await buildCitizen(runtime, { name: '李四', idNumber: '440305199002281231' });
  const wang = await buildCitizen(runtime, { name: '王五', idNumber: '510107200002292462' });
  const attempt = async (account: { id: string; name: string; idNumber: string }, uid: string) => {
    const { captureUrl } = await face.start({ uid, accountId: account.id, name: account.name, idNumber: account.idNumber, ip: '10.0.0.1' });
    const back = await capture(captureUrl);
    return new URL(back!).searchParams.get('transactionId')!;
  };

  // Score 81 with threshold 81 passes (at the threshold); the same score with threshold 82 fails: see below.
  const tx = await attempt(li.account, 'uid-li-1');
  t.same(await face.complete({ uid: 'uid-li-1', accountId: li.account.id, transactionId: tx, ip: '10.0.0.1' }), { accountId: li.account.id, method: 'face', amr: ['face'] });
  await t.rejects(face.complete({ uid: 'uid-li-1', accountId: li.account.id, transactionId: tx, ip: '10.0.0.1' }), { code: 'face_attempt_unknown' }, 'single use');

  // Wrong transaction id for the attempt, and another account's attempt.
  const tx2 = await attempt(li.account, 'uid-li-2');
  await t.rejects(face.complete({ uid: 'uid-li-2', accountId: li.account.id, transactionId: 'x'.repeat(20), ip: '10.0.0.1' }), { code: 'face_attempt_unknown' });
  await t.rejects(face.complete({ uid: 'uid-li-2', accountId: wang.account.id, transactionId: tx2, ip: '10.0.0.1' }), { code: 'face_attempt_unknown' });

  // Callbacks: forged (wrong vendor secret), replayed, stale, and a result whose nonce is not the attempt's.
  const callback = async (headers: Record<string, string>, body: string) =>
    (await fetch(`${issuer}/callbacks/face`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })).status;
  const result = JSON.stringify({ transactionId: tx2, nonce: 'n'.repeat(32), status: 'completed', liveness: 'pass', score: 99, completedAt: new Date().toISOString() });
  const forged = signRequest({ appId: runtime.config.face.vendorAppId, secret: 'not-the-vendor-secret', method: 'POST', path: '/callbacks/face', body: result });
  t.equal(await callback(forged, result), 401, 'forged callback refused');
  const genuine = signRequest({ appId: runtime.config.face.vendorAppId, secret: runtime.config.face.vendorSecret, method: 'POST', path: '/callbacks/face', body: result });
  t.equal(await callback(genuine, result), 200, 'a correctly signed callback is accepted (and stored, not trusted)');
  t.equal(await callback(genuine, result), 401, 'replayed callback refused');
  const stale = signRequest({ appId: runtime.config.face.vendorAppId, secret: runtime.config.face.vendorSecret, method: 'POST', path: '/callbacks/face', body: result, now: () => Date.now() - 3_600_000 });
  t.equal(await callback(stale, result), 401, 'stale callback refused');
  await t.rejects(face.complete({ uid: 'uid-li-2', accountId: li.account.id, transactionId: tx2, ip: '10.0.0.1' }), { code: 'face_not_matched' },
    'a signed result with a nonce this server did not issue for the attempt does not count');
  const reasons = (await runtime.audit.list({ event: 'face.verify' })).map((e) => e.detail?.reason);
  t.ok(reasons.includes('wrong_nonce'));

  // Five failures in a row, then a growing delay; ten disable face until another factor succeeds.
  for (let i = 0; i < 5; i++) {
    const id = await attempt(wang.account, `uid-w-${i}`);
    await t.rejects(face.complete({ uid: `uid-w-${i}`, accountId: wang.account.id, transactionId: id, ip: '10.0.0.1' }), { code: 'face_not_matched' });
  }
  await t.rejects(face.start({ uid: 'uid-w-5', accountId: wang.account.id, name: wang.name, idNumber: wang.idNumber, ip: '10.0.0.1' }), { code: 'rate_limited', retryAfterSeconds: 30 }, '6th try must wait 30 s');
  await runtime.hot.set(`face:failures:${wang.account.id}`, '10', 60);
  t.equal(await face.isAvailable(wang.account.id), false, 'disabled after ten');
  await t.rejects(face.start({ uid: 'uid-w-6', accountId: wang.account.id, name: wang.name, idNumber: wang.idNumber, ip: '10.0.0.1' }), { code: 'face_disabled' });
  await face.clearFailures(wang.account.id);
  t.equal(await face.isAvailable(wang.account.id), true, 'another factor re-enables it');
});

t.test('threshold one above the score fails', async (t) => {
  const { runtime } = await startTestServer(t, { env: { FACE_MIN_SCORE: '82' } });
  const li = await buildCitizen(runtime, { name: '李四', idNumber: '440305199002281231' });
  const { captureUrl } = await runtime.face!.start({ uid: 'uid-1', accountId: li.account.id, name: li.name, idNumber: li.idNumber, ip: '10.0.0.2' });
  const tx = new URL((await capture(captureUrl))!).searchParams.get('transactionId')!;
  await t.rejects(runtime.face!.complete({ uid: 'uid-1', accountId: li.account.id, transactionId: tx, ip: '10.0.0.2' }), { code: 'face_not_matched' });
  t.equal((await runtime.audit.list({ event: 'face.verify' }))[0].detail?.reason, 'below_threshold');
});

t.test('face attempts are limited per IP and by a daily budget', async (t) => {
  const { runtime } = await startTestServer(t, { env: { FACE_PER_IP_PER_HOUR: '2', FACE_DAILY_BUDGET: '3' } });
  const zhang = await buildCitizen(runtime, { name: '张三', idNumber: '11010519491231002X' });
  const start = (uid: string, ip: string) => runtime.face!.start({ uid, accountId: zhang.account.id, name: zhang.name, idNumber: zhang.idNumber, ip });
  await start('a', '10.9.0.1');
  await start('b', '10.9.0.1');
  await t.rejects(start('c', '10.9.0.1'), { code: 'rate_limited' }, 'per-IP limit');
  await start('d', '10.9.0.2');
  await t.rejects(start('e', '10.9.0.3'), { code: 'face_budget_exhausted', status: 503 }, 'daily budget across all callers');
});
