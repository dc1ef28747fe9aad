import { readFileSync } from 'node:fs';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as client from 'openid-client';
import type { Account } from '../accounts/types.ts';
import { ADMIN_ROLES, permissionsFor, type Permission } from '../admin/permissions.ts';
import type { LevelDefinition } from '../assurance/levels.ts';
import type { LevelPolicy } from '../assurance/policy-repository.ts';
import { AUDIT_EVENTS, type AuditEventName } from '../audit/events.ts';
import type { Runtime } from '../bootstrap/runtime.ts';
import { pickLocale, type Locale } from '../interactions/i18n.ts';
import { createRelyingParty, readSignedCookie } from '../oidc/relying-party.ts';
import { ensurePortalClient, portalUris } from '../portal/client.ts';
import { guardPortalPages } from '../portal/hooks.ts';
import { finishLogin } from '../portal/login.ts';
import { ct, type ConsoleMessageKey } from './messages.ts';
import {
  auditPage, confirmPage, levelLabel, logoutPage, messagePage, overviewPage, POLICY_SCOPES,
  type ClientOverview, type ConsoleUser, type PageContext, type PolicyFormState, type PolicyFormValues,
} from './pages.ts';
import { createConsoleSessions, type ConsoleSession } from './session.ts';

export type ConsoleDeps = { runtime: Runtime; issuer: string; cookieSecret: string; minLevel: string /* config.adminConsoleLevel */ };

export const CONSOLE_CLIENT_ID = 'admin-console';

const CONSOLE_CSS = readFileSync(new URL('./console.css', import.meta.url));
const SESSION_COOKIE = 'console_session';
const LOGIN_COOKIE = 'console_login';
const LANG_COOKIE = 'console_lang';
const COOKIE_PATH = '/console';
const SCOPE = 'openid profile';
const RECENT_TOKEN_EVENTS = 200;
const AUDIT_LIMIT = 100;
const MAX_AUTH_AGE_LIMIT = 30 * 86400;
const SIGNED_OUT_STATE = 'signed_out';

const CONSOLE_PORTAL = { clientId: CONSOLE_CLIENT_ID, clientName: '管理控制台', path: COOKIE_PATH, scope: SCOPE };

/**
 * Registers the console as a relying party of this provider (once; concurrent nodes may race) and keeps
 * its level policy at ADMIN_CONSOLE_LEVEL, so the provider itself asks for that level on console logins.
 */
export async function ensureConsoleClient(runtime: Runtime, issuer: string): Promise<void> {
  await ensurePortalClient(runtime, issuer, CONSOLE_PORTAL);

  const minLevel = runtime.config.adminConsoleLevel;
  const policy = (await runtime.policies.forClient(CONSOLE_CLIENT_ID)).find((p) => p.scope === '*');
  if (policy?.minLevel !== minLevel) {
    await runtime.policies.set({ clientId: CONSOLE_CLIENT_ID, minLevel, maxAuthAgeSeconds: policy?.maxAuthAgeSeconds ?? null }, { name: 'system' });
  }
}

type Principal = { sessionId: string; session: ConsoleSession; account: Account; permissions: ReadonlySet<Permission>; user: ConsoleUser };
type Body = Record<string, unknown> | undefined;
type Query = Record<string, string | undefined>;

const isAdmin = (account: Account | undefined): boolean =>
  Boolean(account && account.status === 'active' && account.roles.some((r) => (ADMIN_ROLES as readonly string[]).includes(r)));

const field = (body: Body, name: string): string => {
  const value = body?.[name];
  return typeof value === 'string' ? value : '';
};

/**
 * The admin console under /console: server-rendered pages for people holding an admin role, signed in
 * through this provider like any relying party (code flow, PKCE) at ADMIN_CONSOLE_LEVEL or higher.
 */
export async function registerConsoleRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const minLevel = deps.runtime.catalog.level(deps.minLevel);
  if (!minLevel) throw new Error(`admin console level "${deps.minLevel}" is not a defined level`);
  await app.register(async (scope) => consolePlugin(scope, deps, minLevel), { prefix: '/console' });
}

