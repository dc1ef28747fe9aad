import type { LevelCatalog } from '../assurance/levels.ts';
import type { AuditRecord } from '../audit/audit-log.ts';
import { t, type Locale } from '../interactions/i18n.ts';
import { html, type SafeHtml } from '../interactions/views/html.ts';
import { csrfInput, errorBox, field, noticeBox } from '../interactions/views/layout.ts';
import { portalPage } from '../portal/page.ts';
import { EVENT_LABELS, st, type SelfServiceMessageKey } from './messages.ts';
import type { SecondFactor } from './second-factor.ts';
import type { AccountView, ConsentView, PhoneChangeMethod, SessionView } from './service.ts';
import type { ClosedAccountRetention } from './settings.ts';

export type PortalUser = { name: string; idNumberMasked: string };

export type PageContext = {
  locale: Locale;
  langSwitchHref: string;
  /** Present once signed in: the navigation and the sign-out form need it. */
  user?: PortalUser;
  csrf?: string;
  current?: 'overview' | 'phone' | 'export' | 'deregister';
};

// sv-SE formats as "2025-01-31 08:00", the form people read in logs.
const TIME = new Intl.DateTimeFormat('sv-SE', {
  timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false,
});
const DATE = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' });

const formatTime = (date: Date) => TIME.format(date);
const formatDate = (date: Date) => DATE.format(date);
const time = (date: Date | null | undefined) => (date ? html`<time datetime="${date.toISOString()}">${TIME.format(date)}</time>` : html`—`);

const maskName = (name: string) => {
  const chars = [...name];
  return chars.length <= 1 ? '*' : `${chars[0]}${'*'.repeat(chars.length - 1)}`;
};

const NAV: readonly { key: NonNullable<PageContext['current']>; href: string; label: SelfServiceMessageKey }[] = [
  { key: 'overview', href: '/account/', label: 'nav.overview' },
  { key: 'phone', href: '/account/phone', label: 'nav.phone' },
  { key: 'export', href: '/account/export', label: 'nav.export' },
  { key: 'deregister', href: '/account/deregister', label: 'nav.deregister' },
];

function portalLayout(ctx: PageContext, title: string, body: SafeHtml): string {
  const { locale, user } = ctx;
  return portalPage(ctx, title, body, {
    area: 'account',
    name: st(locale, 'portal.title'),
    skipLabel: st(locale, 'portal.skip'),
    nav: user && {
      label: st(locale, 'nav.label'),
      items: NAV.map((item) => html`<li><a href="${item.href}"${ctx.current === item.key ? html` aria-current="page"` : ''}>${st(locale, item.label)}</a></li>`),
      who: st(locale, 'nav.signedInAs', { name: maskName(user.name), id: user.idNumberMasked }),
      logoutLabel: st(locale, 'nav.logout'),
    },
  });
}

const methodNames = (catalog: LevelCatalog, amr: readonly string[], locale: Locale) => {
  const names = new Set<string>();
  for (const value of amr) {
    const method = value === 'otp' ? 'sms' : value;
    const definition = catalog.methods[method as keyof typeof catalog.methods];
    if (definition) names.add(definition.name[locale]);
  }
  return [...names].join(t(locale, 'list.separator')) || '—';
};

const scopeLabel = (scope: string, locale: Locale) =>
  ['openid', 'profile', 'phone', 'id_number', 'offline_access'].includes(scope) ? t(locale, `scope.${scope}` as 'scope.openid') : scope;

