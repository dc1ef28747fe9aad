import { t, type Locale } from '../i18n.ts';
import { html, raw } from './html.ts';
import { csrfInput, errorBox, field, layout, noticeBox } from './layout.ts';

/** Sign-in buttons of upstream identity providers (src/federation), already in the page's language. */
export type UpstreamChoices = { heading: string; links: readonly { href: string; label: string }[] };

export type PageContext = {
  locale: Locale; uid: string; csrf: string; clientName: string; langSwitchHref: string; upstreams?: UpstreamChoices;
  /** CA-certificate login is offered (src/authn/certificate). */
  certificateLogin?: boolean;
};

export const tabs = (ctx: PageContext, active: 'password' | 'sms' | 'certificate') => html`<nav class="tabs" aria-label="${t(ctx.locale, 'login.title')}">
<a href="/interaction/${ctx.uid}"${active === 'password' ? html` aria-current="page"` : ''}>${t(ctx.locale, 'login.tab.password')}</a>
<a href="/interaction/${ctx.uid}/sms"${active === 'sms' ? html` aria-current="page"` : ''}>${t(ctx.locale, 'login.tab.sms')}</a>
${ctx.certificateLogin ? html`<a id="tab-certificate" href="/interaction/${ctx.uid}/certificate"${active === 'certificate' ? html` aria-current="page"` : ''}>${t(ctx.locale, 'login.tab.certificate')}</a>` : ''}
</nav>`;

const upstreamLinks = (choices: UpstreamChoices | undefined) => choices && choices.links.length > 0
  ? html`<section class="upstreams"><h2>${choices.heading}</h2>
<ul>${choices.links.map((link) => html`<li><a href="${link.href}">${link.label}</a></li>`)}</ul>
</section>` : '';

const footerLinks = (ctx: PageContext) => html`<p class="links"><a href="/interaction/${ctx.uid}/register">${t(ctx.locale, 'login.register')}</a> · <a href="/account/reset">${t(ctx.locale, 'login.forgot')}</a></p>
<form method="post" action="/interaction/${ctx.uid}/abort" class="inline">${csrfInput(ctx.csrf)}<button type="submit" class="link">${t(ctx.locale, 'login.cancel')}</button></form>`;

export function loginPage(ctx: PageContext, state: { identifier?: string; error?: string } = {}) {
  const { locale } = ctx;
  return layout({
    locale, title: t(locale, 'login.title'), langSwitchHref: ctx.langSwitchHref,
    body: html`<p class="for">${t(locale, 'login.for', { client: ctx.clientName })}</p>
${tabs(ctx, 'password')}
${errorBox(state.error)}
<form method="post" action="/interaction/${ctx.uid}/login" novalidate>
${csrfInput(ctx.csrf)}
${field({ name: 'identifier', label: t(locale, 'login.identifier'), value: state.identifier, hint: t(locale, 'login.identifier.hint'), autocomplete: 'username', maxlength: 64, autofocus: true })}
${field({ name: 'password', label: t(locale, 'login.password'), type: 'password', autocomplete: 'current-password', maxlength: 128 })}
<button type="submit">${t(locale, 'login.submit')}</button>
</form>
${upstreamLinks(ctx.upstreams)}
${footerLinks(ctx)}`,
  });
}

export function smsLoginPage(ctx: PageContext, state: { phone?: string; sent?: string; error?: string } = {}) {
  const { locale } = ctx;
  return layout({
    locale, title: t(locale, 'login.title'), langSwitchHref: ctx.langSwitchHref,
    body: html`<p class="for">${t(locale, 'login.for', { client: ctx.clientName })}</p>
${tabs(ctx, 'sms')}
${errorBox(state.error)}${noticeBox(state.sent)}
<form method="post" action="/interaction/${ctx.uid}/sms/send" novalidate>
${csrfInput(ctx.csrf)}
${field({ name: 'phone', label: t(locale, 'sms.phone'), type: 'tel', value: state.phone, hint: t(locale, 'sms.phone.hint'), autocomplete: 'tel', inputmode: 'tel', maxlength: 20, autofocus: !state.sent })}
<button type="submit" class="secondary">${state.sent ? t(locale, 'sms.resend') : t(locale, 'sms.send')}</button>
</form>
${state.sent || state.error ? html`<form method="post" action="/interaction/${ctx.uid}/sms/verify" novalidate>
${csrfInput(ctx.csrf)}
<input type="hidden" name="phone" value="${state.phone ?? ''}">
${field({ name: 'code', label: t(locale, 'sms.code'), hint: t(locale, 'sms.code.hint'), autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: 6, autofocus: true })}
<button type="submit">${t(locale, 'login.submit')}</button>
</form>` : ''}
${footerLinks(ctx)}`,
  });
}

