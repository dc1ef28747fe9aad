import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { computeLevel, freshMethods, planStepUp, type SessionFacts, type StepUpPlan } from './compute-level.ts';
import type { LevelCatalog, LevelDefinition, MethodId } from './levels.ts';
import type { PolicyService } from './policy-service.ts';
import type { ProofingRepository } from './proofing-repository.ts';
import type { SessionFactsRepository, VerifiedFactor } from './session-facts-repository.ts';

export type Requirement = { level: LevelDefinition; maxAge?: number; format: 'uri' | 'eidas'; requiredBy: 'default' | 'policy' | 'request' };

/** What a finished interaction passes to the provider besides `login`: the methods it verified. */
export type FactorsResult = { factors?: (MethodId | VerifiedFactor)[] };

type Evaluation = { requirement: Requirement; current: LevelDefinition | undefined };

/**
 * Decides, on every authorization request, whether the session's level meets what the relying party's
 * policy and request demand. It runs as a check of oidc-provider's login prompt, so a shortfall becomes
 * a login interaction (the step-up page) and a met level becomes the `acr`/`amr` of the tokens.
 */
export function createAssuranceEvaluator(deps: {
  catalog: LevelCatalog;
  issuer: string;
  policies: PolicyService;
  facts: SessionFactsRepository;
  proofing: ProofingRepository;
  clock: () => Date;
}) {
  const { catalog } = deps;
  const evaluations = new WeakMap<object, Evaluation>();
  const nowSeconds = () => Math.floor(deps.clock().getTime() / 1000);

  /** The weakest acceptable level among the values a relying party listed (any of them satisfies it). */
  function requestedLevel(ctx: KoaContextWithOIDC): { level?: LevelDefinition; eidas: boolean } {
    const values: string[] = [];
    const acrValues = ctx.oidc.params?.acr_values;
    if (typeof acrValues === 'string' && acrValues.trim()) values.push(...acrValues.trim().split(/\s+/));
    const claim = (ctx.oidc.claims?.id_token?.acr ?? ctx.oidc.claims?.userinfo?.acr) as { value?: unknown; values?: unknown } | null | undefined;
    if (claim) {
      if (claim.value !== undefined && claim.values !== undefined) {
        throw new errors.InvalidRequest('claims: acr must have either "value" or "values", not both');
      }
      const listed = claim.values !== undefined ? claim.values : claim.value !== undefined ? [claim.value] : [];
      if (!Array.isArray(listed) || listed.some((v) => typeof v !== 'string')) throw new errors.InvalidRequest('claims: acr values must be strings');
      values.push(...(listed as string[]));
    }
    let level: LevelDefinition | undefined;
    let eidas = false;
    for (const value of values) {
      const candidate = catalog.levelForAcr(value);
      if (!candidate) throw new errors.InvalidRequest(`acr value "${value}" is not supported; see acr_values_supported`);
      if (value !== catalog.acrFor(candidate, 'uri')) eidas = true;
      if (!level || candidate.rank < level.rank) level = candidate;
    }
    return { level, eidas };
  }

  async function requirement(ctx: KoaContextWithOIDC): Promise<Requirement> {
    const requested = requestedLevel(ctx);
    const policy = await deps.policies.requirementFor(ctx.oidc.client!.clientId, ctx.oidc.requestParamScopes ?? new Set());
    const maxAgeParam = ctx.oidc.params?.max_age !== undefined ? Number(ctx.oidc.params.max_age) : undefined;
    const maxAges = [policy.maxAge, maxAgeParam].filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    let level = catalog.levels[0];
    let requiredBy: Requirement['requiredBy'] = 'default';
    if (policy.level && policy.level.rank >= level.rank) { level = policy.level; requiredBy = 'policy'; }
    // A relying party may ask for more than its policy, never for less.
    if (requested.level && requested.level.rank > level.rank) { level = requested.level; requiredBy = 'request'; }
    return { level, maxAge: maxAges.length ? Math.min(...maxAges) : undefined, format: requested.eidas ? 'eidas' : 'uri', requiredBy };
  }

  async function sessionFacts(sessionUid: string, accountId: string, maxAge?: number): Promise<SessionFacts> {
    const [{ factors, lastSeen }, proofing] = await Promise.all([
      deps.facts.load(sessionUid, accountId),
      deps.proofing.best(accountId),
    ]);
    return { proofing, factors, lastSeen, now: nowSeconds(), maxAge };
  }

  return {
    requirement,
    sessionFacts,

    /** oidc-provider Check: true requests the login prompt (a step-up), false lets the request through. */
    async check(ctx: KoaContextWithOIDC): Promise<boolean> {
      // Validated before anything else, so a bad acr request is refused with or without a session.
      const required = await requirement(ctx);
      const session = ctx.oidc.session;
      if (!session?.accountId) return false;
      const result = ctx.oidc.result as (FactorsResult & { login?: { ts?: number } }) | undefined;
      if (result?.login && Array.isArray(result.factors)) {
        const verified = result.factors.map((f) => (typeof f === 'string' ? { method: f } : f));
        await deps.facts.record(session.uid, session.accountId, verified, result.login.ts ?? nowSeconds());
      }
      const facts = await sessionFacts(session.uid, session.accountId, required.maxAge);
      const current = computeLevel(catalog, facts);
      evaluations.set(ctx, { requirement: required, current });
      if (current && current.rank >= required.level.rank) {
        const order = Object.keys(catalog.methods) as MethodId[];
        const fresh = freshMethods(catalog, current, facts);
        session.acr = catalog.acrFor(current, required.format);
        const extra = facts.factors.filter((f) => fresh.has(f.method)).flatMap((f) => f.amr ?? []);
        session.amr = [...new Set([...catalog.amrFor(order.filter((m) => fresh.has(m))), ...extra])];
        await deps.facts.touch(session.uid, facts.now);
        return false;
      }
      return true;
    },

    details(ctx: KoaContextWithOIDC) {
      const evaluation = evaluations.get(ctx);
      if (!evaluation) return {};
      return {
        requiredLevel: evaluation.requirement.level.id,
        requiredBy: evaluation.requirement.requiredBy,
        currentLevel: evaluation.current?.id ?? null,
        maxAge: evaluation.requirement.maxAge ?? null,
      };
    },

    /** What the step-up page must ask for, given the methods this account can perform. */
    async plan(input: { sessionUid: string; accountId: string; requiredLevel: string; maxAge?: number | null; available: ReadonlySet<MethodId> }): Promise<{
      target: LevelDefinition; plan: StepUpPlan; done: MethodId[];
    }> {
      const target = catalog.level(input.requiredLevel) ?? catalog.levels[0];
      const facts = await sessionFacts(input.sessionUid, input.accountId, input.maxAge ?? undefined);
      const done = [...freshMethods(catalog, target, facts)];
      return { target, plan: planStepUp(catalog, target, facts, input.available), done };
    },
  };
}

export type AssuranceEvaluator = ReturnType<typeof createAssuranceEvaluator>;
