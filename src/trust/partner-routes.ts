import type { FastifyInstance, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import { AppError, notFound } from '../http/errors.ts';
import { PARTNER_AUTH_METHODS, type RegistryService } from './registry-service.ts';
import { idParams, submissionBodies } from './schemas.ts';
import type { Actor, Operator, Service, Submission, SubmissionKind } from './types.ts';

/** The OIDC scope a CA partner's client must hold (client credentials grant). */
export const PARTNER_SCOPE = 'trust:partner';

type Partner = { operator: Operator; actor: Actor };

declare module 'fastify' {
  interface FastifyRequest {
    trustPartner?: Partner;
  }
}

const KIND_PATHS: Record<SubmissionKind, string> = {
  new_ca_certificate: 'new-ca-certificate',
  key_rollover: 'key-rollover',
  endpoints: 'endpoints',
  suspension: 'suspension',
};

export const submissionView = (s: Submission) => ({
  id: s.id, kind: s.kind, serviceId: s.serviceId, operatorId: s.operatorId, status: s.status, payload: s.payload, submittedBy: s.submittedBy,
  submittedAt: s.submittedAt.toISOString(), decidedBy: s.decidedBy ?? null, decidedAt: s.decidedAt?.toISOString() ?? null, reason: s.reason ?? null,
});

const partnerServiceView = (s: Service) => ({
  id: s.id, type: s.type, name: s.name, status: s.status, statusSince: s.statusSince.toISOString(), crlUrls: s.crlUrls, ocspUrls: s.ocspUrls,
  certificates: s.certificates.map((c) => ({
    fingerprint: c.fingerprint, role: c.role, subject: c.subject, notAfter: c.notAfter.toISOString(), acceptedUntil: c.acceptedUntil?.toISOString() ?? null,
  })),
});

/**
 * A CA partner authenticates as an OIDC client of this provider that proves possession of a key at the token
 * endpoint (private_key_jwt, or its certificate by mutual TLS), holds the `trust:partner` scope, and is linked to exactly one operator.
 */
function createPartnerAuth(deps: { provider: Provider; registry: RegistryService }) {
  return async function authenticate(request: FastifyRequest): Promise<Partner> {
    const deny = async (error: AppError, clientId?: string) => {
      await deps.registry.denyPartner({ name: clientId ? `client:${clientId}` : 'anonymous', clientId, ip: request.ip }, { path: request.routeOptions.url, method: request.method, code: error.code });
      return error;
    };
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(request.headers.authorization ?? '');
    if (!match) throw await deny(new AppError('unauthorized', 'A bearer access token of a partner client is required.', { status: 401 }));
    const token = await deps.provider.ClientCredentials.find(match[1]);
    if (!token || token.isExpired) throw await deny(new AppError('invalid_token', 'The access token is not valid or has expired.', { status: 401 }));
    const clientId = token.clientId as string;
    const scopes = String(token.scope ?? '').split(' ');
    if (!scopes.includes(PARTNER_SCOPE)) throw await deny(new AppError('insufficient_scope', `The token lacks the "${PARTNER_SCOPE}" scope.`, { status: 403 }), clientId);
    const client = await deps.provider.Client.find(clientId);
    const method = (client as { tokenEndpointAuthMethod?: string } | undefined)?.tokenEndpointAuthMethod;
    if (!method || !(PARTNER_AUTH_METHODS as readonly string[]).includes(method)) {
      throw await deny(new AppError('partner_key_required', `Partner clients must authenticate with ${PARTNER_AUTH_METHODS.join(' or ')}, not a shared secret.`, { status: 403 }), clientId);
    }
    const operator = await deps.registry.operatorForClient(clientId);
    if (!operator) throw await deny(new AppError('not_a_partner', 'This client is not linked to a CA operator.', { status: 403 }), clientId);
    return { operator, actor: { name: `client:${clientId}`, clientId, ip: request.ip } };
  };
}

/** `/trust/partner/...`: a CA partner submits changes (pending an admin's approval) and follows their status. */
export async function registerPartnerRoutes(app: FastifyInstance, deps: { provider: Provider; registry: RegistryService }) {
  const authenticate = createPartnerAuth(deps);

  await app.register(async (scope) => {
    scope.decorateRequest('trustPartner', undefined);
    // Before body parsing and validation: an unauthenticated caller learns nothing about the expected shapes.
    scope.addHook('onRequest', async (request) => {
      request.trustPartner = await authenticate(request);
    });
    scope.addHook('onSend', async (_request, reply) => {
      reply.header('cache-control', 'no-store');
    });
    const partner = (request: FastifyRequest) => request.trustPartner!;

    scope.get('/operator', async (request) => {
      const { operator } = partner(request);
      const full = await deps.registry.getOperator(operator.id);
      return {
        id: full.id, name: full.name, uscc: full.uscc, miitLicence: full.miitLicence ?? null, osccaLicence: full.osccaLicence ?? null,
        services: full.services.map(partnerServiceView),
      };
    });

    for (const [kind, path] of Object.entries(KIND_PATHS) as [SubmissionKind, string][]) {
      scope.post<{ Body: { serviceId: string } & Record<string, unknown> }>(`/submissions/${path}`, { schema: { body: submissionBodies[kind] } }, async (request, reply) => {
        const { operator, actor } = partner(request);
        const { serviceId, ...payload } = request.body;
        const submission = await deps.registry.submit(operator, { kind, serviceId, payload }, actor);
        return reply.status(201).header('location', `/trust/partner/submissions/${submission.id}`).send(submissionView(submission));
      });
    }

    scope.get('/submissions', async (request) => {
      const { operator } = partner(request);
      return { submissions: (await deps.registry.listSubmissions({ operatorId: operator.id })).map(submissionView) };
    });

    scope.get<{ Params: { id: string } }>('/submissions/:id', { schema: { params: idParams } }, async (request) => {
      const { operator } = partner(request);
      const submission = await deps.registry.getSubmission(request.params.id);
      // Another operator's submission does not exist for this partner.
      if (submission.operatorId !== operator.id) throw notFound(`No submission "${request.params.id}".`);
      return submissionView(submission);
    });
  }, { prefix: '/trust/partner' });
}
