import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { Redis } from 'ioredis';
import type { Runtime } from '../../src/bootstrap/runtime.ts';
import type { HotStore } from '../../src/cache/hot-store.ts';
import { createRedisStore } from '../../src/cache/redis-store.ts';
import { createDatabase } from '../../src/db/database.ts';
import { usccCheckChar } from '../../src/identity/uscc.ts';
import { toPem } from '../../src/pki/certificate.ts';
import { createTrustStore } from '../../src/trust/trust-store.ts';
import type { TrustRegistry } from '../../src/trust/trust-registry.ts';
import { createTestApp } from '../helpers/app.ts';
import type { TestCertificate } from '../helpers/test-pki.ts';

type Teardown = { teardown(fn: () => unknown): void };

/** A valid GB 32100 code from 17 characters. */
export const uscc = (body17: string) => body17 + usccCheckChar(body17);

export const LOCAL_USCC = uscc('91350100M000100Y4');

export const pem = (c: TestCertificate) => toPem(c.certDer);

/** A complete service body as an admin would send it. */
export function serviceBody(certificates: { certificate: string; role: string }[], overrides: Record<string, unknown> = {}) {
  return {
    type: 'ca_individual',
    name: 'Test Individual CA',
    crlUrls: ['http://crl.ca.example/issuing.crl'],
    ocspUrls: ['http://ocsp.ca.example/'],
    policyLevels: { '1.2.156.112570.1.1.3': 'L3', '1.2.156.112570.1.1.2': 'L2' },
    keyUsages: ['digitalSignature', 'nonRepudiation'],
    extractionRules: [{ kind: 'citizen', source: { type: 'extension', oid: '1.2.156.10260.4.1.1', choiceTag: 0 }, stripPrefixes: ['ID:'], allowLegacy15: true }],
    revocationMode: 'ocsp_or_crl',
    softFailMaxLevel: 'L2',
    keyProtection: 'hardware',
    pinRequired: true,
    certificates,
    ...overrides,
  };
}

export type TrustApp = {
  runtime: Runtime;
  app: FastifyInstance;
  trust: TrustRegistry;
  /** An admin request with a token of the given admin scope (default `admin:trust`). */
  admin(options: InjectOptions & { scope?: string }): Promise<LightMyRequestResponse>;
  adminToken(scope?: string): Promise<string>;
  /** A second node: its own PostgreSQL pool and Redis connection on the same schema and key prefix. */
  secondNodeStore(): ReturnType<typeof createTrustStore>;
  count(table: string): Promise<number>;
};

/**
 * The real application (buildApp on a test runtime: PostgreSQL, Redis, oidc-provider) as the lead wires it:
 * runtime.trust, public and partner routes on the app, admin routes inside the authenticated /admin scope.
 */
export async function createTrustApp(t: Teardown, options: { clock?: () => Date; env?: Record<string, string> } = {}): Promise<TrustApp> {
  const { runtime, app } = await createTestApp(t, { clock: options.clock, env: options.env });
  const { trust } = runtime;

  const tokens = new Map<string, string>();
  async function adminToken(scope = 'admin:trust') {
    const cached = tokens.get(scope);
    if (cached) return cached;
    const clientId = `ops-${scope.replace(/:/g, '-')}`;
    const client = await runtime.clients.create({ client_id: clientId, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope });
    const response = await app.inject({
      method: 'POST', url: '/token',
      headers: { authorization: `Basic ${Buffer.from(`${clientId}:${client.client_secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
    });
    if (response.statusCode !== 200) throw new Error(`admin token: ${response.body}`);
    const token = response.json().access_token as string;
    tokens.set(scope, token);
    return token;
  }

  const schema = (await runtime.db.query<{ s: string }>('SELECT current_schema() AS s')).rows[0].s;

  return {
    runtime, app, trust, adminToken,
    async admin({ scope, ...request }) {
      const token = await adminToken(scope);
      return app.inject({ ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } });
    },
    secondNodeStore() {
      const prefix = (runtime.hot as HotStore & { client: Redis }).client.options.keyPrefix;
      const hot = createRedisStore({ url: process.env.REDIS_URL!, keyPrefix: prefix });
      const db = createDatabase({ connectionString: process.env.DATABASE_URL!, maxConnections: 2, schema });
      t.teardown(async () => {
        await hot.close();
        await db.close();
      });
      return createTrustStore({ db, hot, clock: runtime.clock });
    },
    async count(table) {
      return Number((await runtime.db.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
    },
  };
}

/** A partner CA's OIDC client authenticating with private_key_jwt (ES256 key generated here). */
export async function createPartnerClient(target: TrustApp, clientId = `ca-partner-${randomBytes(3).toString('hex')}`, scope = 'trust:partner') {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'partner-key-1', alg: 'ES256', use: 'sig' };
  await target.runtime.clients.create({
    client_id: clientId, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope,
    token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] },
  });
  const issuer = target.runtime.config.issuer;
  return {
    clientId,
    async tokenResponse(options: { scope?: string; key?: CryptoKey } = {}) {
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: 'partner-key-1' })
        .setIssuer(clientId).setSubject(clientId).setAudience(issuer).setJti(randomUUID()).setIssuedAt().setExpirationTime('60s')
        .sign(options.key ?? privateKey);
      return target.app.inject({
        method: 'POST', url: '/token', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({
          grant_type: 'client_credentials', scope: options.scope ?? 'trust:partner', client_id: clientId,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion,
        }).toString(),
      });
    },
    async token() {
      const response = await this.tokenResponse();
      if (response.statusCode !== 200) throw new Error(`partner token: ${response.body}`);
      return response.json().access_token as string;
    },
  };
}
