import type { AuditLog } from '../audit/audit-log.ts';
import type { Database } from '../db/database.ts';
import { AppError, invalidInput, notFound } from '../http/errors.ts';
import type { LevelCatalog, LevelDefinition } from './levels.ts';
import { createPolicyRepository, type LevelPolicy } from './policy-repository.ts';

export type PolicyInput = { clientId: string; scope?: string; minLevel: string; maxAuthAgeSeconds?: number | null };

const CACHE_MS = 2000;

/**
 * Admin-set level policies. Changes are validated against the level table and the registered clients,
 * written together with their audit record (old and new value), and seen by every node within CACHE_MS.
 */
export function createPolicyService(deps: {
  db: Database;
  catalog: LevelCatalog;
  audit: AuditLog;
  clientExists: (clientId: string) => Promise<boolean>;
  knownScopes: readonly string[];
}) {
  const repo = createPolicyRepository(deps.db);
  const cache = new Map<string, { at: number; value: LevelPolicy[] }>();

  async function forClient(clientId: string): Promise<LevelPolicy[]> {
    const hit = cache.get(clientId);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.value;
    const value = await repo.forClient(clientId);
    cache.set(clientId, { at: Date.now(), value });
    return value;
  }

  function validate(input: PolicyInput): { scope: string; level: LevelDefinition } {
    const scope = input.scope ?? '*';
    const level = deps.catalog.level(input.minLevel);
    if (!level) throw invalidInput(`Unknown level "${input.minLevel}"; defined levels: ${deps.catalog.levels.map((l) => l.id).join(', ')}.`, { field: 'min_level' });
    if (scope !== '*' && !deps.knownScopes.includes(scope)) throw invalidInput(`Unknown scope "${scope}".`, { field: 'scope' });
    if (input.maxAuthAgeSeconds !== undefined && input.maxAuthAgeSeconds !== null && (!Number.isInteger(input.maxAuthAgeSeconds) || input.maxAuthAgeSeconds <= 0)) {
      throw invalidInput('max_auth_age_seconds must be a positive integer.', { field: 'max_auth_age_seconds' });
    }
    return { scope, level };
  }

  return {
    forClient,
    all: () => repo.all(),

    /** The level and authentication age a request of this client for these scopes must meet at least. */
    async requirementFor(clientId: string, scopes: Iterable<string>): Promise<{ level: LevelDefinition | undefined; maxAge: number | undefined }> {
      const requested = new Set(scopes);
      let level: LevelDefinition | undefined;
      let maxAge: number | undefined;
      for (const policy of await forClient(clientId)) {
        if (policy.scope !== '*' && !requested.has(policy.scope)) continue;
        const candidate = deps.catalog.level(policy.minLevel);
        if (candidate && (!level || candidate.rank > level.rank)) level = candidate;
        if (policy.maxAuthAgeSeconds && (maxAge === undefined || policy.maxAuthAgeSeconds < maxAge)) maxAge = policy.maxAuthAgeSeconds;
      }
      return { level, maxAge };
    },

    async set(input: PolicyInput, actor: { name: string; ip?: string }): Promise<{ before: LevelPolicy | undefined; after: LevelPolicy }> {
      const { scope, level } = validate(input);
      if (!(await deps.clientExists(input.clientId))) throw notFound(`No client "${input.clientId}".`);
      const result = await deps.db.transaction(async (tx) => {
        const txRepo = createPolicyRepository(tx);
        const before = await txRepo.find(input.clientId, scope);
        const after = await txRepo.upsert({ clientId: input.clientId, scope, minLevel: level.id, maxAuthAgeSeconds: input.maxAuthAgeSeconds ?? null, updatedBy: actor.name });
        await deps.audit.recordWithin(tx, {
          event: 'admin.policy.updated', result: 'success', actor: actor.name, clientId: input.clientId, ip: actor.ip,
          detail: { scope, before: before ? { minLevel: before.minLevel, maxAuthAgeSeconds: before.maxAuthAgeSeconds } : null, after: { minLevel: after.minLevel, maxAuthAgeSeconds: after.maxAuthAgeSeconds } },
        });
        return { before, after };
      });
      cache.delete(input.clientId);
      return result;
    },

    async remove(clientId: string, scope: string, actor: { name: string; ip?: string }): Promise<void> {
      await deps.db.transaction(async (tx) => {
        const txRepo = createPolicyRepository(tx);
        const before = await txRepo.find(clientId, scope);
        if (!before) throw new AppError('not_found', `No policy for client "${clientId}" and scope "${scope}".`, { status: 404 });
        await txRepo.delete(clientId, scope);
        await deps.audit.recordWithin(tx, {
          event: 'admin.policy.deleted', result: 'success', actor: actor.name, clientId, ip: actor.ip,
          detail: { scope, before: { minLevel: before.minLevel, maxAuthAgeSeconds: before.maxAuthAgeSeconds }, after: null },
        });
      });
      cache.delete(clientId);
    },
  };
}

export type PolicyService = ReturnType<typeof createPolicyService>;
