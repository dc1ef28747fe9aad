import type { LevelCatalog, LevelDefinition } from '../assurance/levels.ts';
import type { LevelPolicy } from '../assurance/policy-repository.ts';
import type { AuditRecord } from '../audit/audit-log.ts';
import { t, type Locale } from '../interactions/i18n.ts';
import { html, type SafeHtml } from '../interactions/views/html.ts';
import { csrfInput, errorBox, noticeBox } from '../interactions/views/layout.ts';
import { portalPage } from '../portal/page.ts';
import { ct, hasMessage } from './messages.ts';

export const POLICY_SCOPES = ['*', 'openid', 'profile', 'phone', 'id_number'] as const;

export type ConsoleUser = { name: string; idNumberMasked: string; roles: readonly string[]; canWritePolicies: boolean; canReadAudit: boolean };

export type PageContext = {
  locale: Locale;
  langSwitchHref: string;
  /** Present once signed in: the navigation and the logout form need it. */
  user?: ConsoleUser;
  csrf?: string;
  current?: 'overview' | 'audit';
};

export const levelLabel = (level: LevelDefinition, locale: Locale) =>
  locale === 'en' ? `${level.name.en} (${level.id})` : `${level.name['zh-CN']}（${level.id}）`;

export const scopeLabel = (scope: string, locale: Locale) => {
  const key = `scope.${scope}`;
  return hasMessage(key) ? ct(locale, key) : scope;
};

export function duration(seconds: number, locale: Locale): string {
  if (seconds % 3600 === 0) return ct(locale, 'duration.hours', { n: seconds / 3600 });
  if (seconds % 60 === 0) return ct(locale, 'duration.minutes', { n: seconds / 60 });
  return ct(locale, 'duration.seconds', { n: seconds });
}

const maxAgeLabel = (seconds: number | null | undefined, locale: Locale) =>
  seconds ? duration(seconds, locale) : ct(locale, 'maxAge.none');

// sv-SE formats as "2025-01-31 08:00:00", the form people read in logs.
const TIME = new Intl.DateTimeFormat('sv-SE', {
  timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});

function consoleLayout(ctx: PageContext, title: string, body: SafeHtml): string {
  const { locale, user } = ctx;
  return portalPage(ctx, title, body, {
    area: 'console',
    name: ct(locale, 'console.title'),
    skipLabel: ct(locale, 'console.skip'),
    nav: user && {
      label: ct(locale, 'nav.label'),
      items: html`<li><a href="/console/"${ctx.current === 'overview' ? html` aria-current="page"` : ''}>${ct(locale, 'nav.overview')}</a></li>
${user.canReadAudit ? html`<li><a href="/console/audit"${ctx.current === 'audit' ? html` aria-current="page"` : ''}>${ct(locale, 'nav.audit')}</a></li>` : ''}`,
      who: ct(locale, 'nav.signedInAs', {
        name: user.name, id: user.idNumberMasked, roles: user.roles.map((r) => (hasMessage(`role.${r}`) ? ct(locale, `role.${r}` as 'role.auditor') : r)).join(t(locale, 'list.separator')),
      }),
      logoutLabel: ct(locale, 'nav.logout'),
    },
  });
}

function select(options: {
  id: string; name: string; label: string; choices: readonly { value: string; label: string }[]; selected?: string; invalid?: boolean; errorId?: string;
}): SafeHtml {
  return html`<div class="field">
<label for="${options.id}">${options.label}</label>
<select id="${options.id}" name="${options.name}"${options.invalid ? html` aria-invalid="true" aria-describedby="${options.errorId}"` : ''}>
${options.choices.map((c) => html`<option value="${c.value}"${c.value === options.selected ? html` selected` : ''}>${c.label}</option>`)}
</select>
</div>`;
}

export type ClientOverview = {
  id: string;
  name: string;
  policies: readonly LevelPolicy[];
  /** The console's own policy follows ADMIN_CONSOLE_LEVEL and is not changed here. */
  editable: boolean;
  recent: { considered: number; counts: readonly { label: string; count: number }[]; latest?: string };
};

export type PolicyFormState = { clientId: string; values: { min_level?: string; scope?: string; max_auth_age_seconds?: string }; field: string; message: string };

export type PolicyFormValues = { min_level: string; scope: string; max_auth_age_seconds: string };

