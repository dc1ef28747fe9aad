import t from 'tap';
import * as client from 'openid-client';
import { startTestServer } from '../helpers/app.ts';
import { buildCitizen } from '../helpers/builders.ts';
import { latestCode, RP_CALLBACK } from '../helpers/oidc.ts';
import { createUserAgent, formOf } from '../helpers/user-agent.ts';

const ZHAO = { name: '赵六', idNumber: '310104198507160215', card: '6225880123456783', cardPhone: '+8613600136000' };

t.test('L3 by bank card where admins enabled the weaker variant: four elements, SMS to the reserved phone', async (t) => {
  const { runtime, issuer } = await startTestServer(t, { env: { BANK_CARD_FOR_L3: 'true', SMS_COOLDOWN_SECONDS: '1', BANK_CARD_PER_ACCOUNT_PER_DAY: '4', BANK_CARD_PER_CARD_PER_DAY: '6' } });
  const portal = await runtime.clients.create({ client_id: 'pension', client_name: '养老金领取', redirect_uris: [RP_CALLBACK], grant_types: ['authorization_code'], require_consent: false });
  await runtime.policies.set({ clientId: 'pension', minLevel: 'L3' }, { name: 'test' });
  const config = await client.discovery(new URL(issuer), 'pension', portal.client_secret!, client.ClientSecretBasic(portal.client_secret!), { execute: [client.allowInsecureRequests] });
  const verifier = client.randomPKCECodeVerifier();
  const zhao = await buildCitizen(runtime, { name: ZHAO.name, idNumber: ZHAO.idNumber });
  const wait = () => new Promise((resolve) => setTimeout(resolve, 1100));

  const ua = createUserAgent(issuer);
  const login = await ua.get(client.buildAuthorizationUrl(config, {
    redirect_uri: RP_CALLBACK, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's',
  }).toString());
  const form = formOf(login.html, '/login');
  const stepUp = await ua.post(form.action, { csrf: form.csrf, identifier: zhao.idNumber, password: zhao.password });
  const send = formOf(stepUp.html, '/step-up/sms/send');
  const sent = await ua.post(send.action, { csrf: send.csrf });
  const verify = formOf(sent.html, '/step-up/sms/verify');
  const choice = await ua.post(verify.action, { csrf: verify.csrf, code: latestCode(runtime, zhao.phone) });
  t.match(choice.html, /还需完成：人脸识别 或 银行卡核验/, 'face or bank card offered side by side');
  const bankLink = /href="(\/interaction\/[^"]+\/bank)"/.exec(choice.html)![1];
  const bankPage = await ua.get(bankLink);
  t.match(bankPage.html, /不保存完整卡号/);

  const check = async (card_number: string, phone: string) => {
    const f = formOf(bankPage.html, '/bank/check');
    return ua.post(f.action, { csrf: f.csrf, card_number, phone });
  };
  // Local checks first: a bad check digit is named precisely, nothing is sent to the card network.
  const luhn = await check('6225880123456784', ZHAO.cardPhone.slice(3));
  t.equal(luhn.response.status, 400);
  t.match(luhn.html, /银行卡号无效/);
  // A wrong reserved phone: the same generic refusal as any other mismatch.
  const mismatch = await check(ZHAO.card, '13600136001');
  t.equal(mismatch.response.status, 401);
  t.match(mismatch.html, /银行卡核验未通过。/);
  t.equal(/<p class="error" role="alert">([^<]*)</.exec(mismatch.html)![1], '银行卡核验未通过。', 'never which element mismatched');

  await wait();
  const matched = await check(`${ZHAO.card.slice(0, 4)} ${ZHAO.card.slice(4, 8)} ${ZHAO.card.slice(8, 12)} ${ZHAO.card.slice(12)}`, ZHAO.cardPhone.slice(3));
  t.equal(matched.response.status, 200);
  t.match(matched.html, /6225 \*\*\*\* \*\*\*\* 6783/, 'the card is shown masked');
  const confirm = formOf(matched.html, '/bank/confirm');
  const wrong = await ua.post(confirm.action, { csrf: confirm.csrf, code: latestCode(runtime, ZHAO.cardPhone) === '000000' ? '111111' : '000000' });
  t.equal(wrong.response.status, 401, 'a wrong code can be retried');
  const done = await ua.post(formOf(wrong.html, '/bank/confirm').action, { csrf: confirm.csrf, code: latestCode(runtime, ZHAO.cardPhone) });
  t.ok(done.redirectedTo?.startsWith(RP_CALLBACK));
  const tokens = await client.authorizationCodeGrant(config, new URL(done.redirectedTo!), { pkceCodeVerifier: verifier, expectedState: 's' });
  t.equal(tokens.claims()!.acr, `${issuer}/acr/L3`);
  t.same(tokens.claims()!.amr, ['pwd', 'sms', 'otp', 'bank', 'mfa']);

  // Stored: BIN, last four and a keyed hash; never the full number, nowhere.
  const { rows } = await runtime.db.query('SELECT proofing, evidence FROM account_proofings WHERE account_id = $1', [zhao.account.id]);
  t.equal(rows[0].proofing, 'bank_verified');
  t.match(rows[0].evidence, { bin: '622588', last4: '6783', cardHash: /^[0-9a-f]{64}$/ });
  const everything = JSON.stringify((await runtime.db.query('SELECT * FROM account_proofings')).rows) + JSON.stringify((await runtime.db.query('SELECT * FROM audit_events')).rows);
  t.notOk(everything.includes(ZHAO.card), 'the full card number is stored nowhere (proofing, audit)');
  const attempts = await runtime.audit.list({ event: 'bank_card.verify' });
  t.same(attempts.map((e) => `${e.result}:${e.detail?.reason ?? e.detail?.step}`).reverse(), ['failure:mismatch', 'success:four_elements', 'failure:invalid_code', 'success:reserved_phone']);

  // Per-account limit (4 a day here): the two checks that reached the card network count; two more, then refused.
  const direct = (phone: string) => runtime.bankCard!.checkCard({ uid: 'later', account: zhao.account, cardNumber: ZHAO.card, phone, ip: '10.2.2.2' });
  await t.rejects(direct('13600136009'), { code: 'bank_card_not_verified' });
  await t.rejects(direct('13600136008'), { code: 'bank_card_not_verified' });
  await t.rejects(direct(ZHAO.cardPhone), { code: 'rate_limited' }, 'per-account daily limit, even with the right details');

  // Per-card limit (6 a day here; 赵六 used 4): someone else trying 赵六's card is stopped at the limit.
  const other = await buildCitizen(runtime);
  const tryCard = (i: number) => runtime.bankCard!.checkCard({ uid: `o${i}`, account: other.account, cardNumber: ZHAO.card, phone: ZHAO.cardPhone, ip: `10.3.3.${i}` });
  await t.rejects(tryCard(1), { code: 'bank_card_not_verified' });
  await t.rejects(tryCard(2), { code: 'bank_card_not_verified' });
  await t.rejects(tryCard(3), { code: 'rate_limited' }, 'per-card daily limit across accounts');
});

