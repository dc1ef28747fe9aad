import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import type { Runtime } from '../../src/bootstrap/runtime.ts';
import { ensureConsoleClient, registerConsoleRoutes } from '../../src/console/routes.ts';
import { createTestRuntime, freePort } from '../helpers/runtime.ts';

type Teardown = { teardown(fn: () => unknown): void };

/**
 * Like startTestServer, with the console routes added before the app listens (fastify refuses routes
 * afterwards), unless buildApp already registers them.
 */
export async function startConsoleServer(t: Teardown, env: Record<string, string> = {}): Promise<{ runtime: Runtime; app: FastifyInstance; issuer: string }> {
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  const runtime = await createTestRuntime(t, { env: { ISSUER: issuer, PORT: String(port), ...env } });
  const app = await buildApp(runtime, { logger: false });
  t.teardown(() => app.close());
  await ensureConsoleClient(runtime, issuer);
  if (!app.hasRoute({ method: 'GET', url: '/console/login' })) await registerConsoleRoutes(app, { runtime, issuer, cookieSecret: runtime.config.cookieSecrets[0], minLevel: runtime.config.adminConsoleLevel });
  await app.listen({ port, host: '127.0.0.1' });
  return { runtime, app, issuer };
}

export async function grantRoles(runtime: Runtime, accountId: string, roles: readonly string[]) {
  await runtime.db.query('UPDATE accounts SET roles = $2 WHERE id = $1', [accountId, roles]);
}
