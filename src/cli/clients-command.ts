import { readFileSync } from 'node:fs';
import type { Runtime } from '../bootstrap/runtime.ts';
import { AppError } from '../http/errors.ts';

export const CLIENTS_USAGE = `Usage: npm run clients -- <command>
  list                                 list relying parties
  show <client_id>                     show one (never its secret)
  create --json '<metadata>'           register one; prints the generated secret once
  create --file metadata.json
  update <client_id> --json '<metadata>' [--rotate-secret]
  delete <client_id>
Metadata uses RFC 7591 names, e.g. {"client_id":"tax-portal","client_name":"税务门户",
  "redirect_uris":["https://tax.example.gov.cn/cb"],"grant_types":["authorization_code","refresh_token"]}
An admin client for the admin API: {"client_id":"ops","grant_types":["client_credentials"],"response_types":[],"redirect_uris":[],"scope":"admin"}`;

function metadataFrom(args: string[]): Record<string, unknown> {
  const json = args.indexOf('--json');
  const file = args.indexOf('--file');
  const text = json >= 0 ? args[json + 1] : file >= 0 ? readFileSync(args[file + 1], 'utf8') : undefined;
  if (!text) throw new AppError('invalid_input', 'give the metadata with --json or --file');
  try {
    const value = JSON.parse(text) as unknown;
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new AppError('invalid_input', `the metadata is not a JSON object: ${(error as Error).message}`);
  }
}

/** The CLI's logic, separate from process handling so it is tested against a real runtime. */
export async function runClientsCommand(runtime: Runtime, args: string[], operator: string): Promise<unknown> {
  const [command, id] = args;
  const actor = `cli:${operator}`;
  switch (command) {
    case 'list':
      return runtime.clients.list();
    case 'show':
      return runtime.clients.get(id);
    case 'create': {
      const created = await runtime.clients.create(metadataFrom(args));
      const { client_secret: _s, ...after } = created;
      await runtime.audit.record({ event: 'admin.client.created', result: 'success', actor, clientId: created.client_id, detail: { after } });
      return created;
    }
    case 'update': {
      const { before, after } = await runtime.clients.update(id, metadataFrom(args), { rotateSecret: args.includes('--rotate-secret') });
      const { client_secret: _s, ...afterPublic } = after as Record<string, unknown>;
      await runtime.audit.record({ event: 'admin.client.updated', result: 'success', actor, clientId: id, detail: { before, after: afterPublic } });
      return after;
    }
    case 'delete': {
      const before = await runtime.clients.get(id);
      await runtime.clients.delete(id);
      await runtime.audit.record({ event: 'admin.client.deleted', result: 'success', actor, clientId: id, detail: { before } });
      return { deleted: id };
    }
    default:
      throw new AppError('invalid_input', CLIENTS_USAGE);
  }
}
