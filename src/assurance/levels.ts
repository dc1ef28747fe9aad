import { readFileSync } from 'node:fs';

export type Localized = { 'zh-CN': string; en: string };
export type MethodId = 'pwd' | 'sms' | 'face' | 'bank' | 'hwk' | 'swk';
export const METHOD_IDS: readonly MethodId[] = ['pwd', 'sms', 'face', 'bank', 'hwk', 'swk'];

export type MethodDefinition = { amr: readonly string[]; freshnessSeconds: number; name: Localized };
/** `raisedBy`: the methods that prove the identity to this standard while authenticating (a face match, a CA certificate). */
export type ProofingDefinition = { id: string; name: Localized; raisedBy?: readonly MethodId[] };
/** One way to reach a level: a proofing of the account and combinations of this session's methods. */
export type LevelPath = { proofing: string; methods: readonly (readonly MethodId[])[] };

export type LevelDefinition = {
  id: string;
  rank: number;
  name: Localized;
  description: Localized;
  proofing: string;
  methods: readonly (readonly MethodId[])[];
  idleSeconds: number;
  absoluteSeconds: number;
  eidas?: string;
  /** The main path (proofing + methods above) and any alternative path this deployment enabled. */
  paths: readonly LevelPath[];
};

type RawAlternative = { proofing: string; methods: MethodId[][]; enabledBy: string };

export type LevelCatalog = {
  levels: readonly LevelDefinition[];
  methods: Readonly<Record<MethodId, MethodDefinition>>;
  proofing: readonly ProofingDefinition[];
  proofingRank(id: string | null | undefined): number;
  level(id: string): LevelDefinition | undefined;
  /** Our acr URI (`<issuer>/acr/L2`), or the eIDAS URI mapped to a level. */
  levelForAcr(acr: string): LevelDefinition | undefined;
  acrFor(level: LevelDefinition, format: 'uri' | 'eidas'): string;
  acrValues(): string[];
  amrFor(methods: Iterable<MethodId>): string[];
};

export class LevelConfigError extends Error {}

/** Reads and validates the level table; any inconsistency stops start-up with the reason. */
export function loadLevelCatalog(file: string, issuer: string, options: { variants?: readonly string[] } = {}): LevelCatalog {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new LevelConfigError(`cannot read ${file}: ${(error as Error).message}`);
  }
  return createLevelCatalog(raw, issuer, options);
}

export function createLevelCatalog(raw: unknown, issuer: string, options: { variants?: readonly string[] } = {}): LevelCatalog {
  const variants = new Set(options.variants ?? []);
  const config = raw as { levels?: unknown; methods?: unknown; proofing?: unknown };
  const fail = (message: string): never => {
    throw new LevelConfigError(`level configuration: ${message}`);
  };
  if (!Array.isArray(config.proofing) || config.proofing.length === 0) fail('"proofing" must be a non-empty list');
  if (!config.methods || typeof config.methods !== 'object') fail('"methods" must be an object');
  if (!Array.isArray(config.levels) || config.levels.length === 0) fail('"levels" must be a non-empty list');

  const proofing = (config.proofing as (Omit<ProofingDefinition, 'raisedBy'> & { raisedBy?: MethodId | MethodId[] })[])
    .map((p): ProofingDefinition => (p.raisedBy === undefined ? p as ProofingDefinition : { ...p, raisedBy: ([] as MethodId[]).concat(p.raisedBy) }));
  const methods = config.methods as Record<MethodId, MethodDefinition>;
  for (const [id, method] of Object.entries(methods)) {
    if (!METHOD_IDS.includes(id as MethodId)) fail(`unknown method "${id}"`);
    if (!Number.isInteger(method.freshnessSeconds) || method.freshnessSeconds <= 0) fail(`method "${id}" needs a positive freshnessSeconds`);
    if (!Array.isArray(method.amr) || method.amr.length === 0) fail(`method "${id}" needs amr values`);
  }
  for (const p of proofing) for (const m of p.raisedBy ?? []) if (!methods[m]) fail(`proofing "${p.id}" raisedBy unknown method "${m}"`);

  const levels = (config.levels as (Omit<LevelDefinition, 'rank' | 'paths'> & { alternatives?: RawAlternative[] })[]).map((level, index): LevelDefinition => {
    if (!/^[A-Za-z0-9_-]{1,16}$/.test(level.id ?? '')) fail(`level ${index + 1} has an invalid id`);
    if (!proofing.some((p) => p.id === level.proofing)) fail(`level ${level.id} names unknown proofing "${level.proofing}"`);
    if (!Array.isArray(level.methods) || level.methods.length === 0) fail(`level ${level.id} needs at least one method combination`);
    for (const combo of level.methods) for (const m of combo) if (!methods[m]) fail(`level ${level.id} names unknown method "${m}"`);
    for (const key of ['idleSeconds', 'absoluteSeconds'] as const) {
      if (!Number.isInteger(level[key]) || level[key] <= 0) fail(`level ${level.id} needs a positive ${key}`);
    }
    const alternatives = level.alternatives ?? [];
    for (const alt of alternatives) {
      if (!proofing.some((p) => p.id === alt.proofing)) fail(`level ${level.id} alternative names unknown proofing "${alt.proofing}"`);
      for (const combo of alt.methods ?? []) for (const m of combo) if (!methods[m]) fail(`level ${level.id} alternative names unknown method "${m}"`);
    }
    const { alternatives: _alternatives, ...definition } = level;
    const paths: LevelPath[] = [{ proofing: level.proofing, methods: level.methods },
      ...alternatives.filter((alt) => variants.has(alt.enabledBy)).map((alt) => ({ proofing: alt.proofing, methods: alt.methods }))];
    return { ...definition, rank: index + 1, paths };
  });
  if (new Set(levels.map((l) => l.id)).size !== levels.length) fail('level ids must be unique');

  const byId = new Map(levels.map((l) => [l.id, l]));
  const byAcr = new Map<string, LevelDefinition>();
  for (const level of levels) {
    byAcr.set(`${issuer}/acr/${level.id}`, level);
    if (level.eidas && !byAcr.has(level.eidas)) byAcr.set(level.eidas, level);
  }

  return {
    levels,
    methods,
    proofing,
    proofingRank: (id) => (id ? proofing.findIndex((p) => p.id === id) + 1 : 0),
    level: (id) => byId.get(id),
    levelForAcr: (acr) => byAcr.get(acr),
    acrFor: (level, format) => (format === 'eidas' && level.eidas ? level.eidas : `${issuer}/acr/${level.id}`),
    acrValues: () => [...byAcr.keys()],
    amrFor(used) {
      const list = new Set<string>();
      let factors = 0;
      for (const method of used) {
        factors++;
        for (const amr of methods[method]?.amr ?? []) list.add(amr);
      }
      if (factors >= 2) list.add('mfa');
      return [...list];
    },
  };
}