export function overviewPage(ctx: PageContext, data: {
  view: AccountView; sessions: readonly SessionView[]; consents: readonly ConsentView[]; events: readonly (AuditRecord & { clientName?: string })[];
  catalog: LevelCatalog; faceOffered: boolean; eventLimit: number; notice?: string; error?: string;
}): string {
  const { locale } = ctx;
  const { view, catalog } = data;
  const { account } = view;
  const proofingName = (id: string | null) => (id ? catalog.proofing.find((p) => p.id === id)?.name[locale] ?? id : '—');
  const latest = (kind: string) => view.proofings.filter((p) => p.proofing === kind).at(-1);
  const face = latest('biometric_verified');
  const banks = view.proofings.filter((p) => p.proofing === 'bank_verified');
  const inPerson = view.proofings.filter((p) => p.proofing === 'in_person' || p.certificateCa);
  const revoked = (p: { revoked: boolean }) => (p.revoked ? st(locale, 'auth.revoked') : '');

  const profile = html`<section aria-labelledby="profile-heading" id="profile">
<h2 id="profile-heading">${st(locale, 'profile.heading')}</h2>
<p class="muted">${st(locale, 'profile.masked')}</p>
<dl class="facts">
<dt>${st(locale, 'profile.name')}</dt><dd id="profile-name">${maskName(account.name)}</dd>
<dt>${st(locale, 'profile.idNumber')}</dt><dd id="profile-id-number">${account.idNumberMasked}</dd>
<dt>${st(locale, 'profile.proofing')}</dt><dd id="profile-proofing">${proofingName(view.bestProofing)}</dd>
<dt>${st(locale, 'profile.created')}</dt><dd>${time(account.createdAt)}</dd>
<dt>${st(locale, 'profile.status')}</dt><dd>${st(locale, `status.${account.status}` as SelfServiceMessageKey)}</dd>
</dl>
</section>`;

  const phone = html`<section aria-labelledby="phone-heading" id="phone">
<h2 id="phone-heading">${st(locale, 'phone.heading')}</h2>
<p id="bound-phone">${account.phoneMasked ? st(locale, 'phone.verified', { phone: account.phoneMasked }) : st(locale, 'phone.none')}</p>
<p><a href="/account/phone">${st(locale, 'nav.phone')}</a></p>
</section>`;

  const row = (label: string, state: SafeHtml | string, id: string) => html`<tr id="${id}"><th scope="row">${label}</th><td>${state}</td></tr>`;
  const authenticators = html`<section aria-labelledby="auth-heading" id="authenticators">
<h2 id="auth-heading">${st(locale, 'auth.heading')}</h2>
<table>
<thead><tr><th scope="col">${st(locale, 'auth.method')}</th><th scope="col">${st(locale, 'auth.state')}</th></tr></thead>
<tbody>
${row(st(locale, 'auth.password'), account.passwordHash
    ? (view.passwordChangedAt ? html`${st(locale, 'auth.password.set', { date: formatTime(view.passwordChangedAt) })}` : st(locale, 'auth.password.setUnknown'))
    : st(locale, 'auth.password.unset'), 'auth-password')}
${row(st(locale, 'auth.sms'), account.phoneMasked ? st(locale, 'auth.sms.to', { phone: account.phoneMasked }) : st(locale, 'phone.none'), 'auth-sms')}
${row(st(locale, 'auth.face'), face?.verifiedAt
    ? `${st(locale, 'auth.face.verified', { date: formatTime(face.verifiedAt) })}${revoked(face)}`
    : st(locale, data.faceOffered ? 'auth.face.none' : 'auth.face.off'), 'auth-face')}
${row(st(locale, 'auth.bank'), banks.length
    ? html`<ul class="plain">${banks.map((b) => html`<li>${st(locale, 'auth.bank.verified', { card: b.card ?? '—', date: b.verifiedAt ? formatTime(b.verifiedAt) : '—' })}${revoked(b)}</li>`)}</ul>`
    : '—', 'auth-bank')}
${row(st(locale, 'auth.cert'), inPerson.length
    ? html`<ul class="plain">${inPerson.map((p) => html`<li>${p.certificateCa
      ? st(locale, 'auth.cert.byCa', { ca: p.certificateCa, date: p.verifiedAt ? formatTime(p.verifiedAt) : '—' })
      : st(locale, 'auth.cert.inPerson', { date: p.verifiedAt ? formatTime(p.verifiedAt) : '—' })}${revoked(p)}</li>`)}</ul>`
    : st(locale, 'auth.cert.none'), 'auth-cert')}
</tbody>
</table>
</section>`;

  const sessions = html`<section aria-labelledby="sessions-heading" id="sessions">
<h2 id="sessions-heading">${st(locale, 'sessions.heading')}</h2>
<p class="muted" id="sessions-hint">${st(locale, 'sessions.hint')}</p>
${data.sessions.length === 0 ? html`<p>${st(locale, 'sessions.none')}</p>` : html`<div class="scroll" role="region" aria-labelledby="sessions-caption" tabindex="0">
<table id="session-list">
<caption id="sessions-caption">${st(locale, 'sessions.caption')}</caption>
<thead><tr><th scope="col">${st(locale, 'sessions.signedIn')}</th><th scope="col">${st(locale, 'sessions.lastUsed')}</th><th scope="col">${st(locale, 'sessions.methods')}</th>
<th scope="col">${st(locale, 'sessions.clients')}</th><th scope="col">${st(locale, 'sessions.action')}</th></tr></thead>
<tbody>
${data.sessions.map((s, i) => html`<tr data-session="${s.uid}"${s.current ? html` class="current"` : ''}>
<th scope="row" id="session-${i}">${time(s.signedInAt)}${s.current ? html` <strong class="tag">${st(locale, 'sessions.current')}</strong>` : ''}</th>
<td>${time(s.lastUsedAt)}</td>
<td>${methodNames(catalog, s.amr, locale)}</td>
<td>${s.clients.map((c) => c.name).join(t(locale, 'list.separator')) || '—'}</td>
<td><form method="post" action="/account/sessions/end" class="inline">${csrfInput(ctx.csrf ?? '')}<input type="hidden" name="uid" value="${s.uid}">
<button type="submit" class="secondary" aria-describedby="session-${i} sessions-hint">${st(locale, 'sessions.end')}</button></form></td>
</tr>`)}
</tbody>
</table>
</div>`}
</section>`;

  const consents = html`<section aria-labelledby="consents-heading" id="consents">
<h2 id="consents-heading">${st(locale, 'consents.heading')}</h2>
<p class="muted" id="consents-hint">${st(locale, 'consents.hint')}</p>
${data.consents.length === 0 ? html`<p>${st(locale, 'consents.none')}</p>` : html`<div class="scroll" role="region" aria-labelledby="consents-caption" tabindex="0">
<table id="consent-list">
<caption id="consents-caption">${st(locale, 'consents.caption')}</caption>
<thead><tr><th scope="col">${st(locale, 'consents.client')}</th><th scope="col">${st(locale, 'consents.scopes')}</th><th scope="col">${st(locale, 'consents.granted')}</th>
<th scope="col">${st(locale, 'sessions.action')}</th></tr></thead>
<tbody>
${data.consents.map((c, i) => html`<tr data-client="${c.clientId}">
<th scope="row" id="consent-${i}">${c.clientName}</th>
<td>${c.scopes.filter((s) => s !== 'offline_access').map((s) => scopeLabel(s, locale)).join(t(locale, 'list.separator'))}${c.offline ? st(locale, 'consents.offline') : ''}</td>
<td>${time(c.grantedAt)}</td>
<td><form method="post" action="/account/consents/revoke" class="inline">${csrfInput(ctx.csrf ?? '')}<input type="hidden" name="client_id" value="${c.clientId}">
<button type="submit" class="secondary" aria-describedby="consent-${i} consents-hint">${st(locale, 'consents.revoke')}</button></form></td>
</tr>`)}
</tbody>
</table>
</div>`}
</section>`;

  const events = html`<section aria-labelledby="events-heading" id="events">
<h2 id="events-heading">${st(locale, 'events.heading')}</h2>
${data.events.length === 0 ? html`<p>${st(locale, 'events.none')}</p>` : html`<div class="scroll" role="region" aria-labelledby="events-caption" tabindex="0">
<table id="event-list">
<caption id="events-caption">${st(locale, 'events.caption', { n: data.eventLimit })}</caption>
<thead><tr><th scope="col">${st(locale, 'events.time')}</th><th scope="col">${st(locale, 'events.event')}</th><th scope="col">${st(locale, 'events.result')}</th>
<th scope="col">${st(locale, 'events.client')}</th><th scope="col">${st(locale, 'events.ip')}</th></tr></thead>
<tbody>
${data.events.map((e) => html`<tr data-event="${e.event}">
<td class="nowrap">${time(e.occurredAt)}</td><td>${EVENT_LABELS[e.event]?.[locale] ?? e.event}</td>
<td>${st(locale, e.result === 'success' ? 'events.success' : 'events.failure')}</td><td>${e.clientName ?? e.clientId ?? '—'}</td><td>${e.ip ?? '—'}</td>
</tr>`)}
</tbody>
</table>
</div>`}
</section>`;

  return portalLayout({ ...ctx, current: 'overview' }, st(locale, 'overview.title'), html`${errorBox(data.error)}${noticeBox(data.notice)}
${profile}
${phone}
${authenticators}
${sessions}
${consents}
${events}`);
}

