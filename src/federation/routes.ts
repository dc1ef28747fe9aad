import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { LevelCatalog, MethodId } from '../assurance/levels.ts';
import type { ProofingRepository } from '../assurance/proofing-repository.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { HotStore } from '../cache/hot-store.ts';
import type { Database } from '../db/database.ts';
import type { DataProtector } from '../identity/data-protection.ts';
import { t, type Locale } from '../interactions/i18n.ts';
import type { InteractionKit } from '../interactions/interaction-kit.ts';
import { errorPage } from '../interactions/views/pages.ts';
import { fm, type UpstreamFailure } from './messages.ts';
import { upstreamFailurePage } from './pages.ts';
import { createRecognition, maskSubject, RecognitionRefused } from './recognition.ts';
import { classifyUpstreamError, createUpstreamClient, type UpstreamClient } from './upstream-client.ts';
import type { Upstream } from './upstream-config.ts';

/** A completed upstream login, handed to the login prompt. */
export type UpstreamLogin = {
  accountId: string;
  /** Our level-table methods the upstream's login counts as (several at once, e.g. pwd + sms). */
  methods: readonly MethodId[];
  amr: readonly string[];
  /** When the person authenticated at the upstream, epoch seconds; the methods' freshness runs from it. */
  authTime: number;
};

export type FinishUpstreamLogin = (request: FastifyRequest, reply: FastifyReply, login: UpstreamLogin) => Promise<FastifyReply>;

export type FederationDeps = {
  /** Our issuer: the callback registered at each upstream is `<issuer>/federation/callback/<id>`. */
  issuer: string;
  upstreams: readonly Upstream[];
  provider: Provider;
  kit: InteractionKit;
  hot: HotStore;
  db: Database;
  protector: DataProtector;
  proofing: ProofingRepository;
  catalog: LevelCatalog;
  audit: AuditLog;
  clock: () => Date;
  /** The interaction kit's finishLogin, counting every method the upstream's mapping stands for. */
  finishLogin: FinishUpstreamLogin;
};

type StartParams = { uid: string; id: string };
/** Which interaction an upstream login belongs to, keyed by its state. */
type Binding = { uid: string; upstream: string; clientId: string; locale: Locale };
/** The recognised login waiting for the browser to come back to its interaction. */
type Outcome = {
  upstream: string; accountId: string; methods: MethodId[]; authTime: number; actor: string;
  acr: string | null; proofing: string; proofingRecorded: boolean; outcome: string;
};

const LOGIN_TTL_SECONDS = 10 * 60;
const OUTCOME_TTL_SECONDS = 2 * 60;
const UID = { type: 'string', pattern: '^[A-Za-z0-9_-]{10,64}$' };
const UPSTREAM_ID = { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,31}$' };

const STATUS: Record<UpstreamFailure, number> = {
  unknown_upstream: 404, no_transaction: 400, state_mismatch: 400, upstream_refused: 400, upstream_unavailable: 503,
  token_invalid: 400, acr_not_mapped: 403, subject_missing: 400, id_number_missing: 400, id_number_invalid: 400,
  id_number_changed: 403, name_missing: 400, no_local_account: 403, account_not_active: 403,
};


/**
 * Login through upstream identity providers: `/interaction/:uid/upstream/:id` sends the person there,
 * `/federation/callback/:id` validates what comes back and recognises the local account, and
 * `/interaction/:uid/upstream/:id/finish` (under the interaction's cookie path) completes the login prompt.
 */
