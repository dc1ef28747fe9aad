import t from 'tap';
import { startTestServer } from '../helpers/app.ts';
import { buildCitizen, buildPhone, buildUnregisteredIdNumber, nextRegisterCitizen } from '../helpers/builders.ts';
import { authorizeUrl, latestCode, registerPortal, RP_CALLBACK } from '../helpers/oidc.ts';
import { createUserAgent, formOf } from '../helpers/user-agent.ts';

t.test('registration: name + ID number + SMS-verified phone + password, with every refusal writing nothing', async (t) => {
  const { runtime, issuer } = await startTestServer(t, { env: { SMS_COOLDOWN_SECONDS: '1' } });
  await registerPortal(runtime, { require_consent: false });
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  async function startRegistration() {
    const ua = createUserAgent(issuer);
    const login = await ua.get(authorizeUrl(issuer));
    const uid = /\/interaction\/([^/"?]+)/.exec(login.url)![1];
    const page = await ua.get(`/interaction/${uid}/register`);
    return { ua, page };
  }
  async function step1(fields: { name: string; id_number: string; phone: string }) {
    const session = await startRegistration();
    const form = formOf(session.page.html, '/register/send-code');
    return { ...session, result: await session.ua.post(form.action, { csrf: form.csrf, ...fields }) };
  }
  async function step2(session: { ua: ReturnType<typeof createUserAgent>; result: { html: string } }, fields: { code: string; password: string; password_confirm?: string }) {
    const form = formOf(session.result.html, '/register/complete');
    return session.ua.post(form.action, { csrf: form.csrf, password_confirm: fields.password, ...fields });
  }
  const accounts = () => runtime.accounts.count();

  // Bad inputs at step 1: precise messages, nothing stored, nothing sent.
  const person = nextRegisterCitizen();
  const phone = buildPhone();
  const outbox = runtime.sandboxSms!.outbox().length;
  for (const [label, fields, message] of [
    ['wrong check digit', { name: person.name, id_number: '110105194912310020', phone }, /校验码|check/i],
    ['impossible birth date', { name: person.name, id_number: '110105199002301231', phone }, /出生日期|birth/i],
    ['unknown province', { name: person.name, id_number: '990105199001011236', phone }, /省|province/i],
    ['future birth date', { name: person.name, id_number: '110105209912311232', phone }, /出生日期|birth/i],
    ['foreign phone', { name: person.name, id_number: person.idNumber, phone: '+44 7700 900123' }, /仅支持中国大陆手机号码/],
    ['one-character name', { name: '张', id_number: person.idNumber, phone }, /姓名应为/],
  ] as const) {
    const { result } = await step1(fields);
    t.equal(result.response.status, 400, `${label}: 400`);
    t.match(result.html, message, `${label}: says what is wrong`);
  }
  t.equal(runtime.sandboxSms!.outbox().length, outbox, 'no SMS for refused input');

  // Name and ID number that do not match the register: refused without saying which, nothing written.
  const s1 = await step1({ name: '王二', id_number: person.idNumber, phone });
  t.equal(s1.result.response.status, 200, 'format is fine: a code is sent');
  await wait(1100);
  const mismatch = await step2(s1, { code: latestCode(runtime, phone), password: 'Tea-garden-2026' });
  t.equal(mismatch.response.status, 400);
  t.match(mismatch.html, /姓名与身份证号码核验未通过/);
  t.equal(await accounts(), 0, 'no account written');
  const unlisted = await step1({ name: person.name, id_number: buildUnregisteredIdNumber(), phone });
  await wait(1100);
  t.equal((await step2(unlisted, { code: latestCode(runtime, phone), password: 'Tea-garden-2026' })).response.status, 400);

  // Wrong code and password problems.
  const s2 = await step1({ name: person.name, id_number: person.idNumber.toLowerCase(), phone: ` ${phone.slice(3)} ` });
  const wrongCode = await step2(s2, { code: latestCode(runtime, phone) === '000000' ? '111111' : '000000', password: 'Tea-garden-2026' });
  t.equal(wrongCode.response.status, 401);
  t.match(wrongCode.html, /验证码错误/);
  const mismatchPw = await step2(s2, { code: latestCode(runtime, phone), password: 'Tea-garden-2026', password_confirm: 'Tea-garden-2027' });
  t.match(mismatchPw.html, /两次输入的密码不一致/);
  for (const [password, message] of [
    ['short', /至少需要 8 个字符/],
    [`a${person.idNumber.slice(-6)}bcd`, /不能包含身份证号码/],
    [`pw${phone.slice(-8)}`, /不能包含手机号码/],
    ['password123', /过于常见/],
  ] as const) {
    await wait(1100);
    const s = await step1({ name: person.name, id_number: person.idNumber, phone });
    const weak = await step2(s, { code: latestCode(runtime, phone), password });
    t.equal(weak.response.status, 400, `weak password "${password}" refused`);
    t.match(weak.html, message);
  }
  t.equal(await accounts(), 0, 'still no account');

  // Success: registered and signed in.
  await wait(1100);
  const good = await step1({ name: person.name, id_number: person.idNumber, phone });
  const done = await step2(good, { code: latestCode(runtime, phone), password: 'Tea-garden-2026' });
  t.ok(done.redirectedTo?.startsWith(`${RP_CALLBACK}?code=`), 'registration signs the person in');
  t.equal(await accounts(), 1);

  // The stored row holds no clear personal data.
  const { rows } = await runtime.db.query('SELECT * FROM accounts');
  const stored = JSON.stringify(rows[0]);
  t.notOk(stored.includes(person.idNumber), 'ID number not stored in clear');
  t.notOk(stored.includes(phone.slice(3)), 'phone not stored in clear');
  t.notOk(stored.includes(person.name), 'name not stored in clear');
  t.equal(rows[0].id_number_masked, `${person.idNumber.slice(0, 4)}**********${person.idNumber.slice(-4)}`);
  t.match(rows[0].password_hash, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);

  // Registering the same ID number again is refused.
  await wait(1100);
  const dup = await step1({ name: person.name, id_number: person.idNumber, phone: buildPhone() });
  const phone2 = /\d{3}\*{4}\d{4}/.exec(dup.result.html)![0];
  const dupPhone = runtime.sandboxSms!.outbox()[0].to;
  t.equal(`${dupPhone.slice(3, 6)}****${dupPhone.slice(-4)}`, phone2);
  const dupDone = await step2(dup, { code: latestCode(runtime, dupPhone), password: 'Tea-garden-2026' });
  t.equal(dupDone.response.status, 409);
  t.match(dupDone.html, /已注册/);
  t.equal(await accounts(), 1);

  const refused = await runtime.audit.list({ event: 'account.registration_refused' });
  t.ok(refused.some((e) => e.detail?.reason === 'identity_not_confirmed'));
  t.ok(refused.some((e) => e.detail?.reason === 'already_registered'));
});

t.test('registration service refuses bad ID numbers before anything is stored', async (t) => {
  const { runtime } = await startTestServer(t);
  await t.rejects(buildCitizen(runtime, { name: '张三', idNumber: '110105194912310020' }), { code: 'invalid_id_number', detail: { reason: 'check_digit' } });
  t.equal(await runtime.accounts.count(), 0);
});