function policyForm(ctx: PageContext, catalog: LevelCatalog, client: ClientOverview, index: number, state?: PolicyFormState): SafeHtml {
  const { locale } = ctx;
  const current = client.policies.find((p) => p.scope === '*');
  const values = state?.values ?? {};
  const prefix = `p${index}`;
  const errorId = `${prefix}-error`;
  const maxAgeValue = values.max_auth_age_seconds ?? (current?.maxAuthAgeSeconds ? String(current.maxAuthAgeSeconds) : '');
  return html`<form method="post" action="/console/policies/preview" class="policy-form" novalidate aria-labelledby="${prefix}-heading">
<h4 id="${prefix}-heading">${ct(locale, 'form.heading', { client: client.name })}</h4>
${state ? html`<p class="error" role="alert" id="${errorId}">${state.message}</p>` : ''}
${csrfInput(ctx.csrf ?? '')}
<input type="hidden" name="client_id" value="${client.id}">
<div class="row">
${select({
    id: `${prefix}-min_level`, name: 'min_level', label: ct(locale, 'form.minLevel'), selected: values.min_level ?? current?.minLevel ?? catalog.levels[0].id,
    choices: catalog.levels.map((l) => ({ value: l.id, label: levelLabel(l, locale) })), invalid: state?.field === 'min_level', errorId,
  })}
${select({
    id: `${prefix}-scope`, name: 'scope', label: ct(locale, 'form.scope'), selected: values.scope ?? '*',
    choices: POLICY_SCOPES.map((s) => ({ value: s, label: scopeLabel(s, locale) })), invalid: state?.field === 'scope', errorId,
  })}
<div class="field">
<label for="${prefix}-max_age">${ct(locale, 'form.maxAge')}</label>
<input id="${prefix}-max_age" name="max_auth_age_seconds" type="text" inputmode="numeric" maxlength="7" value="${maxAgeValue}" aria-describedby="${prefix}-max_age-hint${state?.field === 'max_auth_age_seconds' ? ` ${errorId}` : ''}"${state?.field === 'max_auth_age_seconds' ? html` aria-invalid="true"` : ''}>
<small id="${prefix}-max_age-hint">${ct(locale, 'form.maxAge.hint')}</small>
</div>
</div>
<button type="submit">${ct(locale, 'form.preview')}</button>
</form>`;
}

