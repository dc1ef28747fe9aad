import t from 'tap';
import { Redis } from 'ioredis';
import { startTestServer } from '../helpers/app.ts';
import { hasRedis } from '../helpers/runtime.ts';
import { buildCitizen } from '../helpers/builders.ts';
import { authorizeUrl, registerPortal, RP_CALLBACK } from '../helpers/oidc.ts';
import { createUserAgent, formOf } from '../helpers/user-agent.ts';

async function login(ua: ReturnType<typeof createUserAgent>, issuer: string, citizen: { idNumber: string; password: string }) {
  const page = await ua.get(authorizeUrl(issuer));
  const form = formOf(page.html, '/login');
  return ua.post(form.action, { csrf: form.csrf, identifier: citizen.idNumber, password: citizen.password });
}

async function sessionExpiry(runtime: { db: { query: Function } }) {
  const { rows } = await runtime.db.query("SELECT extract(epoch FROM expires_at - now())::int AS left FROM oidc_payloads WHERE model = 'Session'");
  return rows.map((r: { left: number }) => r.left);
}

t.test('sessions: idle limit, absolute limit, and expiry forces a new login', async (t) => {
  const { runtime, issuer } = await startTestServer(t, { env: { SESSION_IDLE_SECONDS: '1800', SESSION_ABSOLUTE_SECONDS: '43200' } });
  await registerPortal(runtime, { require_consent: false });
  const citizen = await buildCitizen(runtime);
  const ua = createUserAgent(issuer);
  t.ok((await login(ua, issuer, citizen)).redirectedTo?.startsWith(RP_CALLBACK));
  const [left] = await sessionExpiry(runtime);
  t.ok(left > 1790 && left <= 1800, `the session lives for the idle limit (30 min), not 14 days: ${left}s`);

  // Time passes beyond the idle limit (the row's expiry is moved into the past): a fresh login is required.
  await runtime.db.query("UPDATE oidc_payloads SET expires_at = now() - interval '1 second' WHERE model = 'Session'");
  const after = await ua.get(authorizeUrl(issuer));
  t.equal(after.response.status, 200);
  t.match(after.html, /name="password"/, 'an idle-expired session asks for the password again');
});

t.test('the absolute limit caps the idle extension', async (t) => {
  const { runtime, issuer } = await startTestServer(t, { env: { SESSION_IDLE_SECONDS: '3600', SESSION_ABSOLUTE_SECONDS: '600' } });
  await registerPortal(runtime, { require_consent: false });
  const citizen = await buildCitizen(runtime);
  const ua = createUserAgent(issuer);
  await login(ua, issuer, citizen);
  const [left] = await sessionExpiry(runtime);
  t.ok(left > 590 && left <= 600, `absolute limit wins over idle: ${left}s`);
  // Using the session again does not push it past the absolute limit.
  t.ok((await ua.get(authorizeUrl(issuer))).redirectedTo?.startsWith(RP_CALLBACK), 'SSO');
  const [again] = await sessionExpiry(runtime);
  t.ok(again <= 600, `still within the absolute limit after use: ${again}s`);
});

t.test('losing Redis costs in-flight logins only: sessions, grants and refresh tokens are in PostgreSQL', { skip: hasRedis ? false : 'REDIS_URL is not set: this checks what survives a Redis flush' }, async (t) => {
  const { runtime, issuer } = await startTestServer(t);
  await registerPortal(runtime, { require_consent: false });
  const citizen = await buildCitizen(runtime);
  const ua = createUserAgent(issuer);
  t.ok((await login(ua, issuer, citizen)).redirectedTo);
  const inFlight = createUserAgent(issuer);
  const pending = await inFlight.get(authorizeUrl(issuer));
  const pendingForm = formOf(pending.html, '/login');

  // Simulate a Redis restart: drop every key this test's runtime wrote.
  const redis = new Redis(process.env.REDIS_URL!);
  t.teardown(() => redis.quit());
  const prefix = (runtime.hot as unknown as { client: { options: { keyPrefix: string } } }).client.options.keyPrefix;
  const keys = await redis.keys(`${prefix}*`);
  t.ok(keys.length > 0, 'the login left hot state in Redis');
  await redis.del(...keys);

  const sso = await ua.get(authorizeUrl(issuer));
  t.ok(sso.redirectedTo?.startsWith(RP_CALLBACK), 'the SSO session survived the Redis loss');
  const lost = await inFlight.post(pendingForm.action, { csrf: pendingForm.csrf, identifier: citizen.idNumber, password: citizen.password });
  t.equal(lost.response.status, 400, 'an in-flight login is lost and says so');
  t.match(lost.html, /登录会话已过期或无效/);
});
