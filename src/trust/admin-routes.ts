import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AdminPrincipal } from '../admin/auth.ts';
import type { Permission } from '../admin/permissions.ts';
import type { Database } from '../db/database.ts';
import type { ListKeyInfo, ListSigningKeys } from './list-signing-keys.ts';
import { registryRepository } from './registry-repository.ts';
import type { PeerSources } from './peer-import.ts';
import { submissionView } from './partner-routes.ts';
import type { RegistryService } from './registry-service.ts';
import {
  activateListKeyBody, certificateParams, idParams, importBody, operatorBody, peerBody, peerJwksBody, rejectBody, serviceCreateBody, serviceUpdateBody, statusBody, submissionQuery,
} from './schemas.ts';
import type { TrustList } from './trust-list.ts';
import type { TrustStore } from './trust-store.ts';
import type { Actor, Operator, PeerSource, Service, SubmissionStatus } from './types.ts';

export type TrustAdminDeps = { db: Database; registry: RegistryService; peers: PeerSources; list: TrustList; store: TrustStore; keys: ListSigningKeys };

const operatorView = (o: Operator) => ({
  id: o.id, source: o.source, externalId: o.externalId ?? null, name: o.name, uscc: o.uscc, miitLicence: o.miitLicence ?? null,
  osccaLicence: o.osccaLicence ?? null, partnerClientId: o.partnerClientId ?? null, createdAt: o.createdAt.toISOString(), updatedAt: o.updatedAt.toISOString(),
});

export const serviceView = (s: Service, options: { withDer?: boolean } = {}) => ({
  id: s.id, operatorId: s.operatorId, externalId: s.externalId ?? null, type: s.type, name: s.name, status: s.status,
  statusSince: s.statusSince.toISOString(),
  history: s.history.map((h) => ({ status: h.status, from: h.from.toISOString(), reason: h.reason ?? null, actor: h.actor ?? null })),
  certificates: s.certificates.map((c) => ({
    fingerprint: c.fingerprint, role: c.role, subject: c.subject, notAfter: c.notAfter.toISOString(), acceptedUntil: c.acceptedUntil?.toISOString() ?? null,
    addedAt: c.addedAt.toISOString(), ...(options.withDer ? { der: Buffer.from(c.der).toString('base64') } : {}),
  })),
  crlUrls: s.crlUrls, ocspUrls: s.ocspUrls, policyLevels: s.policyLevels, keyUsages: s.keyUsages, extractionRules: s.extractionRules,
  revocationMode: s.revocationMode, softFailMaxLevel: s.softFailMaxLevel, keyProtection: s.keyProtection, pinRequired: s.pinRequired,
  createdAt: s.createdAt.toISOString(), updatedAt: s.updatedAt.toISOString(),
});

const peerView = (p: PeerSource) => ({
  id: p.id, name: p.name, listUrl: p.listUrl ?? null, jwks: p.jwks, enabled: p.enabled, lastSequence: p.lastSequence ?? null,
  issuedAt: p.issuedAt?.toISOString() ?? null, nextUpdate: p.nextUpdate?.toISOString() ?? null, importedAt: p.importedAt?.toISOString() ?? null,
  importNotes: p.importNotes, createdAt: p.createdAt.toISOString(),
});

const listKeyView = (k: ListKeyInfo) => ({
  kid: k.kid, alg: k.alg, state: k.state, createdAt: k.createdAt.toISOString(), activatedAt: k.activatedAt?.toISOString() ?? null,
  retiredAt: k.retiredAt?.toISOString() ?? null, publishUntil: k.publishUntil?.toISOString() ?? null, published: k.published, publicJwk: k.publicJwk,
});

/**
 * The registry's admin API. Call it inside the admin scope of src/admin/routes.ts (after its authentication
 * preHandler, which reads `config.permission`): paths are relative to that scope's `/admin` prefix.
 */
