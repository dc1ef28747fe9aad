import { AppError } from '../http/errors.ts';
import type { Runtime } from './runtime.ts';
import { seedDemoCa } from './demo-ca.ts';

/**
 * Fixed development-only fixtures, so a newcomer can sign in to the demo portal within a minute.
 * Never loaded in production (loadConfig refuses DEMO_DATA there).
 */
export const DEMO_PASSWORD = 'Demo@2026pass';

/** 张三 and 李四 also hold admin-console roles (policy admin, auditor): development only. */
export const DEMO_CITIZENS = [
  { name: '张三', idNumber: '11010519491231002X', phone: '+8613800138000', roles: ['policy_admin', 'client_admin'] },
  { name: '李四', idNumber: '440305199002281231', phone: '+8613900139000', roles: ['auditor'] },
  { name: '王五', idNumber: '510107200002292462', phone: '+8613700137000', roles: [] },
] as const;

export const DEMO_ADMIN_CLIENT = { clientId: 'dev-admin', clientSecret: 'dev-admin-secret' } as const;

export async function seedDemoData(runtime: Runtime): Promise<void> {
  const { issuer } = runtime.config;
  const demoPortal = {
    client_id: 'demo-portal',
    client_name: '演示门户 Demo portal',
    redirect_uris: [`${issuer}/demo/callback`],
    post_logout_redirect_uris: [`${issuer}/demo/`],
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    backchannel_logout_uri: `${issuer}/demo/backchannel-logout`,
    backchannel_logout_session_required: true,
    scope: 'openid profile phone offline_access',
  };
  const devAdmin = {
    client_id: DEMO_ADMIN_CLIENT.clientId,
    client_name: 'Development admin CLI',
    redirect_uris: [],
    grant_types: ['client_credentials'],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'admin',
  };
  await upsertClient(runtime, demoPortal, 'demo-portal-secret');
  await upsertClient(runtime, devAdmin, DEMO_ADMIN_CLIENT.clientSecret);

  for (const citizen of DEMO_CITIZENS) {
    try {
      await runtime.accounts.register({ ...citizen, password: DEMO_PASSWORD, ip: '127.0.0.1' });
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'already_registered')) throw error;
    }
  }
  await seedDemoCa(runtime);
}

/** Creates the client, or brings an existing one up to date (a restart on another PORT or ISSUER moves its URIs). */
async function upsertClient(runtime: Runtime, metadata: Record<string, unknown> & { client_id: string }, secret: string) {
  try {
    await runtime.clients.create(metadata, { clientSecret: secret });
  } catch (error) {
    if (!(error instanceof AppError && error.code === 'conflict')) throw error;
    await runtime.clients.update(metadata.client_id, metadata);
  }
}
