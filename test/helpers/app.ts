import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import type { Runtime } from '../../src/bootstrap/runtime.ts';
import { createTestRuntime, freePort } from './runtime.ts';

type Teardown = { teardown(fn: () => unknown): void };

export async function createTestApp(t: Teardown, options: { env?: Record<string, string>; clock?: () => Date } = {}): Promise<{ runtime: Runtime; app: FastifyInstance }> {
  const runtime = await createTestRuntime(t, options);
  const app = await buildApp(runtime, { logger: false });
  t.teardown(() => app.close());
  return { runtime, app };
}

/** An app listening on a real port whose issuer is that port, for relying-party libraries and browsers. */
export async function startTestServer(t: Teardown, options: { env?: Record<string, string>; clock?: () => Date } = {}) {
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const { runtime, app } = await createTestApp(t, { ...options, env: { ISSUER: issuer, PORT: String(port), ...options.env } });
  await app.listen({ port, host: '127.0.0.1' });
  return { runtime, app, issuer, port };
}
