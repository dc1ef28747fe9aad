import type { Runtime } from '../bootstrap/runtime.ts';
import { AppError } from '../http/errors.ts';

export const ACCOUNTS_USAGE = `Usage: npm run accounts -- <command>   (every change needs --reason "…" and is audited)
  search --id-number N | --phone P | --name NAME
  show <account_id>
  freeze|unfreeze|logout|deceased <account_id> --reason R
  reset-proofing <account_id> [--to register_verified|self_asserted] --reason R
  merge <into_account_id> <from_account_id> --reason R
  grant-role|revoke-role <account_id> <role> --reason R     (roles: client_admin, policy_admin, auditor, account_operator, security_auditor, system_admin)
  registry-poll                                             read the population register's change feed once`;

const option = (args: string[], name: string) => {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
};

/** The accounts CLI: the same service, validation and audit as the admin API. */
export async function runAccountsCommand(runtime: Runtime, args: string[], operator: string): Promise<unknown> {
  const [command, id, other] = args;
  const actor = { name: `cli:${operator}` };
  const reason = option(args, '--reason');
  const service = runtime.accountAdmin;
  switch (command) {
    case 'search':
      return service.search({ idNumber: option(args, '--id-number'), phone: option(args, '--phone'), name: option(args, '--name') }, actor);
    case 'show':
      return service.get(id, actor);
    case 'freeze':
      return service.freeze(id, reason, actor);
    case 'unfreeze':
      return service.unfreeze(id, reason, actor);
    case 'logout':
      return service.forceLogout(id, reason, actor);
    case 'deceased':
      return service.markDeceased(id, reason, actor);
    case 'reset-proofing': {
      const to = option(args, '--to') ?? 'register_verified';
      if (to !== 'register_verified' && to !== 'self_asserted') throw new AppError('invalid_input', '--to must be register_verified or self_asserted');
      return service.resetProofing(id, { reason, to }, actor);
    }
    case 'merge':
      return service.merge(id, other, reason, actor);
    case 'grant-role':
    case 'revoke-role':
      return service.changeRole(id, other, command === 'grant-role', reason, actor);
    case 'registry-poll':
      return runtime.registrySync.pollOnce();
    default:
      throw new AppError('invalid_input', ACCOUNTS_USAGE);
  }
}