t.test('bank card is not offered for L3 unless the weaker variant is enabled; outage is a clear error', async (t) => {
  const { runtime, issuer } = await startTestServer(t, { env: { FACE_SERVICE_ENABLED: 'false', SMS_COOLDOWN_SECONDS: '1' } });
  const portal = await runtime.clients.create({ client_id: 'pension', redirect_uris: [RP_CALLBACK], grant_types: ['authorization_code'], require_consent: false });
  await runtime.policies.set({ clientId: 'pension', minLevel: 'L3' }, { name: 'test' });
  const citizen = await buildCitizen(runtime);
  const config = await client.discovery(new URL(issuer), 'pension', portal.client_secret!, client.ClientSecretBasic(portal.client_secret!), { execute: [client.allowInsecureRequests] });
  const ua = createUserAgent(issuer);
  const login = await ua.get(client.buildAuthorizationUrl(config, {
    redirect_uri: RP_CALLBACK, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256', state: 's',
  }).toString());
  const form = formOf(login.html, '/login');
  const page = await ua.post(form.action, { csrf: form.csrf, identifier: citizen.idNumber, password: citizen.password });
  t.match(page.html, /无法达到所需的认证级别/, 'no face service and no bank variant: L3 is out of reach');

  // Outage at the card network (孙七's test card), directly through the service.
  const { runtime: r2 } = await startTestServer(t, { env: { BANK_CARD_FOR_L3: 'true' } });
  const sun = await buildCitizen(r2, { name: '孙七', idNumber: '320102199211030343' });
  await t.rejects(r2.bankCard!.checkCard({ uid: 'u1', account: sun.account, cardNumber: '6228480088123405677', phone: '13500135000', ip: '10.1.1.1' }),
    { code: 'bank_card_unavailable', status: 503 });
  t.same((await r2.db.query('SELECT count(*)::int AS n FROM account_proofings')).rows, [{ n: 0 }], 'no partial account change');
});
