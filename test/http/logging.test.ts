import t from 'tap';
import { Writable } from 'node:stream';
import { buildApp } from '../../src/app.ts';
import { loggerOptions } from '../../src/http/logging.ts';
import { createTestRuntime } from '../helpers/runtime.ts';

t.test('logs never carry ID numbers, phones, passwords, codes or tokens', async (t) => {
  const runtime = await createTestRuntime(t);
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, done) { lines.push(chunk.toString()); done(); } });
  const app = await buildApp(runtime, { logger: { ...loggerOptions('debug'), stream } });
  t.teardown(() => app.close());

  await app.inject({ method: 'POST', url: '/interaction/abcdefghijkl/login', payload: 'csrf=x&identifier=11010519491231002X&password=Secret-pass-1', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: 'idp_session=abc' } });
  await app.inject({ method: 'GET', url: '/auth?client_id=x&login_hint=13800138000&code=123456', headers: { authorization: 'Bearer tok3n-value' } });
  app.log.info({ idNumber: '11010519491231002X', phone: '+8613800138000', body: { password: 'p4ss', code: '654321' } }, 'a careless log line');

  const log = lines.join('');
  t.ok(log.length > 0, 'something was logged');
  for (const secret of ['11010519491231002X', '13800138000', 'Secret-pass-1', 'p4ss', '654321', '123456', 'tok3n-value', 'idp_session=abc']) {
    t.notOk(log.includes(secret), `log does not contain ${secret.slice(0, 4)}…`);
  }
  t.match(log, /\[redacted\]/);
});