async function consolePlugin(scope: FastifyInstance, deps: ConsoleDeps, minLevel: LevelDefinition) {
  const { runtime } = deps;
  const { catalog } = runtime;
  if (!scope.hasDecorator('parseCookie')) await scope.register(cookie, { secret: deps.cookieSecret });
  if (!scope.hasContentTypeParser('application/x-www-form-urlencoded')) await scope.register(formbody, { bodyLimit: 16 * 1024 });

  const { base, redirectUri, postLogoutRedirectUri } = portalUris(deps.issuer, COOKIE_PATH);
  const secure = new URL(base).protocol === 'https:';
  const cookieOptions = { path: COOKIE_PATH, httpOnly: true, sameSite: 'lax', secure, signed: true } as const;
  const nowSeconds = () => Math.floor(runtime.clock().getTime() / 1000);
  const sessions = createConsoleSessions({ hot: runtime.hot, idleSeconds: minLevel.idleSeconds, absoluteSeconds: minLevel.absoluteSeconds, now: nowSeconds });

  const relyingParty = createRelyingParty({
    issuer: base,
    clientId: CONSOLE_CLIENT_ID,
    clientSecret: async () => {
      const secret = (await runtime.clients.find(CONSOLE_CLIENT_ID))?.client_secret;
      if (typeof secret !== 'string') throw new Error(`client "${CONSOLE_CLIENT_ID}" is not registered; call ensureConsoleClient first`);
      return secret;
    },
    redirectUri,
    scope: SCOPE,
    loginCookie: LOGIN_COOKIE,
    cookieOptions,
  });

  function localeOf(request: FastifyRequest, reply: FastifyReply): Locale {
    const lang = (request.query as Query | undefined)?.lang;
    const locale = pickLocale(lang, request.cookies[LANG_COOKIE]);
    if (lang) reply.setCookie(LANG_COOKIE, locale, { path: COOKIE_PATH, httpOnly: true, sameSite: 'lax', secure, maxAge: 365 * 86400 });
    return locale;
  }

  function pageContext(request: FastifyRequest, reply: FastifyReply, principal?: Principal): PageContext {
    const locale = localeOf(request, reply);
    const other = locale === 'en' ? 'zh-CN' : 'en';
    // A page answering a POST cannot be fetched again: its language switch leads to the overview.
    const url = new URL(request.method === 'GET' ? request.url : '/console/', base);
    url.searchParams.set('lang', other);
    return { locale, langSwitchHref: `${url.pathname}${url.search}`, user: principal?.user, csrf: principal?.session.csrf };
  }

  const sendPage = (reply: FastifyReply, status: number, body: string) => reply.status(status).type('text/html; charset=utf-8').send(body);

  function denied(reply: FastifyReply, ctx: PageContext, message: ConsoleMessageKey, status = 403, vars: Record<string, string> = {}) {
    const links = message === 'denied.notAdmin' || message === 'denied.level'
      ? [{ href: '/console/login?prompt=login', label: ct(ctx.locale, 'denied.other') }]
      : [{ href: '/console/', label: ct(ctx.locale, 'denied.back') }];
    return sendPage(reply, status, messagePage(ctx, { title: ct(ctx.locale, 'denied.title'), message: ct(ctx.locale, message, vars), links }));
  }

  const recordDenied = (request: FastifyRequest, actor: string, accountId: string | undefined, detail: Record<string, unknown>) =>
    runtime.audit.record({
      event: 'admin.denied', result: 'failure', actor, accountId, clientId: CONSOLE_CLIENT_ID, ip: request.ip,
      detail: { path: request.routeOptions.url, method: request.method, ...detail },
    });

  /**
   * The signed-in administrator, or undefined once a response (login redirect, 403 page) was sent.
   * Roles are read from the account on every request, so a role taken away applies at once.
   */
  async function authorize(request: FastifyRequest, reply: FastifyReply, permission: Permission | undefined): Promise<Principal | undefined> {
    // Remembered before any redirect to the login, so ?lang=en survives it.
    localeOf(request, reply);
    const sessionId = readSignedCookie(request, SESSION_COOKIE);
    const session = await sessions.touch(sessionId);
    if (!sessionId || !session) {
      if (request.method === 'GET' || request.method === 'HEAD') {
        reply.redirect('/console/login', 302);
      } else {
        const ctx = pageContext(request, reply);
        sendPage(reply, 401, messagePage(ctx, {
          title: ct(ctx.locale, 'error.title'), message: ct(ctx.locale, 'denied.csrf'),
          links: [{ href: '/console/login', label: ct(ctx.locale, 'error.retry') }],
        }));
      }
      return undefined;
    }
    const account = await runtime.accounts.findById(session.accountId);
    if (!account || !isAdmin(account)) {
      await sessions.end(sessionId);
      reply.clearCookie(SESSION_COOKIE, { path: COOKIE_PATH });
      await recordDenied(request, account ? `account:${account.idNumberMasked}` : 'unknown', session.accountId, { reason: 'not_admin' });
      denied(reply, pageContext(request, reply), 'denied.notAdmin');
      return undefined;
    }
    const permissions = permissionsFor({ roles: account.roles });
    const user: ConsoleUser = {
      name: account.name, idNumberMasked: account.idNumberMasked, roles: account.roles.filter((r) => (ADMIN_ROLES as readonly string[]).includes(r)),
      canWritePolicies: permissions.has('policies:write'), canReadAudit: permissions.has('audit:read'),
    };
    const principal: Principal = { sessionId, session, account, permissions, user };
    const ctx = pageContext(request, reply, principal);
    if (permission && !permissions.has(permission)) {
      await recordDenied(request, `account:${account.idNumberMasked}`, account.id, { needed: permission });
      denied(reply, ctx, 'denied.permission');
      return undefined;
    }
    if (request.method === 'POST' && !runtime.protector.equalSecret(session.csrf, field(request.body as Body, 'csrf'))) {
      denied(reply, ctx, 'denied.csrf');
      return undefined;
    }
    return principal;
  }

  guardPortalPages(scope, {
    name: 'admin console',
    errorPage: (request, reply) => {
      const ctx = pageContext(request, reply);
      return messagePage(ctx, {
        title: ct(ctx.locale, 'error.title'), message: ct(ctx.locale, 'error.generic'), links: [{ href: '/console/', label: ct(ctx.locale, 'denied.back') }],
      });
    },
    sendPage,
  });

  scope.get('/assets/console.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(CONSOLE_CSS));

  scope.get<{ Querystring: Query }>('/login', async (request, reply) => {
    const locale = localeOf(request, reply);
    const prompt = request.query.prompt === 'login' ? 'login' : undefined;
    if (!prompt && (await sessions.touch(readSignedCookie(request, SESSION_COOKIE)))) return reply.redirect('/console/', 302);
    let config: client.Configuration;
    try {
      config = await relyingParty.getConfiguration();
    } catch (error) {
      return unavailable(request, reply, error);
    }
    const authorizationUrl = await relyingParty.startLogin(reply, config, {
      acr_values: catalog.acrFor(minLevel, 'uri'),
      ui_locales: locale,
      ...(prompt ? { prompt } : {}),
    });
    return reply.redirect(authorizationUrl.href, 302);
  });

  function unavailable(request: FastifyRequest, reply: FastifyReply, error: unknown) {
    request.log.warn({ err: error }, 'admin console could not reach the provider');
    const ctx = pageContext(request, reply);
    return sendPage(reply, 502, messagePage(ctx, { title: ct(ctx.locale, 'error.title'), message: ct(ctx.locale, 'error.unavailable') }));
  }

  scope.get('/callback', async (request, reply) => {
    const ctx = pageContext(request, reply);
    const retry = [{ href: '/console/login', label: ct(ctx.locale, 'error.retry') }];
    const transaction = relyingParty.takeTransaction(request, reply);
    if (!transaction) return sendPage(reply, 400, messagePage(ctx, { title: ct(ctx.locale, 'error.title'), message: ct(ctx.locale, 'error.login'), links: retry }));

    const login = await finishLogin(relyingParty, request, transaction);
    if (login.kind === 'unavailable') return unavailable(request, reply, login.error);
    if (login.kind === 'rejected') {
      request.log.info({ err: login.error }, 'admin console login failed');
      return sendPage(reply, 400, messagePage(ctx, {
        title: ct(ctx.locale, 'error.title'), message: `${ct(ctx.locale, 'error.loginFailed')}${login.code ? ` (${login.code})` : ''}`, links: retry,
      }));
    }
    const { claims, idToken } = login;

    const account = await runtime.accounts.findById(claims.sub);
    const actor = account ? `account:${account.idNumberMasked}` : 'unknown';
    const level = typeof claims.acr === 'string' ? catalog.levelForAcr(claims.acr) : undefined;
    if (!level || level.rank < minLevel.rank) {
      await recordDenied(request, actor, account?.id, { reason: 'level', acr: claims.acr ?? null, needed: minLevel.id });
      return denied(reply, ctx, 'denied.level', 403, { level: levelLabel(minLevel, ctx.locale) });
    }
    if (!account || !isAdmin(account)) {
      await recordDenied(request, actor, account?.id, { reason: 'not_admin' });
      return denied(reply, ctx, 'denied.notAdmin');
    }

    // A fresh id on every login: a session id planted before the login is never promoted.
    await sessions.end(readSignedCookie(request, SESSION_COOKIE));
    const { id } = await sessions.create({ accountId: account.id, idToken, acr: claims.acr as string });
    reply.setCookie(SESSION_COOKIE, id, cookieOptions);
    return reply.redirect('/console/', 303);
  });

  async function recentLevels(clientId: string): Promise<ClientOverview['recent']> {
    const events = (await runtime.audit.list({ event: 'token.issued', clientId, limit: RECENT_TOKEN_EVENTS })).filter((e) => e.result === 'success');
    const acrs = events.map((e) => e.detail?.acr).filter((acr): acr is string => typeof acr === 'string' && acr !== '');
    return { considered: events.length, latest: acrs[0], counts: [...new Set(acrs)].map((label) => ({ label, count: acrs.filter((a) => a === label).length })) };
  }

  async function renderOverview(request: FastifyRequest, reply: FastifyReply, principal: Principal, status: number, extra: { notice?: string; error?: string; formState?: PolicyFormState } = {}) {
    const ctx = pageContext(request, reply, principal);
    const registered = await runtime.clients.list();
    const clients = await Promise.all(registered.map(async (c: { client_id: string; client_name?: unknown }): Promise<ClientOverview> => {
      const recent = await recentLevels(c.client_id);
      const label = (acr: string) => {
        const level = catalog.levelForAcr(acr);
        return level ? levelLabel(level, ctx.locale) : acr;
      };
      return {
        id: c.client_id,
        name: typeof c.client_name === 'string' && c.client_name ? c.client_name : c.client_id,
        policies: await runtime.policies.forClient(c.client_id),
        editable: c.client_id !== CONSOLE_CLIENT_ID,
        recent: {
          considered: recent.considered,
          latest: recent.latest ? label(recent.latest) : undefined,
          counts: recent.counts.map((entry) => ({ label: label(entry.label), count: entry.count })),
        },
      };
    }));
    return sendPage(reply, status, overviewPage(ctx, {
      catalog, issuerAcr: (level) => catalog.acrFor(level, 'uri'), clients, ...extra,
    }));
  }

  scope.get<{ Querystring: Query }>('/', async (request, reply) => {
    if (request.query.state === SIGNED_OUT_STATE && !(await sessions.touch(readSignedCookie(request, SESSION_COOKIE)))) {
      const ctx = pageContext(request, reply);
      return sendPage(reply, 200, messagePage(ctx, {
        title: ct(ctx.locale, 'signedOut.title'), message: ct(ctx.locale, 'signedOut.text'), alert: false,
        links: [{ href: '/console/login', label: ct(ctx.locale, 'signedOut.login') }],
      }));
    }
    const principal = await authorize(request, reply, 'policies:read');
    if (!principal) return reply;
    let notice: string | undefined;
    if (request.query.done) {
      const done = await runtime.clients.find(request.query.done);
      if (done) notice = ct(pageContext(request, reply, principal).locale, 'done.policy', { client: String(done.client_name ?? done.client_id) });
    }
    return renderOverview(request, reply, principal, 200, { notice });
  });

  type Checked =
    | { ok: true; clientId: string; clientName: string; scope: string; level: LevelDefinition; maxAge: number | null; values: PolicyFormValues }
    | { ok: false; formState?: PolicyFormState; error?: string };

  async function checkPolicyInput(body: Body, locale: Locale): Promise<Checked> {
    const values: PolicyFormValues = {
      min_level: field(body, 'min_level'), scope: field(body, 'scope') || '*', max_auth_age_seconds: field(body, 'max_auth_age_seconds').trim(),
    };
    const clientId = field(body, 'client_id');
    const registered = clientId ? await runtime.clients.find(clientId) : undefined;
    if (!registered) return { ok: false, error: ct(locale, 'error.unknownClient') };
    if (clientId === CONSOLE_CLIENT_ID) return { ok: false, error: ct(locale, 'error.consoleClient') };
    const fail = (fieldName: string, message: string): Checked => ({ ok: false, formState: { clientId, values, field: fieldName, message } });
    const level = catalog.level(values.min_level);
    if (!level) return fail('min_level', ct(locale, 'error.unknownLevel', { levels: catalog.levels.map((l) => l.id).join(', ') }));
    if (!(POLICY_SCOPES as readonly string[]).includes(values.scope)) return fail('scope', ct(locale, 'error.unknownScope'));
    let maxAge: number | null = null;
    if (values.max_auth_age_seconds !== '') {
      maxAge = /^\d{1,7}$/.test(values.max_auth_age_seconds) ? Number(values.max_auth_age_seconds) : Number.NaN;
      if (!(maxAge >= 1 && maxAge <= MAX_AUTH_AGE_LIMIT)) return fail('max_auth_age_seconds', ct(locale, 'error.maxAge'));
    }
    const clientName = typeof registered.client_name === 'string' && registered.client_name ? registered.client_name : clientId;
    return { ok: true, clientId, clientName, scope: values.scope, level, maxAge, values };
  }

  const stateToken = (policy: LevelPolicy | undefined) => (policy ? `${policy.minLevel}|${policy.maxAuthAgeSeconds ?? ''}` : 'none');

  async function currentPolicy(clientId: string, policyScope: string) {
    // Read past the policy service's short cache: the confirmation must compare with what is stored now.
    const { rows } = await runtime.db.query<{ min_level: string; max_auth_age_seconds: number | null }>(
      'SELECT min_level, max_auth_age_seconds FROM level_policies WHERE client_id = $1 AND scope = $2', [clientId, policyScope]);
    return rows[0] ? { minLevel: rows[0].min_level, maxAuthAgeSeconds: rows[0].max_auth_age_seconds } as LevelPolicy : undefined;
  }

  function renderConfirm(request: FastifyRequest, reply: FastifyReply, principal: Principal, checked: Extract<Checked, { ok: true }>, before: LevelPolicy | undefined, stale: boolean) {
    const from = (before && catalog.level(before.minLevel)) || catalog.levels[0];
    return sendPage(reply, stale ? 409 : 200, confirmPage(pageContext(request, reply, principal), {
      clientId: checked.clientId, clientName: checked.clientName, scope: checked.scope, from, fromIsDefault: !before, to: checked.level,
      maxAgeFrom: before?.maxAuthAgeSeconds ?? null, maxAgeTo: checked.maxAge, expected: stateToken(before), values: checked.values, stale,
    }));
  }

  scope.post('/policies/preview', async (request, reply) => {
    const principal = await authorize(request, reply, 'policies:write');
    if (!principal) return reply;
    const checked = await checkPolicyInput(request.body as Body, pageContext(request, reply, principal).locale);
    if (!checked.ok) return renderOverview(request, reply, principal, 400, { error: checked.error ?? checked.formState?.message, formState: checked.formState });
    return renderConfirm(request, reply, principal, checked, await currentPolicy(checked.clientId, checked.scope), false);
  });

  scope.post('/policies/confirm', async (request, reply) => {
    const principal = await authorize(request, reply, 'policies:write');
    if (!principal) return reply;
    const body = request.body as Body;
    const checked = await checkPolicyInput(body, pageContext(request, reply, principal).locale);
    if (!checked.ok) return renderOverview(request, reply, principal, 400, { error: checked.error ?? checked.formState?.message, formState: checked.formState });
    const before = await currentPolicy(checked.clientId, checked.scope);
    if (stateToken(before) !== field(body, 'expected')) return renderConfirm(request, reply, principal, checked, before, true);
    await runtime.policies.set(
      { clientId: checked.clientId, scope: checked.scope, minLevel: checked.level.id, maxAuthAgeSeconds: checked.maxAge },
      { name: `account:${principal.account.idNumberMasked}`, ip: request.ip });
    return reply.redirect(`/console/?done=${encodeURIComponent(checked.clientId)}`, 303);
  });

  scope.get<{ Querystring: Query }>('/audit', async (request, reply) => {
    const principal = await authorize(request, reply, 'audit:read');
    if (!principal) return reply;
    const ctx = pageContext(request, reply, principal);
    const wanted = request.query.event || undefined;
    const known = !wanted || (AUDIT_EVENTS as readonly string[]).includes(wanted);
    const events = known ? await runtime.audit.list({ event: wanted as AuditEventName | undefined, limit: AUDIT_LIMIT }) : [];
    return sendPage(reply, known ? 200 : 400, auditPage(ctx, {
      events, eventNames: AUDIT_EVENTS, selected: known ? wanted : undefined, limit: AUDIT_LIMIT, error: known ? undefined : ct(ctx.locale, 'audit.unknownEvent'),
    }));
  });

  scope.get('/logout', async (request, reply) => {
    const principal = await authorize(request, reply, undefined);
    if (!principal) return reply;
    return sendPage(reply, 200, logoutPage(pageContext(request, reply, principal)));
  });

  scope.post('/logout', async (request, reply) => {
    const principal = await authorize(request, reply, undefined);
    if (!principal) return reply;
    await sessions.end(principal.sessionId);
    reply.clearCookie(SESSION_COOKIE, { path: COOKIE_PATH });
    let config: client.Configuration;
    try {
      config = await relyingParty.getConfiguration();
    } catch (error) {
      return unavailable(request, reply, error);
    }
    const url = client.buildEndSessionUrl(config, {
      id_token_hint: principal.session.idToken, post_logout_redirect_uri: postLogoutRedirectUri, state: SIGNED_OUT_STATE,
    });
    return reply.redirect(url.href, 303);
  });
}
