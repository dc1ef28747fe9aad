import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { AccountService } from '../accounts/service.ts';
import type { Account } from '../accounts/types.ts';
import type { AssuranceEvaluator } from '../assurance/evaluator.ts';
import type { LevelCatalog, MethodId } from '../assurance/levels.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { createPasswordAuthenticator } from '../authn/password/authenticator.ts';
import type { createSmsOtpAuthenticator } from '../authn/sms-otp/authenticator.ts';
import { t } from './i18n.ts';
import type { Body, Details, InteractionKit, Params } from './interaction-kit.ts';
import { codeSchema, csrfOnlySchema, stepUpPasswordSchema } from './schemas.ts';
import { errorPage, type PageContext } from './views/pages.ts';
import { stepUpPage, unmetPage } from './views/step-up.ts';

export type StepUpDeps = {
  provider: Provider;
  kit: InteractionKit;
  catalog: LevelCatalog;
  assurance: AssuranceEvaluator;
  accounts: AccountService;
  password: ReturnType<typeof createPasswordAuthenticator>;
  sms: ReturnType<typeof createSmsOtpAuthenticator>;
  audit: AuditLog;
  /** Methods beyond password and SMS that this deployment offers (e.g. face when a face service is configured). */
  extraMethods: (account: Account) => Promise<MethodId[]>;
  /** CA-certificate login is on: the pages offer it to everyone, whether or not the plan counts on it. */
  certificateLogin?: boolean;
};

/** Reasons for which the person must (re)identify themselves on the full login page rather than step up. */
const FULL_LOGIN_REASONS = new Set(['no_session', 'login_prompt', 'id_token_hint', 'claims_id_token_sub_value']);

export function isStepUp(details: Details, switchAccount: boolean): boolean {
  if (switchAccount || details.prompt.name !== 'login' || !details.session?.accountId) return false;
  return !details.prompt.reasons.some((reason) => FULL_LOGIN_REASONS.has(reason));
}

/**
 * Step-up: the session already belongs to a person, and a relying party needs a higher level. The page
 * asks only for the methods still missing (each within its freshness window counts), for the session's
 * own account, and the login finishes in place with a new session id.
 */
