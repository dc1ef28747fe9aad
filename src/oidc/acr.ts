/**
 * `acr` values are stable URIs under the issuer. Password or SMS alone is one factor: level L1 of the
 * level table (standards §3.3). The level policy that grows this list lives here, not in authenticators.
 */
export const LEVELS = ['L1'] as const;
export type Level = (typeof LEVELS)[number];

export const acrUri = (issuer: string, level: Level) => `${issuer}/acr/${level}`;

export function acrForMethods(issuer: string, _amr: readonly string[]): string {
  return acrUri(issuer, 'L1');
}
