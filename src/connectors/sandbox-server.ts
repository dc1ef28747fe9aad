import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { createNonceCache, isLoopbackHost, verifySignedRequest } from './signed-http.ts';

export type SandboxReply = { status: number; body: Record<string, unknown> };

export type SandboxRoute = {
  path: string;
  /** Called only for a correctly signed request whose body is JSON. */
  handle(body: unknown): SandboxReply;
};

export type RunningSandbox = { url: string; close(): Promise<void> };

export const invalidRequest = (description: string): SandboxReply => ({
  status: 400,
  body: { error: 'invalid_request', error_description: description },
});

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Shared HTTP server of the sandboxes: loopback only, raw body kept for the signature, every request
 * checked with verifySignedRequest before the route sees it.
 */
export async function startSignedSandbox(options: {
  appId: string;
  secret: string;
  host?: string;
  port?: number;
  routes: readonly SandboxRoute[];
}): Promise<RunningSandbox> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) throw new Error('a sandbox connector listens on a loopback address only');
  if (!options.appId || !options.secret) throw new Error('a sandbox connector needs an app id and a secret');

  const nonces = createNonceCache();
  const secretFor = (appId: string) => (appId === options.appId ? options.secret : undefined);
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });

  // The signature covers the exact bytes, so no parser may touch the body before it is verified.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'not_found' }));
  app.setErrorHandler((error: { statusCode?: number }, _request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    return reply.code(status).send({ error: status < 500 ? 'invalid_request' : 'server_error' });
  });

  for (const route of options.routes) {
    app.post(route.path, async (request, reply) => {
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const verdict = verifySignedRequest({ method: request.method, path: request.url, headers: request.headers, body: raw, secretFor, nonces });
      if (!verdict.ok) return reply.code(401).send({ error: verdict.error });

      const contentType = request.headers['content-type']?.split(';')[0].trim().toLowerCase();
      if (contentType !== 'application/json') {
        const rejected = invalidRequest('content-type must be application/json');
        return reply.code(rejected.status).send(rejected.body);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch {
        const rejected = invalidRequest('the body is not valid JSON');
        return reply.code(rejected.status).send(rejected.body);
      }
      const result = route.handle(parsed);
      return reply.code(result.status).send(result.body);
    });
  }

  await app.listen({ host, port: options.port ?? 0 });
  const address = app.server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${urlHost}:${address.port}`,
    close: async () => {
      await app.close();
    },
  };
}
