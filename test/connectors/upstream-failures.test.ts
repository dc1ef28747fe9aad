import { createServer } from 'node:http';
import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { ConnectorError } from '../../src/connectors/errors.ts';
import type { ConnectorErrorCode } from '../../src/connectors/errors.ts';
import { createHttpPopulationRegister } from '../../src/connectors/population-register/http-client.ts';
import { createHttpSmsGateway } from '../../src/connectors/sms/http-gateway-client.ts';

// Both real clients against upstreams that misbehave at the HTTP level.

async function startStub(listener: RequestListener): Promise<{ url: string; close(): void }> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

async function closedPortUrl(): Promise<string> {
  const stub = await startStub(() => {});
  stub.close();
  return stub.url;
}

const clients = {
  'sms-gateway': (url: string, timeoutMs: number) =>
    createHttpSmsGateway({ url, appId: 'gov-idp', secret: 'secret', timeoutMs }).send({
      to: '+8613800138000',
      template: 'otp_login',
      params: { code: '123456', minutes: '5' },
      text: '验证码 123456，5 分钟内有效。',
    }),
  'population-register': (url: string, timeoutMs: number) =>
    createHttpPopulationRegister({ url, appId: 'gov-idp', secret: 'secret', timeoutMs }).verifyIdentity({
      name: '张三',
      idNumber: '11010519491231002X',
    }),
};

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

t.test('upstream failures map to ConnectorError codes', async (t) => {
  const silent = await startStub(() => {
    // Never answers.
  });
  const unavailable = await startStub((_request, response) => {
    response.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"maintenance"}');
  });
  const html = await startStub((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Service portal</body></html>');
  });
  const wrongShape = await startStub((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":"yes"}');
  });
  t.teardown(() => {
    for (const stub of [silent, unavailable, html, wrongShape]) stub.close();
  });
  const closed = await closedPortUrl();

  for (const [connector, call] of Object.entries(clients)) {
    t.test(connector, async (t) => {
      const expectFailure = async (promise: Promise<unknown>, code: ConnectorErrorCode) => {
        const error = await failureOf(promise);
        t.ok(error instanceof ConnectorError, 'throws a ConnectorError');
        t.equal((error as ConnectorError).code, code);
        t.equal((error as ConnectorError).connector, connector);
        t.notMatch((error as ConnectorError).message, /13800138000|11010519491231002X|张三/, 'no personal data in the message');
      };
      const started = Date.now();
      await expectFailure(call(silent.url, 200), 'timeout');
      t.ok(Date.now() - started < 2000, 'gives up after about timeoutMs');
      await expectFailure(call(unavailable.url, 2000), 'unavailable');
      await expectFailure(call(closed, 2000), 'unavailable');
      await expectFailure(call(html.url, 2000), 'bad_response');
      await expectFailure(call(wrongShape.url, 2000), 'bad_response');
    });
  }
});

t.test('clients refuse plain http to a non-loopback host', async (t) => {
  t.throws(() => createHttpSmsGateway({ url: 'http://sms.example.gov.cn', appId: 'a', secret: 's', timeoutMs: 1000 }));
  t.throws(() => createHttpPopulationRegister({ url: 'http://register.example.gov.cn', appId: 'a', secret: 's', timeoutMs: 1000 }));
});
