import type { KoaContextWithOIDC } from 'oidc-provider';
import { PAGE_CSP } from '../http/security-headers.ts';
import type { ProviderPages } from '../oidc/provider.ts';
import { pickLocale, t } from './i18n.ts';
import { errorPage, loggedOutPage, logoutConfirmPage } from './views/pages.ts';

const localeOf = (ctx: KoaContextWithOIDC) =>
  pickLocale((ctx.oidc?.params?.ui_locales as string | undefined), ctx.cookies.get('idp_lang') ?? undefined);

function send(ctx: KoaContextWithOIDC, body: string) {
  ctx.type = 'html';
  ctx.set('content-security-policy', PAGE_CSP);
  ctx.set('x-frame-options', 'DENY');
  ctx.set('cache-control', 'no-store');
  ctx.body = body;
}

/**
 * Pages oidc-provider renders itself. An error page is shown, never a redirect, when the redirect URI or
 * client cannot be trusted (OIDC conformance `oidcc-ensure-registered-redirect-uri`).
 */
export const providerPages: ProviderPages = {
  async renderError(ctx, out) {
    const locale = localeOf(ctx);
    send(ctx, errorPage(locale, t(locale, 'error.back'), { error: out.error, description: out.error_description }));
  },
  async logoutSource(ctx, form) {
    send(ctx, logoutConfirmPage(localeOf(ctx), form));
  },
  async postLogoutSuccessSource(ctx) {
    send(ctx, loggedOutPage(localeOf(ctx)));
  },
};
