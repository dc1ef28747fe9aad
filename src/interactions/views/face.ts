import { t } from '../i18n.ts';
import { html } from './html.ts';
import { csrfInput, layout, noticeBox } from './layout.ts';
import type { PageContext } from './pages.ts';

/** Separate consent for sensitive personal information (PIPL Art. 29), with purpose, retention and an alternative. */
export function faceConsentPage(ctx: PageContext) {
  const { locale } = ctx;
  return layout({
    locale, title: t(locale, 'face.consent.title'), langSwitchHref: ctx.langSwitchHref,
    body: html`<p>${t(locale, 'face.consent.purpose', { client: ctx.clientName })}</p>
<p id="face-data">${t(locale, 'face.consent.data')}</p>
<p id="face-alternative">${t(locale, 'face.consent.alternative')}</p>
<div class="actions">
<form method="post" action="/interaction/${ctx.uid}/face/start">${csrfInput(ctx.csrf)}<button type="submit" id="face-agree">${t(locale, 'face.consent.agree')}</button></form>
<form method="post" action="/interaction/${ctx.uid}/face/decline">${csrfInput(ctx.csrf)}<button type="submit" class="secondary">${t(locale, 'face.consent.decline')}</button></form>
</div>`,
  });
}

export function facePendingPage(ctx: PageContext, transactionId: string) {
  const { locale } = ctx;
  return layout({
    locale, title: t(locale, 'face.consent.title'), langSwitchHref: ctx.langSwitchHref,
    body: html`${noticeBox(t(locale, 'face.pending'))}
<p class="links"><a href="/interaction/${ctx.uid}/face/return?transactionId=${encodeURIComponent(transactionId)}">${t(locale, 'face.check')}</a></p>`,
  });
}