export async function registerTrustAdminRoutes(scope: FastifyInstance, deps: TrustAdminDeps) {
  const needs = (permission: Permission) => ({ permission });
  const actor = (request: FastifyRequest): Actor => {
    const admin = (request as FastifyRequest & { admin?: AdminPrincipal }).admin;
    return { name: admin?.name ?? 'unknown', clientId: admin?.clientId, ip: request.ip };
  };
  type Id = { Params: { id: string } };

  scope.get('/trust/state', { config: needs('trust:read') }, async () => {
    const state = await registryRepository.state(deps.db);
    const snapshot = await deps.store.current();
    return {
      sequenceNumber: state.sequenceNumber, issuedAt: state.issuedAt.toISOString(),
      nextUpdate: new Date(state.issuedAt.getTime() + deps.list.nextUpdateSeconds * 1000).toISOString(), revision: state.revision,
      usable: {
        services: snapshot.services.map((s) => ({ id: s.id, name: s.name, operator: s.operator.name, source: s.source })),
        anchors: snapshot.anchors.length, intermediates: snapshot.intermediates.length,
      },
      list: await deps.list.payload(),
    };
  });

  scope.get('/trust/operators', { config: needs('trust:read') }, async () => ({
    operators: (await deps.registry.listOperators()).map((o) => ({ ...operatorView(o), services: o.services.map((s) => serviceView(s)) })),
  }));

  scope.get<Id>('/trust/operators/:id', { config: needs('trust:read'), schema: { params: idParams } }, async (request) => {
    const operator = await deps.registry.getOperator(request.params.id);
    return { ...operatorView(operator), services: operator.services.map((s) => serviceView(s)) };
  });

  scope.post('/trust/operators', { config: needs('trust:write'), schema: { body: operatorBody } }, async (request, reply) => {
    const operator = await deps.registry.createOperator(request.body, actor(request));
    return reply.status(201).header('location', `/admin/trust/operators/${operator.id}`).send(operatorView(operator));
  });

  scope.put<Id>('/trust/operators/:id', { config: needs('trust:write'), schema: { params: idParams, body: operatorBody } }, async (request) =>
    operatorView(await deps.registry.updateOperator(request.params.id, request.body, actor(request))));

  scope.delete<Id>('/trust/operators/:id', { config: needs('trust:write'), schema: { params: idParams } }, async (request, reply) => {
    await deps.registry.deleteOperator(request.params.id, actor(request));
    return reply.status(204).send();
  });

  scope.post<Id>('/trust/operators/:id/services', { config: needs('trust:write'), schema: { params: idParams, body: serviceCreateBody } }, async (request, reply) => {
    const service = await deps.registry.createService(request.params.id, request.body, actor(request));
    return reply.status(201).header('location', `/admin/trust/services/${service.id}`).send(serviceView(service));
  });

  scope.get<Id>('/trust/services/:id', { config: needs('trust:read'), schema: { params: idParams } }, async (request) => {
    const service = await deps.registry.getService(request.params.id);
    const snapshot = await deps.store.current();
    return { ...serviceView(service, { withDer: true }), usable: snapshot.statusOf(service.id)?.usable ?? false, unusableReason: snapshot.statusOf(service.id)?.unusableReason ?? null };
  });

  scope.put<Id>('/trust/services/:id', { config: needs('trust:write'), schema: { params: idParams, body: serviceUpdateBody } }, async (request) =>
    serviceView(await deps.registry.updateService(request.params.id, request.body, actor(request))));

  scope.delete<Id>('/trust/services/:id', { config: needs('trust:write'), schema: { params: idParams } }, async (request, reply) => {
    await deps.registry.deleteService(request.params.id, actor(request));
    return reply.status(204).send();
  });

  scope.post<Id & { Body: { status: string; reason: string } }>('/trust/services/:id/status', {
    config: needs('trust:write'), schema: { params: idParams, body: statusBody },
  }, async (request) => serviceView(await deps.registry.changeStatus(request.params.id, request.body, actor(request))));

  scope.post<Id & { Body: { certificate: string; role: string } }>('/trust/services/:id/certificates', {
    config: needs('trust:write'), schema: { params: idParams, body: { ...serviceCreateBody.properties.certificates.items } },
  }, async (request, reply) => reply.status(201).send(serviceView(await deps.registry.addCertificate(request.params.id, request.body, actor(request)))));

  scope.delete<{ Params: { id: string; fingerprint: string } }>('/trust/services/:id/certificates/:fingerprint', {
    config: needs('trust:write'), schema: { params: certificateParams },
  }, async (request, reply) => {
    await deps.registry.removeCertificate(request.params.id, request.params.fingerprint, actor(request));
    return reply.status(204).send();
  });

  scope.get<{ Querystring: { status?: SubmissionStatus; operatorId?: string; limit?: number } }>('/trust/submissions', {
    config: needs('trust:read'), schema: { querystring: submissionQuery },
  }, async (request) => ({ submissions: (await deps.registry.listSubmissions(request.query)).map(submissionView) }));

  scope.get<Id>('/trust/submissions/:id', { config: needs('trust:read'), schema: { params: idParams } }, async (request) =>
    submissionView(await deps.registry.getSubmission(request.params.id)));

  scope.post<Id>('/trust/submissions/:id/approve', { config: needs('trust:write'), schema: { params: idParams } }, async (request) =>
    submissionView(await deps.registry.approveSubmission(request.params.id, actor(request))));

  scope.post<Id & { Body: { reason: string } }>('/trust/submissions/:id/reject', { config: needs('trust:write'), schema: { params: idParams, body: rejectBody } }, async (request) =>
    submissionView(await deps.registry.rejectSubmission(request.params.id, request.body, actor(request))));

  scope.get('/trust/peers', { config: needs('trust:read') }, async () => ({ peers: (await deps.peers.list()).map(peerView) }));

  scope.get<Id>('/trust/peers/:id', { config: needs('trust:read'), schema: { params: idParams } }, async (request) =>
    peerView(await deps.peers.get(request.params.id)));

  scope.post<{ Body: { name: string; listUrl?: string | null; jwks: unknown } }>('/trust/peers', { config: needs('trust:write'), schema: { body: peerBody } }, async (request, reply) => {
    const source = await deps.peers.create(request.body, actor(request));
    return reply.status(201).header('location', `/admin/trust/peers/${source.id}`).send(peerView(source));
  });

  scope.post<Id & { Body: { jws?: string } | undefined }>('/trust/peers/:id/import', {
    config: needs('trust:write'), schema: { params: idParams, body: importBody }, bodyLimit: 2 * 1024 * 1024 + 1024,
    // No body at all means "fetch it from the source's URL".
    preValidation: async (request) => {
      request.body ??= {};
    },
  }, async (request) => {
    const result = await deps.peers.import(request.params.id, { jws: request.body?.jws }, actor(request));
    return { source: peerView(result.source), operators: result.operators, services: result.services, notes: result.notes };
  });

  scope.post<Id>('/trust/peers/:id/enable', { config: needs('trust:write'), schema: { params: idParams } }, async (request) =>
    peerView(await deps.peers.setEnabled(request.params.id, true, actor(request))));

  scope.post<Id>('/trust/peers/:id/disable', { config: needs('trust:write'), schema: { params: idParams } }, async (request) =>
    peerView(await deps.peers.setEnabled(request.params.id, false, actor(request))));

  scope.put<Id & { Body: { jwks: unknown } }>('/trust/peers/:id/jwks', {
    config: needs('trust:write'), schema: { params: idParams, body: peerJwksBody },
  }, async (request) => peerView(await deps.peers.updateJwks(request.params.id, request.body.jwks, actor(request))));

  // Rotation of the list's own signing key: prepare (announced in /trust/jwks), then, once peers pinned it, activate.
  scope.get('/trust/list-keys', { config: needs('trust:read') }, async () => ({ keys: (await deps.keys.list()).map(listKeyView) }));

  scope.post('/trust/list-keys/next', { config: needs('trust:write') }, async (request, reply) => reply.status(201).send(listKeyView(await deps.keys.prepareNext(actor(request)))));

  scope.post<{ Body: { retireGraceSeconds?: number } | undefined }>('/trust/list-keys/activate', {
    config: needs('trust:write'), schema: { body: activateListKeyBody },
    preValidation: async (request) => {
      request.body ??= {};
    },
  }, async (request) => {
    const result = await deps.keys.activateNext({ retireGraceSeconds: request.body?.retireGraceSeconds }, actor(request));
    return { activated: listKeyView(result.activated), retired: result.retired ? listKeyView(result.retired) : null, sequenceNumber: result.sequenceNumber };
  });

  scope.delete<Id>('/trust/peers/:id', { config: needs('trust:write'), schema: { params: idParams } }, async (request, reply) => {
    await deps.peers.delete(request.params.id, actor(request));
    return reply.status(204).send();
  });
}
