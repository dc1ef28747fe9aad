import type { Runtime } from '../bootstrap/runtime.ts';
import { AppError } from '../http/errors.ts';

export const POLICIES_USAGE = `Usage: npm run policies -- <command>
  levels                                              list the level definitions
  list                                                list every relying party's policy
  set <client_id> <level> [--scope S] [--max-age SECONDS]   minimum level (and maximum authentication age)
  delete <client_id> [--scope S]                      remove a policy (scope defaults to *)`;

function option(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}

/** The policies CLI: the same service, validation and audit (old and new value) as the admin API. */
export async function runPoliciesCommand(runtime: Runtime, args: string[], operator: string): Promise<unknown> {
  const [command, clientId, level] = args;
  const actor = { name: `cli:${operator}` };
  switch (command) {
    case 'levels':
      return runtime.catalog.levels.map((l) => ({ id: l.id, name: l.name, acr: runtime.catalog.acrFor(l, 'uri'), proofing: l.proofing, methods: l.methods }));
    case 'list':
      return runtime.policies.all();
    case 'set': {
      if (!clientId || !level) throw new AppError('invalid_input', POLICIES_USAGE);
      const maxAge = option(args, '--max-age');
      if (maxAge !== undefined && !/^\d+$/.test(maxAge)) throw new AppError('invalid_input', '--max-age must be a whole number of seconds');
      return runtime.policies.set({ clientId, minLevel: level, scope: option(args, '--scope'), maxAuthAgeSeconds: maxAge === undefined ? null : Number(maxAge) }, actor);
    }
    case 'delete':
      if (!clientId) throw new AppError('invalid_input', POLICIES_USAGE);
      await runtime.policies.remove(clientId, option(args, '--scope') ?? '*', actor);
      return { deleted: { clientId, scope: option(args, '--scope') ?? '*' } };
    default:
      throw new AppError('invalid_input', POLICIES_USAGE);
  }
}
