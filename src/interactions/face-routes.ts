import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccountService } from '../accounts/service.ts';
import type { LevelCatalog } from '../assurance/levels.ts';
import type { FaceVerification } from '../authn/face/face-verification.ts';
import { t } from './i18n.ts';
import type { Body, InteractionKit, Params } from './interaction-kit.ts';
import { csrfOnlySchema, uidParams } from './schemas.ts';
import { isStepUp, type StepUp } from './step-up-routes.ts';
import { faceConsentPage, facePendingPage } from './views/face.ts';
import { errorPage } from './views/pages.ts';
import { unmetPage } from './views/step-up.ts';

/**
 * Face verification inside a step-up: separate consent, then the vendor's capture page, then back here
 * where the result is judged. The vendor's signed callback is received at /callbacks/face.
 */
export async function registerFaceRoutes(app: FastifyInstance, deps: {
  kit: InteractionKit;
  stepUp: StepUp;
  face: FaceVerification;
  accounts: AccountService;
  catalog: LevelCatalog;
}) {
  const { kit } = deps;

  await app.register(async (scope) => {
    scope.get<{ Params: Params }>('/:uid/face', { schema: uidParams }, async (request, reply) => {
      const details = await kit.load(request, reply);
      if (!details) return reply;
      const ctx = await kit.pageContext(request, reply, details);
      if (!isStepUp(details, false)) return kit.sendPage(reply, 400, errorPage(ctx.locale, t(ctx.locale, 'error.session')));
      return kit.sendPage(reply, 200, faceConsentPage(ctx));
    });

    scope.post<{ Params: Params; Body: Body }>('/:uid/face/start', { schema: csrfOnlySchema }, async (request, reply) => {
      const loaded = await kit.loadForPost(request, reply);
      if (!loaded) return reply;
      const { details, ctx } = loaded;
      const account = isStepUp(details, false) ? await deps.accounts.findById(details.session!.accountId) : undefined;
      if (!account) return kit.sendPage(reply, 400, errorPage(ctx.locale, t(ctx.locale, 'error.session')));
      try {
        const { captureUrl } = await deps.face.start({
          uid: details.uid, accountId: account.id, name: account.name, idNumber: account.idNumber, ip: request.ip, clientId: String(details.params.client_id),
        });
        return reply.redirect(captureUrl, 303);
      } catch (error) {
        const { status, message } = kit.userFacing(error, ctx.locale);
        return deps.stepUp.render(reply, ctx, details, { status, error: message, errorCode: (error as { code?: string }).code });
      }
    });

    scope.post<{ Params: Params; Body: Body }>('/:uid/face/decline', { schema: csrfOnlySchema }, async (request, reply) => {
      const loaded = await kit.loadForPost(request, reply);
      if (!loaded) return reply;
      const { details, ctx } = loaded;
      const target = deps.catalog.level((details.prompt.details as { requiredLevel?: string }).requiredLevel ?? '') ?? deps.catalog.levels[0];
      return kit.sendPage(reply, 200, unmetPage(ctx, { target, reason: 'proofing' }));
    });

    scope.get<{ Params: Params; Querystring: { transactionId?: string } }>('/:uid/face/return', {
      schema: { ...uidParams, querystring: { type: 'object', properties: { transactionId: { type: 'string', pattern: '^[A-Za-z0-9_-]{8,128}$' } }, required: ['transactionId'] } },
    }, async (request, reply) => {
      const details = await kit.load(request, reply);
      if (!details) return reply;
      const ctx = await kit.pageContext(request, reply, details);
      if (!isStepUp(details, false)) return kit.sendPage(reply, 400, errorPage(ctx.locale, t(ctx.locale, 'error.session')));
      try {
        const verified = await deps.face.complete({
          uid: details.uid, accountId: details.session!.accountId, transactionId: request.query.transactionId!, ip: request.ip, clientId: String(details.params.client_id),
        });
        return await kit.finishLogin(request, reply, verified);
      } catch (error) {
        if ((error as { code?: string }).code === 'face_pending') return kit.sendPage(reply, 202, facePendingPage(ctx, request.query.transactionId!));
        const { status, message } = kit.userFacing(error, ctx.locale);
        return deps.stepUp.render(reply, ctx, details, { status, error: message, errorCode: (error as { code?: string }).code });
      }
    });
  }, { prefix: '/interaction' });

  // The vendor signs the exact bytes it sends: keep the body raw for the signature check.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_request, body, done) => done(null, body));
    scope.post('/callbacks/face', async (request: FastifyRequest, reply) => {
      const accepted = await deps.face.acceptCallback({
        method: request.method, path: request.url.split('?')[0], headers: request.headers, rawBody: String(request.body ?? ''),
      });
      return reply.status(accepted ? 200 : 401).header('cache-control', 'no-store').send(accepted ? {} : { error: 'invalid_callback' });
    });
  });
}
