import t from 'tap';
import { startTestServer } from '../helpers/app.ts';
import { buildCitizen, buildPhone } from '../helpers/builders.ts';
import { authorizeUrl, latestCode, registerPortal, RP_CALLBACK } from '../helpers/oidc.ts';
import { createUserAgent, formOf } from '../helpers/user-agent.ts';

t.test('SMS login: code delivery, single use, expiry, 5 tries then void, and send limits', async (t) => {
  let now = Date.now();
  const { runtime, issuer } = await startTestServer(t, { clock: () => new Date(now), env: { SMS_COOLDOWN_SECONDS: '1' } });
  await registerPortal(runtime, { require_consent: false });
  const citizen = await buildCitizen(runtime);
  const national = citizen.phone.slice(3);
  const outboxSize = () => runtime.sandboxSms!.outbox().length;

  async function startSms(ua = createUserAgent(issuer)) {
    const login = await ua.get(authorizeUrl(issuer, { prompt: 'login' }));
    const uid = /\/interaction\/([^/"?]+)/.exec(login.url)![1];
    const page = await ua.get(`/interaction/${uid}/sms`);
    return { ua, uid, page };
  }
  async function send(session: Awaited<ReturnType<typeof startSms>>, phone: string) {
    const form = formOf(session.page.html, '/sms/send');
    return session.ua.post(form.action, { csrf: form.csrf, phone });
  }
  async function verify(session: Awaited<ReturnType<typeof startSms>>, html: string, phone: string, code: string) {
    const form = formOf(html, '/sms/verify');
    return session.ua.post(form.action, { csrf: form.csrf, phone, code });
  }
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  // Happy path.
  const s1 = await startSms();
  const sent = await send(s1, national);
  t.equal(sent.response.status, 200);
  t.match(sent.html, new RegExp(`${national.slice(0, 3)}\\*\\*\\*\\*${national.slice(-4)}`), 'the page shows the masked number');
  const code = latestCode(runtime, citizen.phone);
  t.match(code, /^\d{6}$/);
  const ok = await verify(s1, sent.html, national, code);
  t.ok(ok.redirectedTo?.startsWith(`${RP_CALLBACK}?code=`), 'SMS login succeeds');

  // Reused code: single use.
  await wait(1100);
  const s2 = await startSms();
  const sent2 = await send(s2, national);
  const code2 = latestCode(runtime, citizen.phone);
  t.ok((await verify(s2, sent2.html, national, code2)).redirectedTo);
  const s2b = await startSms(s2.ua);
  const reused = await verify(s2b, s2b.page.html.replace('/sms/send', '/sms/verify'), national, code2);
  t.equal(reused.response.status, 401, 'a used code is refused');

  // A code is bound to its login: another interaction cannot use it.
  await wait(1100);
  const s3 = await startSms();
  const sent3 = await send(s3, national);
  const code3 = latestCode(runtime, citizen.phone);
  const other = await startSms();
  const foreign = await verify(other, other.page.html.replace('/sms/send', '/sms/verify'), national, code3);
  t.equal(foreign.response.status, 401, 'a code from another login is refused');
  t.match(foreign.html, /验证码已过期或已使用/);

  // Wrong codes: 4 × invalid, the 5th wrong one voids the code, and then even the right code fails.
  const wrongCode = code3 === '000000' ? '111111' : '000000';
  for (let i = 1; i <= 4; i++) {
    const r = await verify(s3, sent3.html, national, wrongCode);
    t.equal(r.response.status, 401);
    t.match(r.html, /验证码错误。/, `try ${i}: invalid code`);
  }
  const fifth = await verify(s3, sent3.html, national, wrongCode);
  t.match(fifth.html, /错误次数过多/, '5th wrong try voids the code');
  const sixth = await verify(s3, sent3.html, national, code3);
  t.equal(sixth.response.status, 401);
  t.notOk(sixth.redirectedTo, '6th try with the right code still fails');

  // Expiry: the injected clock moves past 5 minutes.
  await wait(1100);
  const s4 = await startSms();
  const sent4 = await send(s4, national);
  const code4 = latestCode(runtime, citizen.phone);
  now += 301_000;
  const expired = await verify(s4, sent4.html, national, code4);
  t.equal(expired.response.status, 401);
  t.match(expired.html, /验证码已过期/, 'expired code refused');
  now = Date.now();

  // Unregistered number: same answer, nothing delivered.
  await wait(1100);
  const before = outboxSize();
  const s5 = await startSms();
  const stranger = buildPhone();
  const unregistered = await send(s5, stranger.slice(3));
  t.equal(unregistered.response.status, 200);
  t.match(unregistered.html, /如果该号码已注册/);
  t.equal(outboxSize(), before, 'no SMS is sent to a number without an account');

  // Only mainland mobile numbers; refused without sending.
  for (const phone of ['+1 415 555 2671', '010-12345678', '1380013800', 'abc']) {
    const s = await startSms();
    const r = await send(s, phone);
    t.equal(r.response.status, 400, `${phone} refused`);
    t.match(r.html, /仅支持中国大陆手机号码/);
  }
  t.equal(outboxSize(), before, 'nothing sent for refused numbers');

  // Cool-down per phone: a second send within the window is refused.
  await wait(1100);
  const s6 = await startSms();
  t.equal((await send(s6, national)).response.status, 200);
  const again = await send(s6, national);
  t.equal(again.response.status, 429, 'cool-down per phone');
  t.match(again.html, /操作过于频繁/);

  const sms = await runtime.audit.list({ event: 'sms.sent' });
  t.ok(sms.length >= 5, 'SMS sends audited');
  t.notOk(sms.some((e) => e.actor?.includes(national)), 'audit holds masked phones only');
});

t.test('SMS send limits per IP and globally', async (t) => {
  const { runtime, issuer } = await startTestServer(t, { env: { SMS_PER_IP_PER_HOUR: '2', SMS_COOLDOWN_SECONDS: '1' } });
  await registerPortal(runtime);
  const ua = createUserAgent(issuer);
  const login = await ua.get(authorizeUrl(issuer));
  const uid = /\/interaction\/([^/"?]+)/.exec(login.url)![1];
  const page = await ua.get(`/interaction/${uid}/sms`);
  const form = formOf(page.html, '/sms/send');
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await ua.post(form.action, { csrf: form.csrf, phone: buildPhone() })).response.status);
  t.same(statuses, [200, 200, 429], 'the third send from one IP within the hour is refused');
});
