import type { LevelCatalog, LevelDefinition, MethodId } from './levels.ts';

export type Factor = {
  method: MethodId;
  at: number; // epoch seconds
  /** The highest level this factor may count towards (a certificate counts up to its CA's mapped level). */
  maxLevel?: string;
  /** amr values beyond the method's own, e.g. `pin` when the certificate's key needed one. */
  amr?: readonly string[];
};

export type SessionFacts = {
  /** The account's best proofing (id from the level table), or null when nothing was proofed. */
  proofing: string | null;
  factors: readonly Factor[];
  /** Last time the session was used, epoch seconds; null for a session being created now. */
  lastSeen: number | null;
  now: number;
  /** Oldest acceptable authentication (max_age from the request or the policy), seconds. */
  maxAge?: number;
};

/**
 * The methods that still count towards `level`: each within its own freshness window, within the level's
 * absolute limit and the request's max_age, and, when the session sat idle longer than the level allows,
 * only those performed after that idle gap.
 */
export function freshMethods(catalog: LevelCatalog, level: LevelDefinition, facts: SessionFacts): Set<MethodId> {
  const idleExpired = facts.lastSeen !== null && facts.now - facts.lastSeen > level.idleSeconds;
  const fresh = new Set<MethodId>();
  for (const factor of facts.factors) {
    const age = facts.now - factor.at;
    const method = catalog.methods[factor.method];
    if (!method || age < 0) continue;
    if (factor.maxLevel !== undefined && (catalog.level(factor.maxLevel)?.rank ?? 0) < level.rank) continue;
    if (age > method.freshnessSeconds || age > level.absoluteSeconds) continue;
    if (facts.maxAge !== undefined && age > facts.maxAge) continue;
    if (idleExpired && factor.at <= facts.lastSeen!) continue;
    fresh.add(factor.method);
  }
  return fresh;
}

export function meetsLevel(catalog: LevelCatalog, level: LevelDefinition, facts: SessionFacts): boolean {
  const fresh = freshMethods(catalog, level, facts);
  return level.paths.some((path) => catalog.proofingRank(facts.proofing) >= catalog.proofingRank(path.proofing)
    && path.methods.some((combo) => combo.every((m) => fresh.has(m))));
}

/** The session's level: the highest level whose proofing and authentication requirements both hold. */
export function computeLevel(catalog: LevelCatalog, facts: SessionFacts): LevelDefinition | undefined {
  for (let i = catalog.levels.length - 1; i >= 0; i--) {
    if (meetsLevel(catalog, catalog.levels[i], facts)) return catalog.levels[i];
  }
  return undefined;
}

export type StepUpPlan =
  | { kind: 'satisfied' }
  /** `missing`: the cheapest way; `next`: the methods any equally cheap way starts with, offered side by side. */
  | { kind: 'step_up'; missing: MethodId[]; next: MethodId[] }
  | { kind: 'unmet'; reason: 'proofing' | 'methods' };

/**
 * What the person must still do to reach `target`: the combination needing the fewest new methods among
 * those the account can perform. Proofing short of the target can be raised in the flow only by the method
 * the level table names for it (a face match proves and authenticates at once); otherwise it is unmet.
 */
export function planStepUp(catalog: LevelCatalog, target: LevelDefinition, facts: SessionFacts, available: ReadonlySet<MethodId>): StepUpPlan {
  if (meetsLevel(catalog, target, facts)) return { kind: 'satisfied' };
  const fresh = freshMethods(catalog, target, facts);
  const feasible: MethodId[][] = [];
  let unmet: 'proofing' | 'methods' = 'proofing';
  for (const path of target.paths) {
    const proofingShort = catalog.proofingRank(facts.proofing) < catalog.proofingRank(path.proofing);
    const raisers = proofingShort ? catalog.proofing.find((p) => p.id === path.proofing)?.raisedBy ?? [] : [];
    if (proofingShort && !raisers.some((m) => available.has(m))) continue;
    unmet = 'methods';
    for (const combo of path.methods) {
      const raiser = combo.find((m) => raisers.includes(m) && available.has(m));
      if (proofingShort && !raiser) continue;
      const missing = combo.filter((m) => !fresh.has(m));
      // Done earlier in this session without raising the proofing: it must be done again to do so.
      if (raiser && !missing.includes(raiser)) missing.push(raiser);
      if (missing.some((m) => !available.has(m))) continue;
      feasible.push(missing);
    }
  }
  if (feasible.length === 0) return { kind: 'unmet', reason: unmet };
  const fewest = Math.min(...feasible.map((m) => m.length));
  const cheapest = feasible.filter((m) => m.length === fewest);
  return { kind: 'step_up', missing: cheapest[0], next: [...new Set(cheapest.map((m) => m[0]))] };
}