export async function registerFederationRoutes(app: FastifyInstance, deps: FederationDeps): Promise<void> {
  const { kit, hot, audit, catalog } = deps;
  const cookieSecure = deps.issuer.startsWith('https://');
  const clients = new Map<string, UpstreamClient>(deps.upstreams.map((u) => [u.id, createUpstreamClient(u, { issuer: deps.issuer, cookieSecure })]));
  const recognition = createRecognition(deps);
  const { finishLogin } = deps;
  const nowSeconds = () => Math.floor(deps.clock().getTime() / 1000);

  async function refuse(request: FastifyRequest, reply: FastifyReply, failure: {
    reason: UpstreamFailure; upstream?: Upstream; upstreamId: string; binding?: Binding; locale: Locale;
    actor?: string; accountId?: string; detail?: Record<string, unknown>;
  }) {
    await audit.record({
      event: 'login.upstream', result: 'failure', actor: failure.actor, accountId: failure.accountId, clientId: failure.binding?.clientId, ip: request.ip,
      detail: { upstream: failure.upstreamId, reason: failure.reason, ...failure.detail },
    });
    const name = failure.upstream?.displayName[failure.locale] ?? failure.upstreamId;
    const message = fm(failure.locale, `failure.${failure.reason}`, { name });
    const back = failure.binding && failure.reason !== 'unknown_upstream' ? `/interaction/${failure.binding.uid}` : undefined;
    return kit.sendPage(reply, STATUS[failure.reason], upstreamFailurePage(failure.locale, message, back));
  }

  app.get<{ Params: StartParams }>('/interaction/:uid/upstream/:id', {
    schema: { params: { type: 'object', properties: { uid: UID, id: UPSTREAM_ID }, required: ['uid', 'id'] } },
  }, async (request, reply) => {
    const details = await kit.load(request, reply);
    if (!details) return reply;
    const locale = kit.localeOf(request, details);
    const upstreamClient = clients.get(request.params.id);
    const binding: Binding = { uid: details.uid, upstream: request.params.id, clientId: String(details.params.client_id), locale };
    if (!upstreamClient) return refuse(request, reply, { reason: 'unknown_upstream', upstreamId: request.params.id, binding, locale });
    if (details.prompt.name !== 'login') return kit.sendPage(reply, 400, errorPage(locale, t(locale, 'error.session')));

    const { upstream } = upstreamClient;
    const extra: Record<string, string> = {};
    if (upstream.type === 'oidc') {
      extra.ui_locales = locale;
      // The relying party's demands on freshness apply to the authentication that happens upstream.
      if (details.params.max_age !== undefined) extra.max_age = String(details.params.max_age);
      if (String(details.params.prompt ?? '').split(' ').includes('login')) extra.prompt = 'login';
    }
    let started: { url: URL; state: string };
    try {
      started = await upstreamClient.start(reply, extra);
    } catch (error) {
      request.log.warn({ err: error, upstream: upstream.id }, 'upstream login could not start');
      return refuse(request, reply, { reason: 'upstream_unavailable', upstream, upstreamId: upstream.id, binding, locale, detail: { step: 'start', error: classifyUpstreamError(error)?.code } });
    }
    await hot.set(`federation:login:${started.state}`, JSON.stringify(binding), LOGIN_TTL_SECONDS);
    return reply.redirect(started.url.href, 303);
  });

  app.get<{ Params: { id: string }; Querystring: Record<string, string> }>('/federation/callback/:id', {
    schema: { params: { type: 'object', properties: { id: UPSTREAM_ID }, required: ['id'] } },
  }, async (request, reply) => {
    const upstreamId = request.params.id;
    const upstreamClient = clients.get(upstreamId);
    const fallbackLocale = kit.localeOf(request);
    if (!upstreamClient) return refuse(request, reply, { reason: 'unknown_upstream', upstreamId, locale: fallbackLocale });
    const { upstream } = upstreamClient;

    const transaction = upstreamClient.takeTransaction(request, reply);
    if (!transaction) return refuse(request, reply, { reason: 'no_transaction', upstream, upstreamId, locale: fallbackLocale });
    const stored = await hot.take(`federation:login:${transaction.state}`);
    const binding = stored ? (JSON.parse(stored) as Binding) : undefined;
    if (!binding || binding.upstream !== upstreamId) return refuse(request, reply, { reason: 'no_transaction', upstream, upstreamId, locale: fallbackLocale });
    if (request.query.state !== transaction.state) {
      return refuse(request, reply, { reason: 'state_mismatch', upstream, upstreamId, binding, locale: binding.locale });
    }
    const { locale } = binding;

    let result: Awaited<ReturnType<UpstreamClient['finish']>>;
    try {
      result = await upstreamClient.finish(request, transaction);
    } catch (error) {
      const classified = classifyUpstreamError(error);
      if (!classified) throw error;
      request.log.warn({ err: error, upstream: upstreamId }, 'upstream login refused');
      return refuse(request, reply, { reason: classified.reason, upstream, upstreamId, binding, locale, detail: { error: classified.code } });
    }
    const { identity } = result;
    if (!identity.subject) return refuse(request, reply, { reason: 'subject_missing', upstream, upstreamId, binding, locale });

    let recognised: Awaited<ReturnType<typeof recognition.recognise>>;
    try {
      recognised = await recognition.recognise(upstream, identity, { ip: request.ip, clientId: binding.clientId });
    } catch (error) {
      if (!(error instanceof RecognitionRefused)) throw error;
      return refuse(request, reply, {
        reason: error.reason, upstream, upstreamId, binding, locale, actor: error.actor, accountId: error.accountId,
        detail: { subject: maskSubject(identity.subject), ...(identity.acr !== undefined ? { acr: identity.acr } : {}), ...error.detail },
      });
    }

    const outcome: Outcome = {
      upstream: upstreamId, accountId: recognised.accountId, methods: [...recognised.grant.methods],
      // An auth_time in the future (clock skew) counts as now.
      authTime: Math.min(result.authTime ?? nowSeconds(), nowSeconds()),
      actor: recognised.idNumberMasked, acr: identity.acr ?? null, proofing: recognised.grant.proofing,
      proofingRecorded: recognised.proofingRecorded, outcome: recognised.outcome,
    };
    await hot.set(`federation:done:${binding.uid}`, JSON.stringify(outcome), OUTCOME_TTL_SECONDS);
    return reply.redirect(`/interaction/${binding.uid}/upstream/${upstreamId}/finish`, 303);
  });

  // A separate hop: oidc-provider's interaction cookie is scoped to /interaction/<uid>, so only here can the login complete.
  app.get<{ Params: StartParams }>('/interaction/:uid/upstream/:id/finish', {
    schema: { params: { type: 'object', properties: { uid: UID, id: UPSTREAM_ID }, required: ['uid', 'id'] } },
  }, async (request, reply) => {
    const details = await kit.load(request, reply);
    if (!details) return reply;
    const locale = kit.localeOf(request, details);
    const stored = await hot.take(`federation:done:${details.uid}`);
    const outcome = stored ? (JSON.parse(stored) as Outcome) : undefined;
    if (!outcome || outcome.upstream !== request.params.id) return kit.sendPage(reply, 400, errorPage(locale, t(locale, 'error.session')));
    await audit.record({
      event: 'login.upstream', result: 'success', actor: outcome.actor, accountId: outcome.accountId, clientId: String(details.params.client_id), ip: request.ip,
      detail: {
        upstream: outcome.upstream, acr: outcome.acr, proofing: outcome.proofing, methods: outcome.methods,
        account: outcome.outcome, proofingRecorded: outcome.proofingRecorded,
      },
    });
    return finishLogin(request, reply, { accountId: outcome.accountId, methods: outcome.methods, amr: catalog.amrFor(outcome.methods), authTime: outcome.authTime });
  });
}
