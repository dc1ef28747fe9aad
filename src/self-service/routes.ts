import { readFileSync } from 'node:fs';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as client from 'openid-client';
import type { Account } from '../accounts/types.ts';
import type { LevelDefinition } from '../assurance/levels.ts';
import type { Runtime } from '../bootstrap/runtime.ts';
import { AppError } from '../http/errors.ts';
import { createRelyingParty, readSignedCookie } from '../oidc/relying-party.ts';
import { ensurePortalClient, portalUris } from '../portal/client.ts';
import { guardPortalPages } from '../portal/hooks.ts';
import { finishLogin } from '../portal/login.ts';
import { st } from './messages.ts';
import {
  deregisteredPage, deregisterPage, exportPage, facePendingPage, logoutPage, messagePage, overviewPage, phonePage, type PageContext, type PhoneState,
} from './pages.ts';
import { createPasswordReset } from './password-reset.ts';
import { createPhoneChange, phoneFlowExpired, type PhoneFlow } from './phone-change.ts';
import { COOKIE_PATH, createPortalKit, field, formSchema, type Query } from './portal-kit.ts';
import { createPortalSessions, type PortalSession } from './portal-session.ts';
import { registerResetRoutes, RESET_COOKIE } from './reset-routes.ts';
import { createSecondFactors, FACE_UID_PREFIX } from './second-factor.ts';
import { ACCOUNT_CLIENT_ID, createSelfService, type SelfService } from './service.ts';
import { DEFAULT_SELF_SERVICE_SETTINGS, type SelfServiceSettings } from './settings.ts';

export type SelfServiceRouteDeps = {
  runtime: Runtime;
  issuer: string;
  /** Signs the account page's cookies (config.cookieSecrets[0]). */
  cookieSecret: string;
  /** Ignored when `service` is given (its own settings apply). */
  settings?: SelfServiceSettings;
  /** The instance the closure job and the login hook use; created from runtime and settings when absent. */
  service?: SelfService;
};

const ACCOUNT_CSS = readFileSync(new URL('./account.css', import.meta.url));
const SESSION_COOKIE = 'account_session';
const LOGIN_COOKIE = 'account_login';
const NEXT_COOKIE = 'account_next';
const SCOPE = 'openid';
const SIGNED_OUT_STATE = 'signed_out';
const EVENT_LIMIT = 50;

type Purpose = 'overview' | 'phone' | 'export' | 'deregister';
const PURPOSE_PATHS: Record<Purpose, string> = { overview: '/account/', phone: '/account/phone', export: '/account/export', deregister: '/account/deregister' };
const parsePurpose = (value: string | undefined): Purpose => (value && Object.hasOwn(PURPOSE_PATHS, value) ? value as Purpose : 'overview');

/** Registers the account page as a relying party of this provider (once; concurrent nodes may race; follows a new issuer URL). */
export async function ensureAccountClient(runtime: Runtime, issuer: string): Promise<void> {
  await ensurePortalClient(runtime, issuer, { clientId: ACCOUNT_CLIENT_ID, clientName: '个人账号中心', path: COOKIE_PATH, scope: SCOPE });
}

type Principal = { sessionId: string; session: PortalSession; account: Account };

/**
 * The account page under /account (a relying party of this provider, like the admin console) and the
 * password reset under /account/reset. Also takes face-verification returns of self-service flows
 * (/interaction/acct.<token>/face/return). Returns the self-service instance.
 */