export function registerPage(ctx: PageContext, state: { name?: string; idNumber?: string; phone?: string; error?: string } = {}) {
  const { locale } = ctx;
  return layout({
    locale, title: t(locale, 'register.title'), langSwitchHref: ctx.langSwitchHref,
    body: html`<p>${t(locale, 'register.intro')}</p>
${errorBox(state.error)}
<form method="post" action="/interaction/${ctx.uid}/register/send-code" novalidate>
${csrfInput(ctx.csrf)}
${field({ name: 'name', label: t(locale, 'register.name'), value: state.name, autocomplete: 'name', maxlength: 50, autofocus: true })}
${field({ name: 'id_number', label: t(locale, 'register.idNumber'), value: state.idNumber, maxlength: 24, autocomplete: 'off' })}
${field({ name: 'phone', label: t(locale, 'sms.phone'), type: 'tel', value: state.phone, hint: t(locale, 'sms.phone.hint'), autocomplete: 'tel', inputmode: 'tel', maxlength: 20 })}
<button type="submit">${t(locale, 'register.next')}</button>
</form>
<p class="links"><a href="/interaction/${ctx.uid}">${t(locale, 'register.back')}</a></p>`,
  });
}

export function registerCompletePage(ctx: PageContext, state: { phoneMasked: string; error?: string }) {
  const { locale } = ctx;
  return layout({
    locale, title: t(locale, 'register.title'), langSwitchHref: ctx.langSwitchHref,
    body: html`${errorBox(state.error)}${state.error ? '' : noticeBox(t(locale, 'sms.sent.register', { phone: state.phoneMasked }))}
<form method="post" action="/interaction/${ctx.uid}/register/complete" novalidate>
${csrfInput(ctx.csrf)}
${field({ name: 'code', label: t(locale, 'sms.code'), hint: t(locale, 'sms.code.hint'), autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: 6, autofocus: true })}
${field({ name: 'password', label: t(locale, 'register.password'), type: 'password', hint: t(locale, 'register.password.hint'), autocomplete: 'new-password', maxlength: 128 })}
${field({ name: 'password_confirm', label: t(locale, 'register.passwordConfirm'), type: 'password', autocomplete: 'new-password', maxlength: 128 })}
<button type="submit">${t(locale, 'register.submit')}</button>
</form>
<p class="links"><a href="/interaction/${ctx.uid}/register">${t(locale, 'register.title')}</a></p>`,
  });
}

export function consentPage(ctx: PageContext, scopes: readonly string[]) {
  const { locale } = ctx;
  const known = new Set(['openid', 'profile', 'phone', 'id_number', 'offline_access']);
  return layout({
    locale, title: t(locale, 'consent.title'), langSwitchHref: ctx.langSwitchHref,
    body: html`<p>${t(locale, 'consent.intro', { client: ctx.clientName })}</p>
<ul class="scopes">${scopes.filter((s) => known.has(s)).map((s) => html`<li>${t(locale, `scope.${s}` as 'scope.openid')}</li>`)}</ul>
<div class="actions">
<form method="post" action="/interaction/${ctx.uid}/consent">${csrfInput(ctx.csrf)}<button type="submit">${t(locale, 'consent.allow')}</button></form>
<form method="post" action="/interaction/${ctx.uid}/abort">${csrfInput(ctx.csrf)}<button type="submit" class="secondary">${t(locale, 'consent.deny')}</button></form>
</div>`,
  });
}

export function errorPage(locale: Locale, message: string, detail?: { error?: string; description?: string }) {
  return layout({
    locale, title: t(locale, 'error.title'),
    body: html`${errorBox(message)}${detail?.error ? html`<p class="code"><code>${detail.error}</code>${detail.description ? html`: ${detail.description}` : ''}</p>` : ''}`,
  });
}

/** `providerForm` is oidc-provider's own hidden form (action + xsrf token); our buttons submit it. */
export function logoutConfirmPage(locale: Locale, providerForm: string) {
  return layout({
    locale, title: t(locale, 'logout.title'),
    body: html`<p>${t(locale, 'logout.question')}</p>
${raw(providerForm)}
<div class="actions"><button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>${t(locale, 'logout.yes')}</button>
<button type="submit" form="op.logoutForm" class="secondary">${t(locale, 'logout.no')}</button></div>`,
  });
}

export function loggedOutPage(locale: Locale) {
  return layout({ locale, title: t(locale, 'logout.title'), body: html`${noticeBox(t(locale, 'logout.done'))}` });
}