export type PhoneState = {
  proven?: PhoneChangeMethod;
  oldSent?: boolean;
  newPhoneMasked?: string;
  bankSent?: { phoneMasked: string; cardMasked: string };
};

const codeField = (locale: Locale) => field({
  name: 'code', label: t(locale, 'sms.code'), hint: t(locale, 'sms.code.hint'), autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: 6, autofocus: true,
});

function bankForms(ctx: PageContext, base: string, sent: { phoneMasked: string; cardMasked: string } | undefined): SafeHtml {
  const { locale } = ctx;
  if (sent) {
    return html`${noticeBox(t(locale, 'bank.sent', { card: sent.cardMasked, phone: sent.phoneMasked }))}
<form method="post" action="${base}/bank/confirm" novalidate>
${csrfInput(ctx.csrf ?? '')}
${codeField(locale)}
<button type="submit">${st(locale, 'phone.verify')}</button>
</form>`;
  }
  return html`<p>${t(locale, 'bank.intro')}</p>
<form method="post" action="${base}/bank/check" novalidate>
${csrfInput(ctx.csrf ?? '')}
${field({ name: 'card_number', label: t(locale, 'bank.card'), inputmode: 'numeric', autocomplete: 'off', maxlength: 23 })}
${field({ name: 'phone', label: t(locale, 'bank.phone'), type: 'tel', inputmode: 'tel', autocomplete: 'off', maxlength: 20, hint: t(locale, 'sms.phone.hint') })}
<button type="submit" class="secondary">${t(locale, 'bank.check')}</button>
</form>`;
}

