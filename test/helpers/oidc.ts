import { createHash, randomBytes } from 'node:crypto';
import type { Runtime } from '../../src/bootstrap/runtime.ts';

export const RP_CALLBACK = 'https://portal.example.gov.cn/callback';

export async function registerPortal(runtime: Runtime, overrides: Record<string, unknown> = {}) {
  return runtime.clients.create({
    client_id: 'portal',
    client_name: '测试门户',
    redirect_uris: [RP_CALLBACK],
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    ...overrides,
  });
}

export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** An authorization request URL; pass `null` to leave a parameter out. */
export function authorizeUrl(issuer: string, params: Record<string, string | null> = {}) {
  const { challenge } = pkcePair();
  const defaults: Record<string, string | null> = {
    client_id: 'portal', redirect_uri: RP_CALLBACK, response_type: 'code', scope: 'openid profile',
    state: randomBytes(8).toString('hex'), nonce: randomBytes(8).toString('hex'), code_challenge: challenge, code_challenge_method: 'S256',
  };
  const url = new URL('/auth', issuer);
  for (const [key, value] of Object.entries({ ...defaults, ...params })) if (value !== null) url.searchParams.set(key, value);
  return url.toString();
}

/** The latest code the sandbox SMS gateway delivered to `phone`. */
export function latestCode(runtime: Runtime, phone: string): string {
  const message = runtime.sandboxSms?.latestTo(phone);
  const code = message?.params.code;
  if (!code) throw new Error('no SMS delivered to that phone');
  return code;
}
