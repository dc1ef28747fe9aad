import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';
import type { AccountService } from '../accounts/service.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { HotStore } from '../cache/hot-store.ts';
import type { createPasswordAuthenticator } from '../authn/password/authenticator.ts';
import type { createSmsOtpAuthenticator } from '../authn/sms-otp/authenticator.ts';
import type { OtpService } from '../authn/sms-otp/otp-service.ts';
import type { DataProtector } from '../identity/data-protection.ts';
import { maskIdNumber } from '../identity/id-number.ts';
import { maskPhone } from '../identity/phone.ts';
import { AppError } from '../http/errors.ts';
import { describeError } from './error-messages.ts';
import { t } from './i18n.ts';
import type { Body, InteractionKit, Params } from './interaction-kit.ts';
import { isStepUp, type StepUp } from './step-up-routes.ts';
import { consentPage, errorPage, loginPage, registerCompletePage, registerPage, smsLoginPage } from './views/pages.ts';
import {
  abortSchema, csrfOnlySchema, passwordLoginSchema, registerCompleteSchema, registerSendSchema, smsSendSchema, smsVerifySchema, uidParams,
} from './schemas.ts';

export type InteractionDeps = {
  provider: Provider;
  issuer: string;
  accounts: AccountService;
  password: ReturnType<typeof createPasswordAuthenticator>;
  sms: ReturnType<typeof createSmsOtpAuthenticator>;
  otp: OtpService;
  audit: AuditLog;
  hot: HotStore;
  protector: DataProtector;
  kit: InteractionKit;
  stepUp: StepUp;
  pendingRegistrationSeconds: number;
};

type PendingRegistration = { name: string; idNumber: string; phone: string };

