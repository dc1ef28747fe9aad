import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';
import type { AuditLog } from '../audit/audit-log.ts';
import { AUDIT_EVENTS, type AuditEventName } from '../audit/events.ts';
import type { SandboxSmsGateway } from '../connectors/sms/sandbox-gateway.ts';
import { invalidInput, notFound } from '../http/errors.ts';
import type { ClientService } from '../oidc/clients/service.ts';
import { createAdminAuth, type AdminPrincipal } from './auth.ts';
import { auditQuery, clientIdParams, clientMetadataBody } from './schemas.ts';

export type AdminDeps = {
  provider: Provider;
  clients: ClientService;
  audit: AuditLog;
  sandboxSms?: SandboxSmsGateway;
};

declare module 'fastify' {
  interface FastifyRequest {
    admin?: AdminPrincipal;
  }
}

/** Relying-party registration and audit reading for admins. Every change is audited with old and new value. */
export async function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps) {
  const requireAdmin = createAdminAuth({ provider: deps.provider, audit: deps.audit });

  await app.register(async (scope) => {
    scope.decorateRequest('admin', undefined);
    scope.addHook('preHandler', async (request, reply) => {
      request.admin = await requireAdmin(request, reply);
    });
    scope.addHook('onSend', async (_request, reply) => {
      reply.header('cache-control', 'no-store');
    });

    const actor = (request: { admin?: AdminPrincipal }) => request.admin?.accountId ?? `client:${request.admin?.clientId}`;

    scope.get('/clients', async () => ({ clients: await deps.clients.list() }));

    scope.get<{ Params: { clientId: string } }>('/clients/:clientId', { schema: { params: clientIdParams } }, async (request) =>
      deps.clients.get(request.params.clientId));

    scope.post<{ Body: Record<string, unknown> }>('/clients', { schema: { body: clientMetadataBody } }, async (request, reply) => {
      const created = await deps.clients.create(request.body);
      const { client_secret: _secret, ...publicView } = created;
      await deps.audit.record({ event: 'admin.client.created', result: 'success', actor: actor(request), clientId: created.client_id, ip: request.ip, detail: { after: publicView } });
      return reply.status(201).header('location', `/admin/clients/${created.client_id}`).send(created);
    });

    scope.put<{ Params: { clientId: string }; Body: Record<string, unknown>; Querystring: { rotate_secret?: boolean } }>('/clients/:clientId', {
      schema: { params: clientIdParams, body: clientMetadataBody, querystring: { type: 'object', properties: { rotate_secret: { type: 'boolean' } }, additionalProperties: false } },
    }, async (request) => {
      if (request.body.client_id && request.body.client_id !== request.params.clientId) throw invalidInput('client_id in the body must match the URL.');
      const { before, after } = await deps.clients.update(request.params.clientId, request.body, { rotateSecret: request.query.rotate_secret });
      const { client_secret: _secret, ...afterPublic } = after as Record<string, unknown>;
      await deps.audit.record({ event: 'admin.client.updated', result: 'success', actor: actor(request), clientId: request.params.clientId, ip: request.ip, detail: { before, after: afterPublic, secretRotated: Boolean(request.query.rotate_secret) } });
      return after;
    });

    scope.delete<{ Params: { clientId: string } }>('/clients/:clientId', { schema: { params: clientIdParams } }, async (request, reply) => {
      const before = await deps.clients.get(request.params.clientId);
      await deps.clients.delete(request.params.clientId);
      await deps.audit.record({ event: 'admin.client.deleted', result: 'success', actor: actor(request), clientId: request.params.clientId, ip: request.ip, detail: { before } });
      return reply.status(204).send();
    });

    scope.get<{ Querystring: { event?: string; account_id?: string; client_id?: string; limit?: number } }>('/audit', { schema: { querystring: auditQuery } }, async (request) => {
      const { event } = request.query;
      if (event && !(AUDIT_EVENTS as readonly string[]).includes(event)) throw invalidInput(`Unknown audit event "${event}".`);
      return { events: await deps.audit.list({ event: event as AuditEventName | undefined, accountId: request.query.account_id, clientId: request.query.client_id, limit: request.query.limit }) };
    });

    // The sandbox SMS outbox, so developers and tests can read codes; absent whenever a real gateway is configured.
    scope.get('/sandbox/sms', async () => {
      if (!deps.sandboxSms) throw notFound('No sandbox SMS gateway is configured.');
      return { messages: deps.sandboxSms.outbox() };
    });
  }, { prefix: '/admin' });
}
