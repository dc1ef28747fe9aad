import type { LevelDefinition, LevelCatalog, MethodId } from '../../assurance/levels.ts';
import { t, type Locale } from '../i18n.ts';
import { html } from './html.ts';
import { csrfInput, errorBox, field, layout, noticeBox } from './layout.ts';
import type { PageContext } from './pages.ts';

const levelLabel = (level: LevelDefinition, locale: Locale) =>
  locale === 'en' ? `${level.name.en} (${level.id})` : `${level.name['zh-CN']}（${level.id}）`;
const methodList = (catalog: LevelCatalog, methods: readonly MethodId[], locale: Locale) =>
  methods.map((m) => catalog.methods[m].name[locale]).join(t(locale, 'list.separator'));

/** "SMS code, face verification" — or, with alternatives now, "face verification or bank-card verification". */
function todo(state: StepUpState, locale: Locale): string {
  if (state.next.length <= 1) return methodList(state.catalog, state.missing, locale);
  const choice = state.next.map((m) => state.catalog.methods[m].name[locale]).join(t(locale, 'list.or'));
  return [choice, ...state.missing.slice(1).map((m) => state.catalog.methods[m].name[locale])].join(t(locale, 'list.separator'));
}

export type StepUpState = {
  catalog: LevelCatalog;
  target: LevelDefinition;
  done: readonly MethodId[];
  missing: readonly MethodId[];
  /** Methods offered now (equally good next steps, e.g. face or bank card). */
  next: readonly MethodId[];
  phoneMasked: string | null;
  smsSent?: boolean;
  error?: string;
  errorCode?: string;
  notice?: string;
  /** Offer a CA certificate as well (it proves and authenticates up to its CA's level). */
  certificate?: boolean;
};

/** Says which service asks for which level, what is already done, and asks for the next missing method only. */
export function stepUpPage(ctx: PageContext, state: StepUpState) {
  const { locale } = ctx;
  const offers = (method: MethodId) => state.next.includes(method);
  return layout({
    locale, title: t(locale, 'stepup.title'), langSwitchHref: ctx.langSwitchHref,
    body: html`<p class="for" id="step-up-reason">${t(locale, 'stepup.reason', { client: ctx.clientName, level: levelLabel(state.target, locale) })}</p>
${state.done.length ? html`<p>${t(locale, 'stepup.done', { methods: methodList(state.catalog, state.done, locale) })}</p>` : ''}
<p id="step-up-missing">${t(locale, 'stepup.todo', { methods: todo(state, locale) })}</p>
${errorBox(state.error)}${noticeBox(state.notice)}
${offers('pwd') ? html`<form method="post" action="/interaction/${ctx.uid}/step-up/password" novalidate>
${csrfInput(ctx.csrf)}
${field({ name: 'password', label: t(locale, 'stepup.password'), type: 'password', autocomplete: 'current-password', maxlength: 128, autofocus: true })}
<button type="submit">${t(locale, 'stepup.confirm')}</button>
</form>` : ''}
${offers('sms') ? html`<p>${t(locale, 'stepup.sms.intro', { phone: state.phoneMasked ?? '' })}</p>
<form method="post" action="/interaction/${ctx.uid}/step-up/sms/send">${csrfInput(ctx.csrf)}
<button type="submit" class="${state.smsSent ? 'secondary' : ''}">${state.smsSent ? t(locale, 'sms.resend') : t(locale, 'sms.send')}</button></form>
${state.smsSent ? html`<form method="post" action="/interaction/${ctx.uid}/step-up/sms/verify" novalidate>
${csrfInput(ctx.csrf)}
${field({ name: 'code', label: t(locale, 'sms.code'), hint: t(locale, 'sms.code.hint'), autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: 6, autofocus: true })}
<button type="submit">${t(locale, 'stepup.confirm')}</button>
</form>` : ''}` : ''}
${offers('face') ? html`<p class="links"><a id="face-start" href="/interaction/${ctx.uid}/face">${t(locale, 'face.start')}</a></p>` : ''}
${offers('bank') ? html`<p class="links"><a id="bank-start" href="/interaction/${ctx.uid}/bank">${t(locale, 'bank.start')}</a></p>` : ''}
${offers('hwk') || offers('swk') || state.certificate ? html`<p class="links"><a id="certificate-start" href="/interaction/${ctx.uid}/certificate">${t(locale, 'cert.stepup')}</a></p>` : ''}
<p class="links"><a href="/interaction/${ctx.uid}?switch=1">${t(locale, 'stepup.switch')}</a></p>
<form method="post" action="/interaction/${ctx.uid}/abort" class="inline">${csrfInput(ctx.csrf)}${state.errorCode === 'face_unavailable' ? html`<input type="hidden" name="reason" value="unavailable">` : ''}<button type="submit" class="link" id="step-up-cancel">${t(locale, 'unmet.back', { client: ctx.clientName })}</button></form>`,
  });
}

/** The level cannot be reached with what the account has: say what the person can do, and go back. */
export function unmetPage(ctx: PageContext, state: { target: LevelDefinition; reason: 'proofing' | 'methods'; certificate?: boolean }) {
  const { locale } = ctx;
  return layout({
    locale, title: t(locale, 'unmet.title'), langSwitchHref: ctx.langSwitchHref,
    body: html`<p>${t(locale, 'unmet.intro', { client: ctx.clientName, level: levelLabel(state.target, locale) })}</p>
<p id="unmet-advice">${t(locale, state.reason === 'proofing' ? 'unmet.proofing' : 'unmet.methods')}</p>
${state.certificate ? html`<p class="links"><a id="certificate-start" href="/interaction/${ctx.uid}/certificate">${t(locale, 'cert.unmet')}</a></p>` : ''}
<form method="post" action="/interaction/${ctx.uid}/unmet">${csrfInput(ctx.csrf)}
<button type="submit">${t(locale, 'unmet.back', { client: ctx.clientName })}</button></form>`,
  });
}
