import type { FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { Verified } from '../authn/types.ts';
import { ConnectorError } from '../connectors/errors.ts';
import { AppError } from '../http/errors.ts';
import { applyPageSecurityHeaders } from '../http/security-headers.ts';
import type { Csrf } from './csrf.ts';
import { describeError } from './error-messages.ts';
import { pickLocale, t, type Locale } from './i18n.ts';
import { errorPage, type PageContext, type UpstreamChoices } from './views/pages.ts';
import type { MethodId } from '../assurance/levels.ts';
import type { VerifiedFactor } from '../assurance/session-facts-repository.ts';

export type Details = Awaited<ReturnType<Provider['interactionDetails']>>;
export type Params = { uid: string };
export type Body = Record<string, string>;

const LANG_COOKIE = 'idp_lang';

/**
 * What every interaction route needs: loading the interaction bound to this browser, the CSRF check,
 * page rendering with security headers, error messages a person can act on, and finishing a login.
 */
export function createInteractionKit(deps: {
  provider: Provider;
  csrf: Csrf;
  clock: () => Date;
  /** Told about every verified method before the login completes (e.g. to reset face failure counts). */
  onVerified?: (verified: Verified) => Promise<void>;
  /** Upstream identity providers to offer on the login page. */
  upstreamChoices?: (locale: Locale, uid: string) => UpstreamChoices | undefined;
  certificateLogin?: boolean;
}) {
  const { provider, csrf } = deps;

  /** `csp`: a page that must run our own script (the certificate page) widens the default policy. */
  function sendPage(reply: FastifyReply, status: number, body: string, options: { csp?: string } = {}) {
    applyPageSecurityHeaders(reply);
    if (options.csp) reply.header('content-security-policy', options.csp);
    return reply.status(status).type('text/html; charset=utf-8').send(body);
  }

  function localeOf(request: FastifyRequest, details?: Details): Locale {
    const query = request.query as { lang?: string };
    return pickLocale(query.lang, request.cookies[LANG_COOKIE], details?.params.ui_locales as string | undefined);
  }

  /** The interaction must belong to this browser (oidc-provider checks its interaction cookie). */
  async function load(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) {
    try {
      const details = await provider.interactionDetails(request.raw, reply.raw);
      if (details.uid !== request.params.uid) throw new Error('interaction mismatch');
      return details;
    } catch {
      const locale = localeOf(request);
      sendPage(reply, 400, errorPage(locale, t(locale, 'error.session')));
      return undefined;
    }
  }

  async function pageContext(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, details: Details): Promise<PageContext> {
    const locale = localeOf(request, details);
    const query = request.query as { lang?: string };
    if (query.lang) reply.setCookie(LANG_COOKIE, locale, { path: '/', httpOnly: true, sameSite: 'lax', maxAge: 365 * 86400, secure: csrf.cookieOptions.secure });
    let nonce = request.cookies[csrf.cookieName];
    if (!nonce) {
      nonce = csrf.newBrowserNonce();
      reply.setCookie(csrf.cookieName, nonce, csrf.cookieOptions);
    }
    const client = await provider.Client.find(String(details.params.client_id));
    const path = request.url.split('?')[0].replace(/\/(login|send|verify|send-code|complete|consent|abort|signed|tls-return|proxy)$/, '');
    return {
      locale,
      uid: details.uid,
      csrf: csrf.tokenFor(nonce, details.uid),
      clientName: client?.clientName ?? String(details.params.client_id),
      langSwitchHref: `${path}?lang=${locale === 'en' ? 'zh-CN' : 'en'}`,
      upstreams: deps.upstreamChoices?.(locale, details.uid),
      certificateLogin: deps.certificateLogin,
    };
  }

  /** Loads the interaction and checks the CSRF token; renders the error page itself when either fails. */
  async function loadForPost(request: FastifyRequest<{ Params: Params; Body: Body }>, reply: FastifyReply) {
    const details = await load(request, reply);
    if (!details) return undefined;
    if (!csrf.isValid(request.cookies[csrf.cookieName], details.uid, request.body.csrf)) {
      const locale = localeOf(request, details);
      sendPage(reply, 403, errorPage(locale, t(locale, 'error.csrf')));
      return undefined;
    }
    return { details, ctx: await pageContext(request, reply, details) };
  }

  const attempt = (request: FastifyRequest, details: Details) => ({
    ip: request.ip, interactionId: details.uid, clientId: String(details.params.client_id),
  });

  /** Maps what a person can act on to a message on the page; anything else is a server error. */
  function userFacing(error: unknown, locale: Locale): { status: number; message: string } {
    if (error instanceof AppError) return { status: error.status, message: describeError(error, locale) };
    if (error instanceof ConnectorError) return { status: 503, message: describeError(new AppError('service_unavailable', 'Service unavailable'), locale) };
    throw error;
  }

  /**
   * Completes the login prompt. `factors` tells the assurance check which method was just verified; it
   * sets `acr`/`amr` from everything still fresh in the session, so a step-up adds to what was done.
   */
  async function finishLogin(request: FastifyRequest, reply: FastifyReply, verified: Verified,
    options: { methods?: readonly MethodId[]; factors?: readonly VerifiedFactor[]; at?: number } = {}) {
    await deps.onVerified?.(verified);
    const redirectTo = await provider.interactionResult(request.raw, reply.raw, {
      login: {
        accountId: verified.accountId,
        amr: [...verified.amr],
        ts: options.at ?? Math.floor(deps.clock().getTime() / 1000),
        remember: true,
      },
      // An upstream login stands for several of our methods at once (its mapping); a local one for one.
      // A certificate carries its limits (the level its CA maps to, `pin`) as a VerifiedFactor.
      factors: options.factors ? [...options.factors] : options.methods ? [...options.methods] : [verified.method],
    }, { mergeWithLastSubmission: false });
    return reply.redirect(redirectTo, 303);
  }

  return { sendPage, localeOf, load, pageContext, loadForPost, attempt, userFacing, finishLogin };
}

export type InteractionKit = ReturnType<typeof createInteractionKit>;