export function phonePage(ctx: PageContext, data: {
  phoneMasked: string | null; state: PhoneState; lost: readonly SecondFactor[]; error?: string; notice?: string; status?: number;
}): string {
  const { locale } = ctx;
  const { state } = data;
  const restart = html`<form method="post" action="/account/phone/restart" class="inline">${csrfInput(ctx.csrf ?? '')}<button type="submit" class="link">${st(locale, 'phone.restart')}</button></form>`;
  let body: SafeHtml;
  if (state.proven) {
    body = html`${noticeBox(st(locale, `phone.proven.${state.proven}`))}
<section aria-labelledby="step2-heading">
<h2 id="step2-heading">${st(locale, 'phone.step2')}</h2>
${state.newPhoneMasked ? html`<p class="notice" role="status">${st(locale, 'phone.sentTo', { phone: state.newPhoneMasked })}</p>` : ''}
<form method="post" action="/account/phone/new/send" novalidate>
${csrfInput(ctx.csrf ?? '')}
${field({ name: 'phone', label: st(locale, 'phone.new'), type: 'tel', inputmode: 'tel', autocomplete: 'tel', maxlength: 20, hint: t(locale, 'sms.phone.hint'), autofocus: !state.newPhoneMasked })}
<button type="submit" class="secondary">${state.newPhoneMasked ? t(locale, 'sms.resend') : st(locale, 'phone.sendNew')}</button>
</form>
${state.newPhoneMasked ? html`<form method="post" action="/account/phone/new/verify" novalidate>
${csrfInput(ctx.csrf ?? '')}
${codeField(locale)}
<button type="submit">${st(locale, 'phone.confirm')}</button>
</form>` : ''}
</section>
<p class="links">${restart}</p>`;
  } else {
    const lost = data.lost;
    body = html`<p>${st(locale, 'phone.intro')}</p>
${data.phoneMasked ? html`<section aria-labelledby="step1-heading">
<h2 id="step1-heading">${st(locale, 'phone.step1')}</h2>
<form method="post" action="/account/phone/old/send" novalidate>
${csrfInput(ctx.csrf ?? '')}
<button type="submit" class="secondary">${state.oldSent ? t(locale, 'sms.resend') : st(locale, 'phone.sendOld', { phone: data.phoneMasked })}</button>
</form>
${state.oldSent ? html`<form method="post" action="/account/phone/old/verify" novalidate>
${csrfInput(ctx.csrf ?? '')}
${codeField(locale)}
<button type="submit">${st(locale, 'phone.verify')}</button>
</form>` : ''}
</section>` : ''}
<section aria-labelledby="lost-heading" id="lost">
<h2 id="lost-heading">${st(locale, 'phone.lost.heading')}</h2>
<p>${st(locale, 'phone.lost.intro')}</p>
${lost.includes('face') ? html`<h3>${st(locale, 'phone.lost.face')}</h3>
<p>${st(locale, 'phone.lost.faceText')}</p>
<form method="post" action="/account/phone/lost/face">${csrfInput(ctx.csrf ?? '')}<button type="submit" class="secondary">${st(locale, 'phone.lost.faceStart')}</button></form>` : ''}
${lost.includes('bank') ? html`<h3>${st(locale, 'phone.lost.bank')}</h3>
${bankForms(ctx, '/account/phone/lost', state.bankSent)}` : ''}
<h3>${st(locale, 'phone.lost.hall')}</h3>
<p>${st(locale, 'phone.lost.hallText')}</p>
</section>
${state.oldSent || state.bankSent ? html`<p class="links">${restart}</p>` : ''}`;
  }
  return portalLayout({ ...ctx, current: 'phone' }, st(locale, 'phone.title'), html`${errorBox(data.error)}${noticeBox(data.notice)}
${body}`);
}

