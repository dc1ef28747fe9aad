import { ConfigError } from '../config/errors.ts';

/** What happens to each kind of data of a closed account beyond what is always deleted (identity, phone, passwords). */
export type ClosedAccountRetention = Readonly<{
  /** Proofing evidence: deleted, kept as the bare fact (kind and date, evidence emptied), or kept whole. */
  proofings: 'delete' | 'anonymise' | 'keep';
  /** Links to the legacy systems an account was imported from. */
  sources: 'delete' | 'keep';
}>;

export type SelfServiceSettings = Readonly<{
  /** Days between a deregistration request and the closure; signing in during them cancels it. */
  coolingOffDays: number;
  /** How recent an authentication must be for a sensitive change (re-login with max_age). */
  freshAuthSeconds: number;
  /** The level that export and deregistration ask for in their re-login (L2: password and SMS). */
  sensitiveLevel: string;
  retention: ClosedAccountRetention;
  /** How often scheduleClosures runs runClosures. */
  closureIntervalSeconds: number;
}>;

export const DEFAULT_SELF_SERVICE_SETTINGS: SelfServiceSettings = Object.freeze({
  coolingOffDays: 15,
  freshAuthSeconds: 300,
  sensitiveLevel: 'L2',
  retention: Object.freeze({ proofings: 'delete', sources: 'delete' }),
  closureIntervalSeconds: 3600,
});

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads the self-service keys from the environment, with the same strictness as loadConfig: every
 * problem is collected and reported at once. Level names are checked against the level table later,
 * by registerSelfServiceRoutes.
 */
export function loadSelfServiceSettings(env: Env): SelfServiceSettings {
  const problems: string[] = [];
  const integer = (name: string, fallback: number, min: number, max: number) => {
    const value = env[name];
    if (value === undefined || value === '') return fallback;
    const parsed = Number(value);
    if (Number.isInteger(parsed) && parsed >= min && parsed <= max) return parsed;
    problems.push(`${name} must be an integer from ${min} to ${max}, got "${value}"`);
    return fallback;
  };
  const oneOf = <T extends string>(name: string, fallback: T, allowed: readonly T[]): T => {
    const value = env[name];
    if (value === undefined || value === '') return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    problems.push(`${name} must be one of ${allowed.join(', ')}, got "${value}"`);
    return fallback;
  };
  const defaults = DEFAULT_SELF_SERVICE_SETTINGS;
  const settings: SelfServiceSettings = {
    coolingOffDays: integer('ACCOUNT_COOLING_OFF_DAYS', defaults.coolingOffDays, 1, 365),
    freshAuthSeconds: integer('ACCOUNT_FRESH_AUTH_SECONDS', defaults.freshAuthSeconds, 30, 3600),
    sensitiveLevel: env.ACCOUNT_SENSITIVE_LEVEL || defaults.sensitiveLevel,
    retention: Object.freeze({
      proofings: oneOf('ACCOUNT_CLOSED_PROOFINGS', defaults.retention.proofings, ['delete', 'anonymise', 'keep'] as const),
      sources: oneOf('ACCOUNT_CLOSED_SOURCES', defaults.retention.sources, ['delete', 'keep'] as const),
    }),
    closureIntervalSeconds: integer('ACCOUNT_CLOSURE_INTERVAL_SECONDS', defaults.closureIntervalSeconds, 60, 86400),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(settings);
}
