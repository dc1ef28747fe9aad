import type { FastifyReply, FastifyRequest } from 'fastify';
import { ConnectorError } from '../connectors/errors.ts';
import { AppError } from '../http/errors.ts';
import { applyPageSecurityHeaders } from '../http/security-headers.ts';
import { describeError } from '../interactions/error-messages.ts';
import { pickLocale, type Locale } from '../interactions/i18n.ts';
import { SELF_SERVICE_ERRORS } from './messages.ts';
import type { PageContext, PortalUser } from './pages.ts';

export const COOKIE_PATH = '/account';
const LANG_COOKIE = 'account_lang';

export type Query = Record<string, string | undefined>;
export type Body = Record<string, string | undefined> | undefined;

export const field = (body: unknown, name: string): string => {
  const value = (body as Body)?.[name];
  return typeof value === 'string' ? value : '';
};

/** Bounded string fields of a form; csrf is checked by the handler, so a missing token reads as an expired page. */
export function formSchema(fields: Record<string, number>, required: readonly string[] = []) {
  return {
    body: {
      type: 'object',
      properties: { csrf: { type: 'string', maxLength: 128 }, ...Object.fromEntries(Object.entries(fields).map(([name, maxLength]) => [name, { type: 'string', maxLength }])) },
      required: [...required],
      additionalProperties: false,
    },
  };
}

/** Locale, page context, rendering and error messages shared by the account pages and the password reset. */
export function createPortalKit(options: { secure: boolean }) {
  function localeOf(request: FastifyRequest, reply: FastifyReply): Locale {
    const lang = (request.query as Query | undefined)?.lang;
    const locale = pickLocale(lang, request.cookies[LANG_COOKIE]);
    if (lang) reply.setCookie(LANG_COOKIE, locale, { path: COOKIE_PATH, httpOnly: true, sameSite: 'lax', secure: options.secure, maxAge: 365 * 86400 });
    return locale;
  }

  /** A page answering a POST cannot be fetched again: its language switch leads to `fallback`. */
  function pageContext(request: FastifyRequest, reply: FastifyReply, extra: { user?: PortalUser; csrf?: string; fallback?: string } = {}): PageContext {
    const locale = localeOf(request, reply);
    const url = new URL(request.method === 'GET' ? request.url : (extra.fallback ?? '/account/'), 'http://localhost');
    url.searchParams.delete('reauth');
    url.searchParams.set('lang', locale === 'en' ? 'zh-CN' : 'en');
    return { locale, langSwitchHref: `${url.pathname}${url.search}`, user: extra.user, csrf: extra.csrf };
  }

  function sendPage(reply: FastifyReply, status: number, body: string) {
    applyPageSecurityHeaders(reply);
    return reply.status(status).type('text/html; charset=utf-8').send(body);
  }

  /** What a person can act on, as a message on the page; anything else is a server error. */
  function userFacing(error: unknown, locale: Locale): { status: number; message: string; code?: string } {
    if (error instanceof AppError) {
      const message = SELF_SERVICE_ERRORS[error.code]?.[locale] ?? describeError(error, locale);
      return { status: error.status >= 400 ? error.status : 400, message, code: error.code };
    }
    if (error instanceof ConnectorError) return { status: 503, message: describeError(new AppError('service_unavailable', 'Service unavailable'), locale), code: 'service_unavailable' };
    throw error;
  }

  return { localeOf, pageContext, sendPage, userFacing };
}

export type PortalKit = ReturnType<typeof createPortalKit>;