export function exportPage(ctx: PageContext): string {
  const { locale } = ctx;
  return portalLayout({ ...ctx, current: 'export' }, st(locale, 'export.title'), html`<p>${st(locale, 'export.intro')}</p>
<form method="post" action="/account/export">${csrfInput(ctx.csrf ?? '')}<button type="submit">${st(locale, 'export.button')}</button></form>`);
}

export function deregisterPage(ctx: PageContext, data: { days: number; closesAt: Date; retention: ClosedAccountRetention; error?: string }): string {
  const { locale } = ctx;
  const { retention } = data;
  const deleted = [
    retention.proofings === 'delete' ? st(locale, 'deregister.deleted.proofings') : '',
    retention.sources === 'delete' ? st(locale, 'deregister.deleted.sources') : '',
  ].join('');
  const kept = [
    retention.proofings === 'anonymise' ? st(locale, 'deregister.kept.proofings') : retention.proofings === 'keep' ? st(locale, 'deregister.kept.proofingsWhole') : '',
    retention.sources === 'keep' ? st(locale, 'deregister.kept.sources') : '',
  ].join('');
  return portalLayout({ ...ctx, current: 'deregister' }, st(locale, 'deregister.title'), html`${errorBox(data.error)}
<ul class="consequences">
<li id="deregister-period">${st(locale, 'deregister.period', { days: data.days, date: formatDate(data.closesAt) })}</li>
<li>${st(locale, 'deregister.now')}</li>
<li id="deregister-deleted">${st(locale, 'deregister.deleted', { extra: deleted })}</li>
<li id="deregister-kept">${st(locale, 'deregister.kept', { extra: kept })}</li>
<li>${st(locale, 'deregister.reuse')}</li>
</ul>
<p><a href="/account/export">${st(locale, 'deregister.export')}</a></p>
<form method="post" action="/account/deregister" novalidate>
${csrfInput(ctx.csrf ?? '')}
<div class="check"><input type="checkbox" id="f-confirm" name="confirm" value="yes"${data.error ? html` aria-invalid="true"` : ''}>
<label for="f-confirm">${st(locale, 'deregister.confirm')}</label></div>
<button type="submit">${st(locale, 'deregister.submit')}</button>
</form>`);
}

export function deregisteredPage(ctx: PageContext, closesAt: Date): string {
  const { locale } = ctx;
  return portalLayout(ctx, st(locale, 'deregister.done.title'), html`<p class="notice" role="status" id="deregistered">${st(locale, 'deregister.done.text', { date: formatTime(closesAt) })}</p>`);
}

export type ResetStep = 'id' | 'code' | 'second' | 'password' | 'done';

