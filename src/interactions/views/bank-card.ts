import { t } from '../i18n.ts';
import { html } from './html.ts';
import { csrfInput, errorBox, field, layout, noticeBox } from './layout.ts';
import type { PageContext } from './pages.ts';

export function bankCardPage(ctx: PageContext, state: { step?: 'card' | 'code'; sent?: { phoneMasked: string; cardMasked: string }; error?: string; unavailable?: boolean } = {}) {
  const { locale } = ctx;
  return layout({
    locale, title: t(locale, 'bank.title'), langSwitchHref: ctx.langSwitchHref,
    body: html`<p>${t(locale, 'bank.intro')}</p>
${errorBox(state.error)}${state.sent ? noticeBox(t(locale, 'bank.sent', { card: state.sent.cardMasked, phone: state.sent.phoneMasked })) : ''}
${state.step === 'code' ? html`<form method="post" action="/interaction/${ctx.uid}/bank/confirm" novalidate>
${csrfInput(ctx.csrf)}
${field({ name: 'code', label: t(locale, 'sms.code'), hint: t(locale, 'sms.code.hint'), autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: 6, autofocus: true })}
<button type="submit">${t(locale, 'stepup.confirm')}</button>
</form>` : html`<form method="post" action="/interaction/${ctx.uid}/bank/check" novalidate>
${csrfInput(ctx.csrf)}
${field({ name: 'card_number', label: t(locale, 'bank.card'), inputmode: 'numeric', autocomplete: 'off', maxlength: 32, autofocus: true })}
${field({ name: 'phone', label: t(locale, 'bank.phone'), type: 'tel', inputmode: 'tel', autocomplete: 'tel', maxlength: 20 })}
<button type="submit">${t(locale, 'bank.check')}</button>
</form>`}
<form method="post" action="/interaction/${ctx.uid}/abort" class="inline">${csrfInput(ctx.csrf)}${state.unavailable ? html`<input type="hidden" name="reason" value="unavailable">` : ''}<button type="submit" class="link" id="bank-cancel">${t(locale, 'unmet.back', { client: ctx.clientName })}</button></form>`,
  });
}