export async function registerInteractionRoutes(app: FastifyInstance, deps: InteractionDeps) {
  const { provider } = deps;
  const { sendPage, load, pageContext, loadForPost, attempt, userFacing, finishLogin } = deps.kit;

  await app.register(async (scope) => {
    scope.get<{ Params: Params }>('/:uid', { schema: uidParams }, async (request, reply) => {
      const details = await load(request, reply);
      if (!details) return reply;
      const ctx = await pageContext(request, reply, details);
      if (isStepUp(details, Boolean((request.query as { switch?: string }).switch))) return deps.stepUp.render(reply, ctx, details);
      if (details.prompt.name === 'consent') {
        const missing = (details.prompt.details.missingOIDCScope as string[] | undefined) ?? [];
        return sendPage(reply, 200, consentPage(ctx, missing));
      }
      return sendPage(reply, 200, loginPage(ctx));
    });

    scope.get<{ Params: Params }>('/:uid/sms', { schema: uidParams }, async (request, reply) => {
      const details = await load(request, reply);
      if (!details) return reply;
      return sendPage(reply, 200, smsLoginPage(await pageContext(request, reply, details)));
    });

    scope.post<{ Params: Params; Body: Body }>('/:uid/login', { schema: passwordLoginSchema }, async (request, reply) => {
      const loaded = await loadForPost(request, reply);
      if (!loaded) return reply;
      const { details, ctx } = loaded;
      try {
        const verified = await deps.password.verify(
          { identifier: request.body.identifier, password: request.body.password }, attempt(request, details));
        return await finishLogin(request, reply, verified);
      } catch (error) {
        const { status, message } = userFacing(error, ctx.locale);
        return sendPage(reply, status, loginPage(ctx, { identifier: request.body.identifier, error: message }));
      }
    });

    scope.post<{ Params: Params; Body: Body }>('/:uid/sms/send', { schema: smsSendSchema }, async (request, reply) => {
      const loaded = await loadForPost(request, reply);
      if (!loaded) return reply;
      const { details, ctx } = loaded;
      try {
        const { phoneMasked } = await deps.sms.sendCode({ phone: request.body.phone }, attempt(request, details));
        return sendPage(reply, 200, smsLoginPage(ctx, { phone: request.body.phone, sent: t(ctx.locale, 'sms.sent', { phone: phoneMasked }) }));
      } catch (error) {
        const { status, message } = userFacing(error, ctx.locale);
        return sendPage(reply, status, smsLoginPage(ctx, { phone: request.body.phone, error: message }));
      }
    });

    scope.post<{ Params: Params; Body: Body }>('/:uid/sms/verify', { schema: smsVerifySchema }, async (request, reply) => {
      const loaded = await loadForPost(request, reply);
      if (!loaded) return reply;
      const { details, ctx } = loaded;
      try {
        const verified = await deps.sms.verify({ phone: request.body.phone, code: request.body.code.trim() }, attempt(request, details));
        return await finishLogin(request, reply, verified);
      } catch (error) {
        const { status, message } = userFacing(error, ctx.locale);
        return sendPage(reply, status, smsLoginPage(ctx, { phone: request.body.phone, error: message }));
      }
    });

    scope.get<{ Params: Params }>('/:uid/register', { schema: uidParams }, async (request, reply) => {
      const details = await load(request, reply);
      if (!details) return reply;
      return sendPage(reply, 200, registerPage(await pageContext(request, reply, details)));
    });

    scope.post<{ Params: Params; Body: Body }>('/:uid/register/send-code', { schema: registerSendSchema }, async (request, reply) => {
      const loaded = await loadForPost(request, reply);
      if (!loaded) return reply;
      const { details, ctx } = loaded;
      const { name, id_number: idNumber, phone } = request.body;
      try {
        const parsed = deps.accounts.parseRegistrationDetails({ name, idNumber, phone });
        // Kept encrypted between the two steps: the hot store may be a Redis outside our database's protection.
        await deps.hot.set(`reg:${details.uid}`, deps.protector.encrypt(JSON.stringify(parsed), 'registration.pending'), deps.pendingRegistrationSeconds);
        await deps.otp.issue({ purpose: 'register', binding: details.uid, phone: parsed.phone, ip: request.ip, deliver: true });
        await deps.audit.record({ event: 'sms.sent', result: 'success', actor: maskPhone(parsed.phone), clientId: String(details.params.client_id), ip: request.ip, detail: { purpose: 'register' } });
        return sendPage(reply, 200, registerCompletePage(ctx, { phoneMasked: maskPhone(parsed.phone) }));
      } catch (error) {
        const { status, message } = userFacing(error, ctx.locale);
        return sendPage(reply, status, registerPage(ctx, { name, idNumber, phone, error: message }));
      }
    });

    scope.post<{ Params: Params; Body: Body }>('/:uid/register/complete', { schema: registerCompleteSchema }, async (request, reply) => {
      const loaded = await loadForPost(request, reply);
      if (!loaded) return reply;
      const { details, ctx } = loaded;
      const stored = await deps.hot.get(`reg:${details.uid}`);
      if (!stored) {
        return sendPage(reply, 400, registerPage(ctx, { error: describeError(new AppError('register_expired', 'Registration expired'), ctx.locale) }));
      }
      const pending = JSON.parse(deps.protector.decrypt(stored, 'registration.pending')) as PendingRegistration;
      const phoneMasked = maskPhone(pending.phone);
      if (request.body.password !== request.body.password_confirm) {
        return sendPage(reply, 400, registerCompletePage(ctx, { phoneMasked, error: t(ctx.locale, 'register.passwordMismatch') }));
      }
      try {
        await deps.otp.verify({ purpose: 'register', binding: details.uid, phone: pending.phone, code: request.body.code.trim() });
      } catch (error) {
        await deps.audit.record({ event: 'otp.verify', result: 'failure', actor: maskIdNumber(pending.idNumber), ip: request.ip, clientId: String(details.params.client_id), detail: { purpose: 'register', reason: (error as AppError).code } });
        const { status, message } = userFacing(error, ctx.locale);
        return sendPage(reply, status, registerCompletePage(ctx, { phoneMasked, error: message }));
      }
      try {
        const account = await deps.accounts.register({ ...pending, password: request.body.password, ip: request.ip, clientId: String(details.params.client_id) });
        await deps.hot.delete(`reg:${details.uid}`);
        return await finishLogin(request, reply, { accountId: account.id, method: 'sms', amr: ['sms', 'otp'] });
      } catch (error) {
        const { status, message } = userFacing(error, ctx.locale);
        // The phone was proven; a password problem lets the person retry with a fresh code.
        return sendPage(reply, status, registerPage(ctx, { name: pending.name, idNumber: pending.idNumber, phone: pending.phone, error: message }));
      }
    });

    scope.post<{ Params: Params; Body: Body }>('/:uid/consent', { schema: csrfOnlySchema }, async (request, reply) => {
      const loaded = await loadForPost(request, reply);
      if (!loaded) return reply;
      const { details } = loaded;
      if (details.prompt.name !== 'consent' || !details.session?.accountId) {
        return sendPage(reply, 400, errorPage(loaded.ctx.locale, t(loaded.ctx.locale, 'error.session')));
      }
      const clientId = String(details.params.client_id);
      const grant = details.grantId
        ? (await provider.Grant.find(details.grantId))!
        : new provider.Grant({ accountId: details.session.accountId, clientId });
      const prompt = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
      if (prompt.missingOIDCScope) grant.addOIDCScope(prompt.missingOIDCScope.join(' '));
      if (prompt.missingOIDCClaims) grant.addOIDCClaims(prompt.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(prompt.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
      const grantId = await grant.save();
      await deps.audit.record({ event: 'consent.granted', result: 'success', accountId: details.session.accountId, clientId, ip: request.ip, detail: { scopes: prompt.missingOIDCScope ?? [] } });
      const redirectTo = await provider.interactionResult(request.raw, reply.raw, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
      return reply.redirect(redirectTo, 303);
    });

    scope.post<{ Params: Params; Body: Body }>('/:uid/abort', { schema: abortSchema }, async (request, reply) => {
      const loaded = await loadForPost(request, reply);
      if (!loaded) return reply;
      const { details } = loaded;
      const unavailable = request.body.reason === 'unavailable';
      await deps.audit.record({ event: 'consent.denied', result: 'failure', accountId: details.session?.accountId, clientId: String(details.params.client_id), ip: request.ip, detail: { prompt: details.prompt.name, reason: unavailable ? 'service_unavailable' : 'cancelled' } });
      // A verification service outage is reported to the relying party as such, not as a refusal by the person.
      const redirectTo = await provider.interactionResult(request.raw, reply.raw, unavailable
        ? { error: 'temporarily_unavailable', error_description: 'a verification service is unavailable; try again later' }
        : { error: 'access_denied', error_description: 'The person cancelled the request.' }, { mergeWithLastSubmission: false });
      return reply.redirect(redirectTo, 303);
    });
  }, { prefix: '/interaction' });
}