export function overviewPage(ctx: PageContext, data: {
  catalog: LevelCatalog; issuerAcr: (level: LevelDefinition) => string; clients: readonly ClientOverview[];
  notice?: string; error?: string; formState?: PolicyFormState;
}): string {
  const { locale } = ctx;
  const { catalog } = data;
  const proofingName = (id: string) => catalog.proofing.find((p) => p.id === id)?.name[locale] ?? id;
  const methodName = (id: keyof typeof catalog.methods) => catalog.methods[id]?.name[locale] ?? id;
  const levelOf = (id: string) => catalog.level(id);

  const levels = html`<section aria-labelledby="levels-heading">
<h2 id="levels-heading">${ct(locale, 'levels.heading')}</h2>
<div class="scroll" role="region" aria-labelledby="levels-heading" tabindex="0">
<table id="levels">
<thead><tr><th scope="col">${ct(locale, 'levels.id')}</th><th scope="col">${ct(locale, 'levels.name')}</th><th scope="col">${ct(locale, 'levels.description')}</th>
<th scope="col">${ct(locale, 'levels.proofing')}</th><th scope="col">${ct(locale, 'levels.methods')}</th><th scope="col">${ct(locale, 'levels.limits')}</th><th scope="col">${ct(locale, 'levels.acr')}</th></tr></thead>
<tbody>
${catalog.levels.map((level) => html`<tr id="level-${level.id}">
<th scope="row">${level.id}</th><td>${level.name[locale]}</td><td>${level.description[locale]}</td><td>${proofingName(level.proofing)}</td>
<td>${level.methods.map((combo) => combo.map(methodName).join(' + ')).join(ct(locale, 'levels.or'))}</td>
<td>${duration(level.idleSeconds, locale)} / ${duration(level.absoluteSeconds, locale)}</td>
<td><code>${data.issuerAcr(level)}</code>${level.eidas ? html`<br><code>${level.eidas}</code>` : ''}</td>
</tr>`)}
</tbody>
</table>
</div>
</section>`;

  const clients = html`<section aria-labelledby="clients-heading">
<h2 id="clients-heading">${ct(locale, 'clients.heading')}</h2>
${data.clients.length === 0 ? html`<p>${ct(locale, 'clients.none')}</p>` : ''}
${data.clients.map((client, index) => html`<article class="client" id="client-${client.id}" aria-labelledby="c${index}-name">
<h3 id="c${index}-name">${client.name}</h3>
<p class="muted">${ct(locale, 'clients.id', { id: client.id })}</p>
${client.policies.length === 0
    ? html`<p class="policies-none">${ct(locale, 'policies.none', { level: levelLabel(catalog.levels[0], locale) })}</p>`
    : html`<table class="policies">
<caption>${ct(locale, 'policies.caption', { client: client.name })}</caption>
<thead><tr><th scope="col">${ct(locale, 'policies.scope')}</th><th scope="col">${ct(locale, 'policies.minLevel')}</th><th scope="col">${ct(locale, 'policies.maxAge')}</th><th scope="col">${ct(locale, 'policies.updatedBy')}</th></tr></thead>
<tbody>
${client.policies.map((p) => html`<tr data-scope="${p.scope}" data-level="${p.minLevel}"><th scope="row">${scopeLabel(p.scope, locale)}</th>
<td>${levelOf(p.minLevel) ? levelLabel(levelOf(p.minLevel)!, locale) : p.minLevel}</td><td>${maxAgeLabel(p.maxAuthAgeSeconds, locale)}</td>
<td>${p.updatedBy} · <time datetime="${p.updatedAt.toISOString()}">${TIME.format(p.updatedAt)}</time></td></tr>`)}
</tbody>
</table>`}
<p class="recent"><strong>${ct(locale, 'recent.heading')}</strong> ${client.recent.latest
    ? html`${ct(locale, 'recent.latest', { level: client.recent.latest })}${locale === 'en' ? '; ' : '；'}${ct(locale, 'recent.counts', {
      n: client.recent.considered, counts: client.recent.counts.map((c) => `${c.label} × ${c.count}`).join(t(locale, 'list.separator')),
    })}`
    : ct(locale, 'recent.none')}</p>
${ctx.user?.canWritePolicies && !client.editable ? html`<p class="muted">${ct(locale, 'error.consoleClient')}</p>` : ''}
${ctx.user?.canWritePolicies && client.editable ? policyForm(ctx, catalog, client, index, data.formState?.clientId === client.id ? data.formState : undefined) : ''}
</article>`)}
</section>`;

  return consoleLayout({ ...ctx, current: 'overview' }, ct(locale, 'overview.title'), html`${errorBox(data.error)}${noticeBox(data.notice)}
${levels}
${clients}`);
}

export type ConfirmData = {
  clientId: string;
  clientName: string;
  scope: string;
  from: LevelDefinition;
  fromIsDefault: boolean;
  to: LevelDefinition;
  maxAgeFrom: number | null;
  maxAgeTo: number | null;
  /** The state the admin saw, so a change made meanwhile by someone else is noticed before it is overwritten. */
  expected: string;
  values: PolicyFormValues;
  stale?: boolean;
};

export function confirmPage(ctx: PageContext, data: ConfirmData): string {
  const { locale } = ctx;
  const fromLabel = data.fromIsDefault ? ct(locale, 'confirm.default', { level: levelLabel(data.from, locale) }) : levelLabel(data.from, locale);
  const scope = data.scope === '*' ? ct(locale, 'confirm.scopeAll') : ct(locale, 'confirm.scopeOne', { scope: scopeLabel(data.scope, locale) });
  const direction = data.to.rank > data.from.rank ? 'confirm.raise' : data.to.rank < data.from.rank ? 'confirm.lower' : 'confirm.keep';
  const statement = ct(locale, direction, { client: data.clientName, scope, from: fromLabel, to: levelLabel(data.to, locale) });
  return consoleLayout(ctx, ct(locale, 'confirm.title'), html`${data.stale ? html`<p class="error" role="alert">${ct(locale, 'confirm.stale')}</p>` : ''}
<p class="statement" id="statement">${statement}</p>
${data.maxAgeFrom !== data.maxAgeTo ? html`<p id="statement-max-age">${ct(locale, 'confirm.maxAge', { from: maxAgeLabel(data.maxAgeFrom, locale), to: maxAgeLabel(data.maxAgeTo, locale) })}</p>` : ''}
${direction === 'confirm.lower' ? html`<p class="warning" role="note">${ct(locale, 'confirm.lowerWarning')}</p>` : ''}
<p>${ct(locale, 'confirm.effect')}</p>
<div class="actions">
<form method="post" action="/console/policies/confirm">
${csrfInput(ctx.csrf ?? '')}
<input type="hidden" name="client_id" value="${data.clientId}">
<input type="hidden" name="scope" value="${data.values.scope}">
<input type="hidden" name="min_level" value="${data.values.min_level}">
<input type="hidden" name="max_auth_age_seconds" value="${data.values.max_auth_age_seconds}">
<input type="hidden" name="expected" value="${data.expected}">
<button type="submit" name="decision" value="confirm">${ct(locale, 'confirm.yes')}</button>
</form>
<form method="get" action="/console/">
<button type="submit" class="secondary">${ct(locale, 'confirm.no')}</button>
</form>
</div>`);
}