export async function registerSelfServiceRoutes(app: FastifyInstance, deps: SelfServiceRouteDeps): Promise<SelfService> {
  const service = deps.service ?? createSelfService(deps.runtime, deps.settings ?? DEFAULT_SELF_SERVICE_SETTINGS);
  const { settings } = service;
  const sensitive = deps.runtime.catalog.level(settings.sensitiveLevel);
  if (!sensitive) throw new Error(`ACCOUNT_SENSITIVE_LEVEL "${settings.sensitiveLevel}" is not a defined level`);

  app.get<{ Params: { token: string }; Querystring: Query }>(`/interaction/${FACE_UID_PREFIX}:token/face/return`, async (request, reply) => {
    const target = new URLSearchParams({ token: request.params.token, transactionId: request.query.transactionId ?? '' });
    return reply.header('cache-control', 'no-store').redirect(`/account/face/return?${target}`, 303);
  });

  await app.register(async (scope) => accountPlugin(scope, { ...deps, settings, service }, sensitive), { prefix: '/account' });
  return service;
}

async function accountPlugin(scope: FastifyInstance, deps: SelfServiceRouteDeps & { settings: SelfServiceSettings; service: SelfService }, sensitive: LevelDefinition) {
  const { runtime, service, settings } = deps;
  const { catalog } = runtime;
  if (!scope.hasDecorator('parseCookie')) await scope.register(cookie, { secret: deps.cookieSecret });
  if (!scope.hasContentTypeParser('application/x-www-form-urlencoded')) await scope.register(formbody, { bodyLimit: 16 * 1024 });

  const { base, redirectUri, postLogoutRedirectUri } = portalUris(deps.issuer, COOKIE_PATH);
  const secure = new URL(base).protocol === 'https:';
  const cookieOptions = { path: COOKIE_PATH, httpOnly: true, sameSite: 'lax', secure, signed: true } as const;
  const nowSeconds = () => Math.floor(runtime.clock().getTime() / 1000);
  const basic = catalog.levels[0];
  const sessions = createPortalSessions({ hot: runtime.hot, idleSeconds: basic.idleSeconds, absoluteSeconds: basic.absoluteSeconds, now: nowSeconds });
  const kit = createPortalKit({ secure });
  const { localeOf, sendPage, userFacing } = kit;
  const factors = createSecondFactors(runtime);
  const reset = createPasswordReset({ runtime, service, factors });
  const phone = createPhoneChange({ runtime, service, factors });

  const relyingParty = createRelyingParty({
    issuer: base,
    clientId: ACCOUNT_CLIENT_ID,
    clientSecret: async () => {
      const secret = (await runtime.clients.find(ACCOUNT_CLIENT_ID))?.client_secret;
      if (typeof secret !== 'string') throw new Error(`client "${ACCOUNT_CLIENT_ID}" is not registered; call ensureAccountClient first`);
      return secret;
    },
    redirectUri,
    scope: SCOPE,
    loginCookie: LOGIN_COOKIE,
    cookieOptions,
  });

  /** Viewing needs any login; the phone change a fresh one; export and deregistration a fresh one at the sensitive level. */
  const requirement = (purpose: Purpose): { level: LevelDefinition; fresh: boolean } =>
    purpose === 'overview' ? { level: basic, fresh: false } : { level: purpose === 'phone' ? basic : sensitive, fresh: true };

  const satisfies = (session: PortalSession, purpose: Purpose) => {
    const needed = requirement(purpose);
    if (!needed.fresh) return true;
    const level = catalog.levelForAcr(session.acr);
    return Boolean(level && level.rank >= needed.level.rank) && nowSeconds() - session.authTime <= settings.freshAuthSeconds;
  };

  const pageContext = (request: FastifyRequest, reply: FastifyReply, principal?: Principal, fallback?: string): PageContext =>
    kit.pageContext(request, reply, { user: principal?.account, csrf: principal?.session.csrf, fallback });

  const expiredPage = (request: FastifyRequest, reply: FastifyReply, status: number) => {
    const ctx = pageContext(request, reply);
    return sendPage(reply, status, messagePage(ctx, {
      title: st(ctx.locale, 'error.title'), message: st(ctx.locale, 'error.expired'), links: [{ href: '/account/', label: st(ctx.locale, 'error.back') }],
    }));
  };

  async function endPortalSession(reply: FastifyReply, sessionId: string | undefined) {
    await sessions.end(sessionId);
    reply.clearCookie(SESSION_COOKIE, { path: COOKIE_PATH });
  }

  /**
   * The signed-in person, or undefined once a response (login redirect, expired page) was sent. The account
   * page session lasts only as long as the provider session it came from and an active account.
   */
  async function authorize(request: FastifyRequest, reply: FastifyReply, purpose: Purpose = 'overview'): Promise<Principal | undefined> {
    localeOf(request, reply);
    const sessionId = readSignedCookie(request, SESSION_COOKIE);
    const session = await sessions.touch(sessionId);
    const account = session ? await runtime.accounts.findById(session.accountId) : undefined;
    const alive = Boolean(session && account?.status === 'active' && (await service.providerSessionAlive(account.id, session.sid)));
    if (!sessionId || !session || !account || !alive) {
      if (session) await endPortalSession(reply, sessionId);
      if (request.method === 'GET' || request.method === 'HEAD') reply.redirect(`/account/login?next=${purpose}`, 302);
      else expiredPage(request, reply, 401);
      return undefined;
    }
    if (request.method === 'POST' && !runtime.protector.equalSecret(session.csrf, field(request.body, 'csrf'))) {
      expiredPage(request, reply, 403);
      return undefined;
    }
    return { sessionId, session, account };
  }

  /** False once it sent the re-login (or, right after one that still falls short, a page saying so). */
  function requireFresh(request: FastifyRequest, reply: FastifyReply, principal: Principal, purpose: Purpose): boolean {
    if (satisfies(principal.session, purpose)) return true;
    if (request.method === 'GET' && (request.query as Query).reauth) {
      const ctx = pageContext(request, reply, principal);
      sendPage(reply, 403, messagePage(ctx, {
        title: st(ctx.locale, 'error.title'), message: st(ctx.locale, 'reauth.failed'), links: [{ href: `/account/login?next=${purpose}`, label: st(ctx.locale, 'reauth.retry') }],
      }));
    } else {
      reply.redirect(`/account/login?next=${purpose}`, request.method === 'GET' ? 302 : 303);
    }
    return false;
  }

  guardPortalPages(scope, {
    name: 'account page',
    errorPage: (request, reply) => {
      const ctx = pageContext(request, reply);
      return messagePage(ctx, {
        title: st(ctx.locale, 'error.title'), message: st(ctx.locale, 'error.generic'), links: [{ href: '/account/', label: st(ctx.locale, 'error.back') }],
      });
    },
    sendPage,
  });

  function unavailable(request: FastifyRequest, reply: FastifyReply, error: unknown) {
    request.log.warn({ err: error }, 'account page could not reach the provider');
    const ctx = pageContext(request, reply);
    return sendPage(reply, 502, messagePage(ctx, { title: st(ctx.locale, 'error.title'), message: st(ctx.locale, 'error.unavailable') }));
  }

  scope.get('/assets/account.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(ACCOUNT_CSS));

  scope.get<{ Querystring: Query }>('/login', async (request, reply) => {
    const locale = localeOf(request, reply);
    const next = parsePurpose(request.query.next);
    const needed = requirement(next);
    const prompt = request.query.prompt === 'login' ? 'login' : undefined;
    if (next === 'overview' && !prompt && (await sessions.touch(readSignedCookie(request, SESSION_COOKIE)))) return reply.redirect('/account/', 302);
    let config: client.Configuration;
    try {
      config = await relyingParty.getConfiguration();
    } catch (error) {
      return unavailable(request, reply, error);
    }
    reply.setCookie(NEXT_COOKIE, next, { ...cookieOptions, maxAge: 600 });
    const authorizationUrl = await relyingParty.startLogin(reply, config, {
      acr_values: catalog.acrFor(needed.level, 'uri'),
      // oidc-provider puts `sid` into ID tokens only for back-channel clients or when asked: it ties this login to its provider session.
      claims: JSON.stringify({ id_token: { sid: null } }),
      ui_locales: locale,
      ...(needed.fresh ? { max_age: String(settings.freshAuthSeconds) } : {}),
      ...(prompt ? { prompt } : {}),
    });
    return reply.redirect(authorizationUrl.href, 302);
  });

  scope.get('/callback', async (request, reply) => {
    const ctx = pageContext(request, reply);
    const retry = [{ href: '/account/login', label: st(ctx.locale, 'error.retry') }];
    const transaction = relyingParty.takeTransaction(request, reply);
    const next = parsePurpose(readSignedCookie(request, NEXT_COOKIE));
    reply.clearCookie(NEXT_COOKIE, { path: COOKIE_PATH });
    if (!transaction) return sendPage(reply, 400, messagePage(ctx, { title: st(ctx.locale, 'error.title'), message: st(ctx.locale, 'error.login'), links: retry }));
    const login = await finishLogin(relyingParty, request, transaction);
    if (login.kind === 'unavailable') return unavailable(request, reply, login.error);
    if (login.kind === 'rejected') {
      request.log.info({ err: login.error }, 'account page login failed');
      return sendPage(reply, 400, messagePage(ctx, {
        title: st(ctx.locale, 'error.title'), message: `${st(ctx.locale, 'error.loginFailed')}${login.code ? ` (${login.code})` : ''}`, links: retry,
      }));
    }
    const { claims, idToken } = login;
    const account = await runtime.accounts.findById(claims.sub);
    if (account?.status !== 'active' || typeof claims.sid !== 'string' || typeof claims.auth_time !== 'number' || typeof claims.acr !== 'string') {
      return sendPage(reply, 403, messagePage(ctx, { title: st(ctx.locale, 'error.title'), message: st(ctx.locale, 'error.accountUnavailable'), links: retry }));
    }
    // A fresh id on every login: a session id planted before the login is never promoted.
    await sessions.end(readSignedCookie(request, SESSION_COOKIE));
    const { id } = await sessions.create({ accountId: account.id, idToken, sid: claims.sid, acr: claims.acr, authTime: claims.auth_time });
    reply.setCookie(SESSION_COOKIE, id, cookieOptions);
    return reply.redirect(`${PURPOSE_PATHS[next]}${requirement(next).fresh ? '?reauth=1' : ''}`, 303);
  });

  const DONE = new Set(['session_ended', 'consent_revoked', 'phone_changed']);
  const ERRORS = new Set(['session_not_found', 'consent_not_found']);

  scope.get<{ Querystring: Query }>('/', async (request, reply) => {
    if (request.query.state === SIGNED_OUT_STATE && !(await sessions.touch(readSignedCookie(request, SESSION_COOKIE)))) {
      const ctx = pageContext(request, reply);
      return sendPage(reply, 200, messagePage(ctx, {
        title: st(ctx.locale, 'signedOut.title'), message: st(ctx.locale, 'signedOut.text'), alert: false,
        links: [{ href: '/account/login', label: st(ctx.locale, 'signedOut.login') }],
      }));
    }
    const principal = await authorize(request, reply);
    if (!principal) return reply;
    const ctx = pageContext(request, reply, principal);
    const { account, session } = principal;
    const [view, sessionList, consents, events] = await Promise.all([
      service.view(account.id), service.sessions(account.id, session.sid), service.consents(account.id), service.securityEvents(account.id, EVENT_LIMIT),
    ]);
    const done = request.query.done && DONE.has(request.query.done) ? request.query.done : undefined;
    const error = request.query.error && ERRORS.has(request.query.error) ? request.query.error : undefined;
    return sendPage(reply, 200, overviewPage(ctx, {
      view: view!, sessions: sessionList, consents, events, catalog, faceOffered: Boolean(runtime.face), eventLimit: EVENT_LIMIT,
      notice: done ? st(ctx.locale, `done.${done}` as 'done.session_ended') : undefined,
      error: error ? st(ctx.locale, `error.${error}` as 'error.session_not_found') : undefined,
    }));
  });

  scope.post('/sessions/end', { schema: formSchema({ uid: 128 }, ['uid']) }, async (request, reply) => {
    const principal = await authorize(request, reply);
    if (!principal) return reply;
    const { account, session } = principal;
    const uid = field(request.body, 'uid');
    const target = (await service.sessions(account.id, session.sid)).find((s) => s.uid === uid);
    if (!target) return reply.redirect('/account/?error=session_not_found#sessions', 303);
    await service.endSession(account.id, uid, { ip: request.ip, actor: account.idNumberMasked });
    if (target.current) {
      await endPortalSession(reply, principal.sessionId);
      const ctx = pageContext(request, reply);
      return sendPage(reply, 200, messagePage(ctx, {
        title: st(ctx.locale, 'signedOut.title'), message: st(ctx.locale, 'signedOut.ended'), alert: false,
        links: [{ href: '/account/login', label: st(ctx.locale, 'signedOut.login') }],
      }));
    }
    return reply.redirect('/account/?done=session_ended#sessions', 303);
  });

  scope.post('/consents/revoke', { schema: formSchema({ client_id: 128 }, ['client_id']) }, async (request, reply) => {
    const principal = await authorize(request, reply);
    if (!principal) return reply;
    const { account } = principal;
    const { revoked } = await service.revokeConsent(account.id, field(request.body, 'client_id'), { ip: request.ip, actor: account.idNumberMasked });
    return reply.redirect(revoked > 0 ? '/account/?done=consent_revoked#consents' : '/account/?error=consent_not_found#consents', 303);
  });

  // Change of the mobile number. A fresh login is needed to start; a flow once started may be finished within its lifetime.
  const phoneState = (flow: PhoneFlow | undefined): PhoneState => ({
    proven: flow?.proven, oldSent: flow?.oldSent, newPhoneMasked: flow?.newPhoneMasked, bankSent: flow?.bankSent,
  });

  async function renderPhone(request: FastifyRequest, reply: FastifyReply, principal: Principal, flow: PhoneFlow | undefined, extra: { status?: number; error?: string; notice?: string } = {}) {
    const ctx = pageContext(request, reply, principal, '/account/phone');
    return sendPage(reply, extra.status ?? 200, phonePage(ctx, {
      phoneMasked: principal.account.phoneMasked, state: phoneState(flow), lost: await factors.available(principal.account.id), error: extra.error, notice: extra.notice,
    }));
  }

  /** The principal and the phone flow in progress; a new flow needs a fresh login. */
  async function phoneStep(request: FastifyRequest, reply: FastifyReply, needsFlow: boolean) {
    const principal = await authorize(request, reply, 'phone');
    if (!principal) return undefined;
    const flow = await phone.load(principal.session.ref);
    if (!flow && needsFlow) {
      await renderPhone(request, reply, principal, undefined, { status: 400, error: userFacing(phoneFlowExpired(), localeOf(request, reply)).message });
      return undefined;
    }
    if (!flow && !requireFresh(request, reply, principal, 'phone')) return undefined;
    return { principal, flow: flow ?? {} };
  }

  async function phoneAction(request: FastifyRequest, reply: FastifyReply, needsFlow: boolean, action: (p: Principal, flow: PhoneFlow) => Promise<{ flow: PhoneFlow; notice?: string } | 'sent'>) {
    const step = await phoneStep(request, reply, needsFlow);
    if (!step) return reply;
    const { principal, flow } = step;
    try {
      const result = await action(principal, flow);
      if (result === 'sent') return reply;
      return renderPhone(request, reply, principal, result.flow, { notice: result.notice });
    } catch (error) {
      const { status, message } = userFacing(error, localeOf(request, reply));
      return renderPhone(request, reply, principal, await phone.load(principal.session.ref), { status, error: message });
    }
  }

  scope.get('/phone', async (request, reply) => {
    const step = await phoneStep(request, reply, false);
    if (!step) return reply;
    return renderPhone(request, reply, step.principal, await phone.load(step.principal.session.ref));
  });

  scope.post('/phone/old/send', { schema: formSchema({}) }, (request, reply) => phoneAction(request, reply, false, async (p, flow) => {
    const next = await phone.sendOld(p.session.ref, flow, p.account, request.ip);
    return { flow: next, notice: st(localeOf(request, reply), 'phone.sentTo', { phone: p.account.phoneMasked ?? '' }) };
  }));

  scope.post('/phone/old/verify', { schema: formSchema({ code: 16 }, ['code']) }, (request, reply) => phoneAction(request, reply, true, async (p, flow) =>
    ({ flow: await phone.verifyOld(p.session.ref, flow, p.account, field(request.body, 'code').trim(), request.ip) })));

  scope.post('/phone/lost/face', { schema: formSchema({}) }, (request, reply) => phoneAction(request, reply, false, async (p) => {
    const { captureUrl } = await phone.startFace(p.session.ref, p.account, request.ip);
    reply.redirect(captureUrl, 303);
    return 'sent';
  }));

  scope.post('/phone/lost/bank/check', { schema: formSchema({ card_number: 40, phone: 32 }, ['card_number', 'phone']) }, (request, reply) =>
    phoneAction(request, reply, false, async (p, flow) => ({
      flow: await phone.checkBank(p.session.ref, flow, p.account, { cardNumber: field(request.body, 'card_number'), phone: field(request.body, 'phone'), ip: request.ip }),
    })));

  scope.post('/phone/lost/bank/confirm', { schema: formSchema({ code: 16 }, ['code']) }, (request, reply) => phoneAction(request, reply, true, async (p, flow) =>
    ({ flow: await phone.confirmBank(p.session.ref, flow, p.account, field(request.body, 'code').trim(), request.ip) })));

  scope.post('/phone/new/send', { schema: formSchema({ phone: 32 }, ['phone']) }, (request, reply) => phoneAction(request, reply, true, async (p, flow) =>
    ({ flow: await phone.sendNew(p.session.ref, flow, p.account, field(request.body, 'phone'), request.ip) })));

  scope.post('/phone/new/verify', { schema: formSchema({ code: 16 }, ['code']) }, (request, reply) => phoneAction(request, reply, true, async (p, flow) => {
    await phone.verifyNew(p.session.ref, flow, p.account, { code: field(request.body, 'code').trim(), ip: request.ip, sid: p.session.sid });
    reply.redirect('/account/?done=phone_changed#phone', 303);
    return 'sent';
  }));

  scope.post('/phone/restart', { schema: formSchema({}) }, async (request, reply) => {
    const principal = await authorize(request, reply, 'phone');
    if (!principal) return reply;
    await phone.discard(principal.session.ref);
    return reply.redirect('/account/phone', 303);
  });

  // The vendor sent the browser back from a face capture (through the /interaction shim above).
  scope.get<{ Querystring: Query }>('/face/return', async (request, reply) => {
    const token = request.query.token ?? '';
    const transactionId = request.query.transactionId ?? '';
    const flow = await factors.flowOf(token);
    if (!flow || !/^[A-Za-z0-9_-]{8,128}$/.test(transactionId)) return expiredPage(request, reply, 400);
    const pending = () => sendPage(reply, 202, facePendingPage(pageContext(request, reply), `/account/face/return?${new URLSearchParams({ token, transactionId })}`));
    if (flow.kind === 'reset') {
      const resetId = readSignedCookie(request, RESET_COOKIE);
      const resetFlow = resetId === flow.ref ? await reset.load(resetId) : undefined;
      if (!resetId || !resetFlow) return expiredPage(request, reply, 400);
      try {
        await factors.completeFace({ token, transactionId, ip: request.ip });
        await reset.faceDone(resetId, resetFlow);
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        if (error.code === 'face_pending') return pending();
        await reset.save(resetId, { ...resetFlow, lastError: error.code });
      }
      return reply.redirect('/account/reset', 303);
    }
    const principal = await authorize(request, reply, 'phone');
    if (!principal) return reply;
    if (principal.session.ref !== flow.ref) return expiredPage(request, reply, 400);
    try {
      await factors.completeFace({ token, transactionId, ip: request.ip });
      return renderPhone(request, reply, principal, await phone.faceDone(flow.ref));
    } catch (error) {
      if ((error as AppError).code === 'face_pending') return pending();
      const { status, message } = userFacing(error, localeOf(request, reply));
      return renderPhone(request, reply, principal, await phone.load(flow.ref), { status, error: message });
    }
  });

  scope.get('/export', async (request, reply) => {
    const principal = await authorize(request, reply, 'export');
    if (!principal || !requireFresh(request, reply, principal, 'export')) return reply;
    return sendPage(reply, 200, exportPage(pageContext(request, reply, principal)));
  });

  scope.post('/export', { schema: formSchema({}) }, async (request, reply) => {
    const principal = await authorize(request, reply, 'export');
    if (!principal || !requireFresh(request, reply, principal, 'export')) return reply;
    const data = await service.exportData(principal.account.id, { ip: request.ip });
    const day = data.exportedAt.slice(0, 10).replaceAll('-', '');
    return reply.status(200)
      .type('application/json; charset=utf-8')
      .header('content-disposition', `attachment; filename="account-export-${day}.json"`)
      .send(JSON.stringify(data, null, 2));
  });

  const closesAtIfNow = () => new Date(runtime.clock().getTime() + settings.coolingOffDays * 86400_000);

  scope.get('/deregister', async (request, reply) => {
    const principal = await authorize(request, reply, 'deregister');
    if (!principal || !requireFresh(request, reply, principal, 'deregister')) return reply;
    return sendPage(reply, 200, deregisterPage(pageContext(request, reply, principal), { days: settings.coolingOffDays, closesAt: closesAtIfNow(), retention: settings.retention }));
  });

  scope.post('/deregister', { schema: formSchema({ confirm: 8 }) }, async (request, reply) => {
    const principal = await authorize(request, reply, 'deregister');
    if (!principal || !requireFresh(request, reply, principal, 'deregister')) return reply;
    if (field(request.body, 'confirm') !== 'yes') {
      const ctx = pageContext(request, reply, principal, '/account/deregister');
      return sendPage(reply, 400, deregisterPage(ctx, {
        days: settings.coolingOffDays, closesAt: closesAtIfNow(), retention: settings.retention, error: st(ctx.locale, 'deregister.required'),
      }));
    }
    const { closesAt } = await service.requestDeregistration(principal.account.id, { ip: request.ip });
    await endPortalSession(reply, principal.sessionId);
    return sendPage(reply, 200, deregisteredPage(pageContext(request, reply), closesAt));
  });

  scope.get('/logout', async (request, reply) => {
    const principal = await authorize(request, reply);
    if (!principal) return reply;
    return sendPage(reply, 200, logoutPage(pageContext(request, reply, principal)));
  });

  scope.post('/logout', { schema: formSchema({}) }, async (request, reply) => {
    const principal = await authorize(request, reply);
    if (!principal) return reply;
    await endPortalSession(reply, principal.sessionId);
    let config: client.Configuration;
    try {
      config = await relyingParty.getConfiguration();
    } catch (error) {
      return unavailable(request, reply, error);
    }
    const url = client.buildEndSessionUrl(config, { id_token_hint: principal.session.idToken, post_logout_redirect_uri: postLogoutRedirectUri, state: SIGNED_OUT_STATE });
    return reply.redirect(url.href, 303);
  });

  await registerResetRoutes(scope, { kit, reset, csrf: runtime.csrf, cookieOptions, equalSecret: runtime.protector.equalSecret });
}
