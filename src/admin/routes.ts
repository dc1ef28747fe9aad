import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';
import type { AuditLog } from '../audit/audit-log.ts';
import { AUDIT_EVENTS, type AuditEventName } from '../audit/events.ts';
import type { SandboxSmsGateway } from '../connectors/sms/sandbox-gateway.ts';
import { invalidInput, notFound } from '../http/errors.ts';
import type { ClientService } from '../oidc/clients/service.ts';
import type { AccountService } from '../accounts/service.ts';
import type { LevelCatalog } from '../assurance/levels.ts';
import type { PolicyService } from '../assurance/policy-service.ts';
import type { AccountAdminService } from '../accounts/admin-service.ts';
import type { RegistrySync } from '../accounts/registry-sync.ts';
import { registerAccountAdminRoutes } from './accounts-routes.ts';
import { registerTrustAdminRoutes, type TrustRegistry } from '../trust/trust-registry.ts';
import { assertPermission, createAdminAuth, type AdminPrincipal } from './auth.ts';
import type { Permission } from './permissions.ts';
import { auditQuery, clientIdParams, clientMetadataBody, policyBody, policyQuery } from './schemas.ts';

export type AdminDeps = {
  provider: Provider;
  clients: ClientService;
  audit: AuditLog;
  accounts: AccountService;
  catalog: LevelCatalog;
  policies: PolicyService;
  consoleLevel: string;
  accountAdmin: AccountAdminService;
  registry: RegistrySync;
  /** The in-person path for a lost phone: staff record the new number after checking the person at a service hall. */
  changePhoneByStaff: (accountId: string, phone: string, actor: { name: string; ip?: string }, reason: string) => Promise<unknown>;
  sandboxSms?: SandboxSmsGateway;
  /** The CA trust registry's admin API (/admin/trust/...). */
  trust: TrustRegistry;
};

declare module 'fastify' {
  interface FastifyRequest {
    admin?: AdminPrincipal;
  }
}