export function auditPage(ctx: PageContext, data: { events: readonly AuditRecord[]; eventNames: readonly string[]; selected?: string; error?: string; limit: number }): string {
  const { locale } = ctx;
  return consoleLayout({ ...ctx, current: 'audit' }, ct(locale, 'audit.title'), html`${errorBox(data.error)}
<form method="get" action="/console/audit" class="filter">
${select({
    id: 'f-event', name: 'event', label: ct(locale, 'audit.filter'), selected: data.selected ?? '',
    choices: [{ value: '', label: ct(locale, 'audit.all') }, ...data.eventNames.map((e) => ({ value: e, label: e }))],
  })}
<button type="submit" class="secondary">${ct(locale, 'audit.apply')}</button>
</form>
${data.events.length === 0 ? html`<p>${ct(locale, 'audit.empty')}</p>` : html`<div class="scroll" role="region" aria-labelledby="audit-caption" tabindex="0">
<table id="audit">
<caption id="audit-caption">${ct(locale, 'audit.caption', { n: data.limit })}</caption>
<thead><tr><th scope="col">${ct(locale, 'audit.time')}</th><th scope="col">${ct(locale, 'audit.event')}</th><th scope="col" class="nowrap">${ct(locale, 'audit.result')}</th>
<th scope="col">${ct(locale, 'audit.actor')}</th><th scope="col">${ct(locale, 'audit.client')}</th><th scope="col">${ct(locale, 'audit.detail')}</th></tr></thead>
<tbody>
${data.events.map((e) => html`<tr data-event="${e.event}">
<td class="nowrap"><time datetime="${e.occurredAt.toISOString()}">${TIME.format(e.occurredAt)}</time></td><td class="nowrap"><code>${e.event}</code></td>
<td class="nowrap">${ct(locale, e.result === 'success' ? 'audit.success' : 'audit.failure')}</td><td>${e.actor ?? '—'}</td><td>${e.clientId ?? '—'}</td>
<td><code class="detail">${summarize(e.detail)}</code></td>
</tr>`)}
</tbody>
</table>
</div>`}`);
}

function summarize(detail: Record<string, unknown> | undefined): string {
  if (!detail || Object.keys(detail).length === 0) return '—';
  const text = JSON.stringify(detail);
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}

export function messagePage(ctx: PageContext, data: { title: string; message: string; links?: readonly { href: string; label: string }[]; alert?: boolean }): string {
  return consoleLayout(ctx, data.title, html`${data.alert === false ? html`<p>${data.message}</p>` : errorBox(data.message)}
${data.links?.length ? html`<ul class="links">${data.links.map((l) => html`<li><a href="${l.href}">${l.label}</a></li>`)}</ul>` : ''}`);
}

export function logoutPage(ctx: PageContext): string {
  const { locale } = ctx;
  return consoleLayout(ctx, ct(locale, 'logout.title'), html`<p>${ct(locale, 'logout.question')}</p>
<div class="actions">
<form method="post" action="/console/logout">${csrfInput(ctx.csrf ?? '')}<button type="submit">${ct(locale, 'nav.logout')}</button></form>
<form method="get" action="/console/"><button type="submit" class="secondary">${ct(locale, 'confirm.no')}</button></form>
</div>`);
}
