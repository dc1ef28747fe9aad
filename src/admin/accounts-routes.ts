import type { FastifyInstance } from 'fastify';
import type { AccountAdminService } from '../accounts/admin-service.ts';
import type { RegistrySync } from '../accounts/registry-sync.ts';
import type { AdminPrincipal } from './auth.ts';
import type { Permission } from './permissions.ts';

const idParams = { type: 'object', properties: { id: { type: 'string', format: 'uuid' } }, required: ['id'] } as const;
const reasonBody = {
  type: 'object', additionalProperties: false, required: ['reason'],
  properties: { reason: { type: 'string', minLength: 2, maxLength: 500 } },
} as const;

/** Account operations for staff; mounted inside the admin scope, which authenticates and checks permissions. */
export async function registerAccountAdminRoutes(scope: FastifyInstance, deps: {
  accounts: AccountAdminService;
  registry: RegistrySync;
  changePhoneByStaff: (accountId: string, phone: string, actor: { name: string; ip?: string }, reason: string) => Promise<unknown>;
}) {
  const needs = (permission: Permission) => ({ permission });
  const actor = (request: { admin?: AdminPrincipal; ip: string }) => ({ name: request.admin?.name ?? 'unknown', ip: request.ip });
  type WithReason = { Params: { id: string }; Body: { reason: string } };

  scope.get<{ Querystring: { id_number?: string; phone?: string; name?: string; source?: string; legacy_user_id?: string } }>('/accounts', {
    config: needs('accounts:read'),
    schema: { querystring: { type: 'object', additionalProperties: false, properties: {
      id_number: { type: 'string', maxLength: 32 }, phone: { type: 'string', maxLength: 32 }, name: { type: 'string', maxLength: 64 },
      source: { type: 'string', maxLength: 64 }, legacy_user_id: { type: 'string', maxLength: 128 },
    } } },
  }, async (request) => ({
    accounts: await deps.accounts.search({
      idNumber: request.query.id_number, phone: request.query.phone, name: request.query.name,
      source: request.query.source, legacyUserId: request.query.legacy_user_id,
    }, actor(request)),
  }));

  scope.get<{ Params: { id: string } }>('/accounts/:id', { config: needs('accounts:read'), schema: { params: idParams } },
    async (request) => deps.accounts.get(request.params.id, actor(request)));

  scope.post<WithReason>('/accounts/:id/freeze', { config: needs('accounts:write'), schema: { params: idParams, body: reasonBody } },
    async (request) => deps.accounts.freeze(request.params.id, request.body.reason, actor(request)));
  scope.post<WithReason>('/accounts/:id/unfreeze', { config: needs('accounts:write'), schema: { params: idParams, body: reasonBody } },
    async (request) => deps.accounts.unfreeze(request.params.id, request.body.reason, actor(request)));
  scope.post<WithReason>('/accounts/:id/deceased', { config: needs('accounts:write'), schema: { params: idParams, body: reasonBody } },
    async (request) => deps.accounts.markDeceased(request.params.id, request.body.reason, actor(request)));
  scope.post<WithReason>('/accounts/:id/logout', { config: needs('accounts:write'), schema: { params: idParams, body: reasonBody } },
    async (request) => deps.accounts.forceLogout(request.params.id, request.body.reason, actor(request)));

  scope.post<{ Params: { id: string }; Body: { reason: string; to?: 'register_verified' | 'self_asserted' } }>('/accounts/:id/proofing/reset', {
    config: needs('accounts:write'),
    schema: { params: idParams, body: { ...reasonBody, properties: { ...reasonBody.properties, to: { enum: ['register_verified', 'self_asserted'] } } } },
  }, async (request) => deps.accounts.resetProofing(request.params.id, { reason: request.body.reason, to: request.body.to ?? 'register_verified' }, actor(request)));

  scope.post<{ Params: { id: string }; Body: { reason: string; from: string } }>('/accounts/:id/merge', {
    config: needs('accounts:write'),
    schema: { params: idParams, body: { ...reasonBody, required: ['reason', 'from'], properties: { ...reasonBody.properties, from: { type: 'string', format: 'uuid' } } } },
  }, async (request) => deps.accounts.merge(request.params.id, request.body.from, request.body.reason, actor(request)));

  scope.post<{ Params: { id: string }; Body: { reason: string; phone: string } }>('/accounts/:id/phone', {
    config: needs('accounts:write'),
    schema: { params: idParams, body: { ...reasonBody, required: ['reason', 'phone'], properties: { ...reasonBody.properties, phone: { type: 'string', maxLength: 32 } } } },
  }, async (request) => deps.changePhoneByStaff(request.params.id, request.body.phone, actor(request), request.body.reason));

  scope.post('/registry/poll', { config: needs('accounts:write') }, async () => deps.registry.pollOnce());
}