export function resetPage(ctx: PageContext, data: {
  step: ResetStep; error?: string; notice?: string; idNumber?: string; factors?: readonly SecondFactor[];
  bankSent?: { phoneMasked: string; cardMasked: string };
}): string {
  const { locale } = ctx;
  const csrf = ctx.csrf ?? '';
  const restart = html`<p class="links"><a href="/account/reset?restart=1">${st(locale, 'reset.restart')}</a></p>`;
  let title = st(locale, 'reset.title');
  let body: SafeHtml;
  switch (data.step) {
    case 'id':
      body = html`<p>${st(locale, 'reset.intro')}</p>
<form method="post" action="/account/reset/start" novalidate>
${csrfInput(csrf)}
${field({ name: 'id_number', label: st(locale, 'reset.idNumber'), value: data.idNumber, maxlength: 24, autocomplete: 'username', autofocus: true })}
<button type="submit">${st(locale, 'reset.send')}</button>
</form>
<p class="muted">${st(locale, 'reset.hall')}</p>`;
      break;
    case 'code':
      body = html`${data.error ? '' : noticeBox(st(locale, 'reset.sent'))}
<form method="post" action="/account/reset/verify" novalidate>
${csrfInput(csrf)}
${codeField(locale)}
<button type="submit">${st(locale, 'reset.next')}</button>
</form>
<p class="muted">${st(locale, 'reset.hall')}</p>
${restart}`;
      break;
    case 'second':
      title = st(locale, 'reset.second.title');
      body = html`<p>${st(locale, 'reset.second.intro')}</p>
${data.factors?.includes('face') ? html`<section aria-labelledby="reset-face-heading"><h2 id="reset-face-heading">${st(locale, 'phone.lost.face')}</h2>
<p>${st(locale, 'phone.lost.faceText')}</p>
<form method="post" action="/account/reset/face">${csrfInput(csrf)}<button type="submit" class="secondary">${st(locale, 'phone.lost.faceStart')}</button></form></section>` : ''}
${data.factors?.includes('bank') ? html`<section aria-labelledby="reset-bank-heading"><h2 id="reset-bank-heading">${st(locale, 'phone.lost.bank')}</h2>
${bankForms({ ...ctx, csrf }, '/account/reset', data.bankSent)}</section>` : ''}
${restart}`;
      break;
    case 'password':
      body = html`<form method="post" action="/account/reset/password" novalidate>
${csrfInput(csrf)}
${field({ name: 'password', label: st(locale, 'reset.password'), type: 'password', hint: st(locale, 'reset.password.hint'), autocomplete: 'new-password', maxlength: 128, autofocus: true })}
${field({ name: 'password_confirm', label: st(locale, 'reset.passwordConfirm'), type: 'password', autocomplete: 'new-password', maxlength: 128 })}
<button type="submit">${st(locale, 'reset.submit')}</button>
</form>
${restart}`;
      break;
    case 'done':
      title = st(locale, 'reset.done.title');
      body = html`<p class="notice" role="status" id="reset-done">${st(locale, 'reset.done.text')}</p>
<p class="links"><a href="/account/">${st(locale, 'reset.done.login')}</a></p>`;
      break;
  }
  return portalLayout(ctx, title, html`${errorBox(data.error)}${data.step === 'code' ? '' : noticeBox(data.notice)}
${body}`);
}

export function facePendingPage(ctx: PageContext, href: string): string {
  const { locale } = ctx;
  return portalLayout(ctx, st(locale, 'face.title'), html`<p class="notice" role="status">${st(locale, 'face.pending')}</p>
<p class="links"><a href="${href}">${st(locale, 'face.check')}</a></p>`);
}

export function messagePage(ctx: PageContext, data: { title: string; message: string; links?: readonly { href: string; label: string }[]; alert?: boolean }): string {
  return portalLayout(ctx, data.title, html`${data.alert === false ? html`<p>${data.message}</p>` : errorBox(data.message)}
${data.links?.length ? html`<ul class="links">${data.links.map((l) => html`<li><a href="${l.href}">${l.label}</a></li>`)}</ul>` : ''}`);
}

export function logoutPage(ctx: PageContext): string {
  const { locale } = ctx;
  return portalLayout(ctx, st(locale, 'logout.title'), html`<p>${st(locale, 'logout.question')}</p>
<div class="actions">
<form method="post" action="/account/logout">${csrfInput(ctx.csrf ?? '')}<button type="submit">${st(locale, 'nav.logout')}</button></form>
<form method="get" action="/account/"><button type="submit" class="secondary">${st(locale, 'logout.no')}</button></form>
</div>`);
}
