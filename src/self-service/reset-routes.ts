import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../http/errors.ts';
import type { Csrf } from '../interactions/csrf.ts';
import { readSignedCookie } from '../oidc/relying-party.ts';
import { st } from './messages.ts';
import { messagePage, resetPage, type ResetStep } from './pages.ts';
import { RESET_FLOW_SECONDS, type PasswordReset, type ResetFlow } from './password-reset.ts';
import { COOKIE_PATH, field, formSchema, type PortalKit, type Query } from './portal-kit.ts';

export const RESET_COOKIE = 'account_reset';
/** What the first page's CSRF token is bound to, before a flow (and its own token) exists. */
const FIRST_PAGE = 'account-reset';

type Loaded = { id: string; flow: ResetFlow };

/**
 * Password reset pages, reachable without signing in. A flow starts when a code is asked for and lives in
 * the hot store under an id kept in a signed cookie of this browser; its forms carry the flow's CSRF token.
 */
export async function registerResetRoutes(scope: FastifyInstance, deps: {
  kit: PortalKit;
  reset: PasswordReset;
  csrf: Csrf;
  cookieOptions: { path: string; httpOnly: boolean; sameSite: 'lax'; secure: boolean; signed: boolean };
  equalSecret: (a: string, b: string) => boolean;
}) {
  const { kit, reset, csrf } = deps;

  function firstPageToken(request: FastifyRequest, reply: FastifyReply) {
    let nonce = request.cookies[csrf.cookieName];
    if (!nonce) {
      nonce = csrf.newBrowserNonce();
      reply.setCookie(csrf.cookieName, nonce, csrf.cookieOptions);
    }
    return csrf.tokenFor(nonce, FIRST_PAGE);
  }

  function render(request: FastifyRequest, reply: FastifyReply, loaded: Loaded | undefined, extra: { status?: number; step?: ResetStep; error?: string; idNumber?: string } = {}) {
    const ctx = kit.pageContext(request, reply, { csrf: loaded?.flow.csrf ?? firstPageToken(request, reply), fallback: '/account/reset' });
    return kit.sendPage(reply, extra.status ?? 200, resetPage(ctx, {
      step: extra.step ?? loaded?.flow.step ?? 'id', error: extra.error, idNumber: extra.idNumber, factors: loaded?.flow.factors, bankSent: loaded?.flow.bankSent,
    }));
  }

  function expired(request: FastifyRequest, reply: FastifyReply) {
    const ctx = kit.pageContext(request, reply, { fallback: '/account/reset' });
    return kit.sendPage(reply, 403, messagePage(ctx, {
      title: st(ctx.locale, 'error.title'), message: st(ctx.locale, 'error.expired'), links: [{ href: '/account/reset?restart=1', label: st(ctx.locale, 'reset.restart') }],
    }));
  }

  async function current(request: FastifyRequest): Promise<Loaded | undefined> {
    const id = readSignedCookie(request, RESET_COOKIE);
    const flow = await reset.load(id);
    return id && flow ? { id, flow } : undefined;
  }

  /** The flow of this browser at one of `steps`, with its CSRF token; otherwise the expired page is sent. */
  async function loadForPost(request: FastifyRequest, reply: FastifyReply, steps: readonly ResetFlow['step'][]): Promise<Loaded | undefined> {
    const loaded = await current(request);
    if (!loaded || !deps.equalSecret(loaded.flow.csrf, field(request.body, 'csrf')) || !steps.includes(loaded.flow.step)) {
      expired(request, reply);
      return undefined;
    }
    return loaded;
  }

  /** Runs a step; a typed error shows the step's page again with the message. */
  async function step(request: FastifyRequest, reply: FastifyReply, loaded: Loaded, onError: { step?: ResetStep }, action: () => Promise<ResetFlow | 'sent'>) {
    try {
      const next = await action();
      if (next === 'sent') return reply;
      return render(request, reply, { id: loaded.id, flow: next });
    } catch (error) {
      const { status, message } = kit.userFacing(error, kit.localeOf(request, reply));
      const latest = (await reset.load(loaded.id)) ?? loaded.flow;
      return render(request, reply, { id: loaded.id, flow: latest }, { status, error: message, ...onError });
    }
  }

  scope.get<{ Querystring: Query }>('/reset', async (request, reply) => {
    const loaded = await current(request);
    if (request.query.restart) {
      if (loaded) await reset.discard(loaded.id);
      reply.clearCookie(RESET_COOKIE, { path: COOKIE_PATH });
      return render(request, reply, undefined);
    }
    let error: string | undefined;
    if (loaded?.flow.lastError) {
      error = kit.userFacing(new AppError(loaded.flow.lastError, loaded.flow.lastError), kit.localeOf(request, reply)).message;
      loaded.flow = { ...loaded.flow, lastError: undefined };
      await reset.save(loaded.id, loaded.flow);
    }
    return render(request, reply, loaded, { error });
  });

  scope.post('/reset/start', { schema: formSchema({ id_number: 32 }, ['id_number']) }, async (request, reply) => {
    const token = field(request.body, 'csrf');
    const existing = await current(request);
    const continuing = existing && existing.flow.step === 'code' && deps.equalSecret(existing.flow.csrf, token) ? existing : undefined;
    if (!continuing && !csrf.isValid(request.cookies[csrf.cookieName], FIRST_PAGE, token)) return expired(request, reply);
    const idNumber = field(request.body, 'id_number');
    try {
      const started = await reset.start(continuing, { idNumber, ip: request.ip });
      if (!continuing) reply.setCookie(RESET_COOKIE, started.id, { ...deps.cookieOptions, maxAge: RESET_FLOW_SECONDS });
      return render(request, reply, started);
    } catch (error) {
      const { status, message } = kit.userFacing(error, kit.localeOf(request, reply));
      return render(request, reply, continuing, { status, error: message, step: 'id', idNumber });
    }
  });

  scope.post('/reset/verify', { schema: formSchema({ code: 16 }, ['code']) }, async (request, reply) => {
    const loaded = await loadForPost(request, reply, ['code']);
    if (!loaded) return reply;
    return step(request, reply, loaded, { step: 'code' }, () => reset.verifyCode(loaded.id, loaded.flow, { code: field(request.body, 'code').trim(), ip: request.ip }));
  });

  scope.post('/reset/face', { schema: formSchema({}) }, async (request, reply) => {
    const loaded = await loadForPost(request, reply, ['second']);
    if (!loaded) return reply;
    return step(request, reply, loaded, {}, async () => {
      const { captureUrl } = await reset.startFace(loaded.id, loaded.flow, request.ip);
      reply.redirect(captureUrl, 303);
      return 'sent';
    });
  });

  scope.post('/reset/bank/check', { schema: formSchema({ card_number: 40, phone: 32 }, ['card_number', 'phone']) }, async (request, reply) => {
    const loaded = await loadForPost(request, reply, ['second']);
    if (!loaded) return reply;
    return step(request, reply, loaded, {}, () => reset.checkBank(loaded.id, loaded.flow, {
      cardNumber: field(request.body, 'card_number'), phone: field(request.body, 'phone'), ip: request.ip,
    }));
  });

  scope.post('/reset/bank/confirm', { schema: formSchema({ code: 16 }, ['code']) }, async (request, reply) => {
    const loaded = await loadForPost(request, reply, ['second']);
    if (!loaded) return reply;
    return step(request, reply, loaded, {}, () => reset.confirmBank(loaded.id, loaded.flow, { code: field(request.body, 'code').trim(), ip: request.ip }));
  });

  scope.post('/reset/password', { schema: formSchema({ password: 1024, password_confirm: 1024 }, ['password', 'password_confirm']) }, async (request, reply) => {
    const loaded = await loadForPost(request, reply, ['password']);
    if (!loaded) return reply;
    return step(request, reply, loaded, {}, async () => {
      await reset.complete(loaded.id, loaded.flow, { password: field(request.body, 'password'), confirm: field(request.body, 'password_confirm'), ip: request.ip });
      reply.clearCookie(RESET_COOKIE, { path: COOKIE_PATH });
      const ctx = kit.pageContext(request, reply, { fallback: '/account/reset' });
      kit.sendPage(reply, 200, resetPage(ctx, { step: 'done' }));
      return 'sent';
    });
  });
}