export function createStepUp(deps: StepUpDeps) {
  const { kit } = deps;

  async function available(account: Account): Promise<Set<MethodId>> {
    const methods = new Set<MethodId>(await deps.extraMethods(account));
    if (account.passwordHash) methods.add('pwd');
    if (account.phone && account.phoneVerified) methods.add('sms');
    return methods;
  }

  async function planFor(details: Details) {
    const account = await deps.accounts.findById(details.session!.accountId);
    if (!account) return undefined;
    const promptDetails = details.prompt.details as { requiredLevel?: string; maxAge?: number | null };
    const result = await deps.assurance.plan({
      sessionUid: details.session!.uid,
      accountId: account.id,
      requiredLevel: promptDetails.requiredLevel ?? deps.catalog.levels[0].id,
      maxAge: promptDetails.maxAge,
      available: await available(account),
    });
    return { account, ...result };
  }

  /** Renders the step-up page, or the unmet page when the level is out of this account's reach. */
  async function render(reply: FastifyReply, ctx: PageContext, details: Details, extra: { status?: number; smsSent?: boolean; error?: string; errorCode?: string; notice?: string } = {}) {
    const planned = await planFor(details);
    if (!planned) return kit.sendPage(reply, 400, errorPage(ctx.locale, t(ctx.locale, 'error.session')));
    const { account, target, plan, done } = planned;
    if (plan.kind === 'unmet') {
      return kit.sendPage(reply, 200, unmetPage(ctx, { target, reason: plan.reason, certificate: deps.certificateLogin }));
    }
    const missing = plan.kind === 'step_up' ? plan.missing : [];
    const next = plan.kind === 'step_up' ? plan.next : [];
    return kit.sendPage(reply, extra.status ?? 200, stepUpPage(ctx, {
      catalog: deps.catalog, target, done, missing, next, phoneMasked: account.phoneMasked, certificate: deps.certificateLogin,
      smsSent: extra.smsSent, error: extra.error, errorCode: extra.errorCode, notice: extra.notice,
    }));
  }

  async function loadStepUp(request: FastifyRequest<{ Params: Params; Body: Body }>, reply: FastifyReply) {
    const loaded = await kit.loadForPost(request, reply);
    if (!loaded) return undefined;
    if (!isStepUp(loaded.details, false)) {
      kit.sendPage(reply, 400, errorPage(loaded.ctx.locale, t(loaded.ctx.locale, 'error.session')));
      return undefined;
    }
    const account = await deps.accounts.findById(loaded.details.session!.accountId);
    if (!account) {
      kit.sendPage(reply, 400, errorPage(loaded.ctx.locale, t(loaded.ctx.locale, 'error.session')));
      return undefined;
    }
    return { ...loaded, account };
  }

  async function register(app: FastifyInstance) {
    await app.register(async (scope) => {
      scope.post<{ Params: Params; Body: Body }>('/:uid/step-up/password', {
        schema: stepUpPasswordSchema,
      }, async (request, reply) => {
        const loaded = await loadStepUp(request, reply);
        if (!loaded) return reply;
        const { details, ctx, account } = loaded;
        try {
          const verified = await deps.password.verify({ identifier: account.idNumber, password: request.body.password }, kit.attempt(request, details));
          if (verified.accountId !== account.id) throw new Error('step-up verified another account');
          await deps.audit.record({ event: 'login.step_up', result: 'success', accountId: account.id, clientId: String(details.params.client_id), ip: request.ip, detail: { method: 'pwd' } });
          return await kit.finishLogin(request, reply, verified);
        } catch (error) {
          const { status, message } = kit.userFacing(error, ctx.locale);
          return render(reply, ctx, details, { status, error: message });
        }
      });

      scope.post<{ Params: Params; Body: Body }>('/:uid/step-up/sms/send', { schema: csrfOnlySchema }, async (request, reply) => {
        const loaded = await loadStepUp(request, reply);
        if (!loaded) return reply;
        const { details, ctx, account } = loaded;
        try {
          await deps.sms.sendCode({ phone: account.phone ?? '' }, kit.attempt(request, details));
          return render(reply, ctx, details, { smsSent: true, notice: t(ctx.locale, 'sms.sent.register', { phone: account.phoneMasked ?? '' }) });
        } catch (error) {
          const { status, message } = kit.userFacing(error, ctx.locale);
          return render(reply, ctx, details, { status, error: message });
        }
      });

      scope.post<{ Params: Params; Body: Body }>('/:uid/step-up/sms/verify', {
        schema: codeSchema,
      }, async (request, reply) => {
        const loaded = await loadStepUp(request, reply);
        if (!loaded) return reply;
        const { details, ctx, account } = loaded;
        try {
          const verified = await deps.sms.verify({ phone: account.phone ?? '', code: request.body.code.trim() }, kit.attempt(request, details));
          if (verified.accountId !== account.id) throw new Error('step-up verified another account');
          await deps.audit.record({ event: 'login.step_up', result: 'success', accountId: account.id, clientId: String(details.params.client_id), ip: request.ip, detail: { method: 'sms' } });
          return await kit.finishLogin(request, reply, verified);
        } catch (error) {
          const { status, message } = kit.userFacing(error, ctx.locale);
          return render(reply, ctx, details, { status, smsSent: true, error: message });
        }
      });

      scope.post<{ Params: Params; Body: Body }>('/:uid/unmet', { schema: csrfOnlySchema }, async (request, reply) => {
        const loaded = await kit.loadForPost(request, reply);
        if (!loaded) return reply;
        const { details } = loaded;
        const required = (details.prompt.details as { requiredLevel?: string }).requiredLevel;
        await deps.audit.record({ event: 'login.unmet', result: 'failure', accountId: details.session?.accountId, clientId: String(details.params.client_id), ip: request.ip, detail: { requiredLevel: required } });
        const redirectTo = await deps.provider.interactionResult(request.raw, reply.raw, {
          error: 'unmet_authentication_requirements',
          error_description: `the account cannot reach the required level ${required ?? ''}`.trim(),
        }, { mergeWithLastSubmission: false });
        return reply.redirect(redirectTo, 303);
      });
    }, { prefix: '/interaction' });
  }

  return { register, render, planFor };
}

export type StepUp = ReturnType<typeof createStepUp>;