/** Relying-party registration and audit reading for admins. Every change is audited with old and new value. */
export async function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps) {
  const authenticate = createAdminAuth({
    provider: deps.provider, accounts: deps.accounts, catalog: deps.catalog, personMinLevel: deps.consoleLevel,
  });

  await app.register(async (scope) => {
    scope.decorateRequest('admin', undefined);
    scope.addHook('preHandler', async (request) => {
      request.admin = await authenticate(request);
      const needed = (request.routeOptions.config as { permission?: Permission }).permission;
      try {
        if (!needed) throw new Error('route without a declared permission');
        assertPermission(request.admin, needed);
      } catch (error) {
        await deps.audit.record({ event: 'admin.denied', result: 'failure', actor: request.admin.name, clientId: request.admin.clientId, ip: request.ip, detail: { path: request.routeOptions.url, method: request.method, needed } });
        throw error;
      }
    });
    scope.addHook('onSend', async (_request, reply) => {
      reply.header('cache-control', 'no-store');
    });

    const actor = (request: { admin?: AdminPrincipal }) => request.admin?.name ?? 'unknown';
    const needs = (permission: Permission) => ({ permission });

    scope.get('/clients', { config: needs('clients:read') }, async () => ({ clients: await deps.clients.list() }));

    scope.get<{ Params: { clientId: string } }>('/clients/:clientId', { config: needs('clients:read'), schema: { params: clientIdParams } }, async (request) =>
      deps.clients.get(request.params.clientId));

    scope.post<{ Body: Record<string, unknown> }>('/clients', { config: needs('clients:write'), schema: { body: clientMetadataBody } }, async (request, reply) => {
      const created = await deps.clients.create(request.body);
      const { client_secret: _secret, ...publicView } = created;
      await deps.audit.record({ event: 'admin.client.created', result: 'success', actor: actor(request), clientId: created.client_id, ip: request.ip, detail: { after: publicView } });
      return reply.status(201).header('location', `/admin/clients/${created.client_id}`).send(created);
    });

    scope.put<{ Params: { clientId: string }; Body: Record<string, unknown>; Querystring: { rotate_secret?: boolean } }>('/clients/:clientId', {
      config: needs('clients:write'),
      schema: { params: clientIdParams, body: clientMetadataBody, querystring: { type: 'object', properties: { rotate_secret: { type: 'boolean' } }, additionalProperties: false } },
    }, async (request) => {
      if (request.body.client_id && request.body.client_id !== request.params.clientId) throw invalidInput('client_id in the body must match the URL.');
      const { before, after } = await deps.clients.update(request.params.clientId, request.body, { rotateSecret: request.query.rotate_secret });
      const { client_secret: _secret, ...afterPublic } = after as Record<string, unknown>;
      await deps.audit.record({ event: 'admin.client.updated', result: 'success', actor: actor(request), clientId: request.params.clientId, ip: request.ip, detail: { before, after: afterPublic, secretRotated: Boolean(request.query.rotate_secret) } });
      return after;
    });

    scope.delete<{ Params: { clientId: string } }>('/clients/:clientId', { config: needs('clients:write'), schema: { params: clientIdParams } }, async (request, reply) => {
      const before = await deps.clients.get(request.params.clientId);
      await deps.clients.delete(request.params.clientId);
      await deps.audit.record({ event: 'admin.client.deleted', result: 'success', actor: actor(request), clientId: request.params.clientId, ip: request.ip, detail: { before } });
      return reply.status(204).send();
    });

    scope.get<{ Querystring: { event?: string; account_id?: string; client_id?: string; limit?: number } }>('/audit', { config: needs('audit:read'), schema: { querystring: auditQuery } }, async (request) => {
      const { event } = request.query;
      if (event && !(AUDIT_EVENTS as readonly string[]).includes(event)) throw invalidInput(`Unknown audit event "${event}".`);
      return { events: await deps.audit.list({ event: event as AuditEventName | undefined, accountId: request.query.account_id, clientId: request.query.client_id, limit: request.query.limit }) };
    });

    await registerAccountAdminRoutes(scope, { accounts: deps.accountAdmin, registry: deps.registry, changePhoneByStaff: deps.changePhoneByStaff });
    await registerTrustAdminRoutes(scope, deps.trust);

    // The sandbox SMS outbox, so developers and tests can read codes; absent whenever a real gateway is configured.
    scope.get('/levels', { config: needs('policies:read') }, async () => ({
      levels: deps.catalog.levels.map((l) => ({ ...l, acr: deps.catalog.acrFor(l, 'uri') })),
      methods: deps.catalog.methods,
      proofing: deps.catalog.proofing,
    }));

    scope.get('/policies', { config: needs('policies:read') }, async () => ({ policies: await deps.policies.all() }));

    scope.put<{ Params: { clientId: string }; Body: { scope?: string; min_level: string; max_auth_age_seconds?: number | null } }>('/policies/:clientId', {
      config: needs('policies:write'), schema: { params: clientIdParams, body: policyBody },
    }, async (request) => {
      const { before, after } = await deps.policies.set({
        clientId: request.params.clientId, scope: request.body.scope, minLevel: request.body.min_level, maxAuthAgeSeconds: request.body.max_auth_age_seconds,
      }, { name: actor(request), ip: request.ip });
      return { before: before ?? null, after };
    });

    scope.delete<{ Params: { clientId: string }; Querystring: { scope?: string } }>('/policies/:clientId', {
      config: needs('policies:write'), schema: { params: clientIdParams, querystring: policyQuery },
    }, async (request, reply) => {
      await deps.policies.remove(request.params.clientId, request.query.scope ?? '*', { name: actor(request), ip: request.ip });
      return reply.status(204).send();
    });

    scope.get('/sandbox/sms', { config: needs('sandbox:read') }, async () => {
      if (!deps.sandboxSms) throw notFound('No sandbox SMS gateway is configured.');
      return { messages: deps.sandboxSms.outbox() };
    });
  }, { prefix: '/admin' });
}
