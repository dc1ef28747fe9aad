import { ConnectorError } from '../errors.ts';
import { assertConnectorUrl, postSigned } from '../signed-http.ts';
import type { PopulationRegister, RegistryEvent } from './types.ts';

export const IDENTITY_VERIFY_PATH = '/v1/identity/verify';
export const REGISTRY_EVENTS_PATH = '/v1/registry/events';

const ID_NUMBER = /^\d{17}[\dX]$/;

/** Strict shape check of one feed entry; anything else is a protocol violation. */
function parseEvent(value: unknown): RegistryEvent | undefined {
  const e = value as Record<string, unknown> | null;
  if (!e || typeof e.id !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(e.id) || typeof e.idNumber !== 'string' || !ID_NUMBER.test(e.idNumber)
    || typeof e.occurredAt !== 'string' || Number.isNaN(Date.parse(e.occurredAt))) return undefined;
  if (e.type === 'death') return { id: e.id, type: 'death', idNumber: e.idNumber, occurredAt: e.occurredAt };
  if (e.type === 'id_number_change' && typeof e.newIdNumber === 'string' && ID_NUMBER.test(e.newIdNumber)) {
    return { id: e.id, type: 'id_number_change', idNumber: e.idNumber, newIdNumber: e.newIdNumber, occurredAt: e.occurredAt };
  }
  if (e.type === 'name_change' && typeof e.newName === 'string' && e.newName.length > 0 && e.newName.length <= 50) {
    return { id: e.id, type: 'name_change', idNumber: e.idNumber, newName: e.newName, occurredAt: e.occurredAt };
  }
  return undefined;
}

/**
 * Client of the population register's signed HTTP API (protocol in signed-http.ts). `name` is recorded as the
 * account's `identityVerifiedBy` and doubles as the ConnectorError connector.
 */
export function createHttpPopulationRegister(options: {
  url: string;
  appId: string;
  secret: string;
  timeoutMs: number;
  name?: string;
}): PopulationRegister {
  assertConnectorUrl(options.url);
  const name = options.name ?? 'population-register';
  return {
    name,
    async verifyIdentity(input) {
      const answer = await postSigned({
        url: options.url,
        path: IDENTITY_VERIFY_PATH,
        appId: options.appId,
        secret: options.secret,
        body: { name: input.name, idNumber: input.idNumber },
        timeoutMs: options.timeoutMs,
        connector: name,
      });
      const match = (answer as { match?: unknown } | null)?.match;
      if (typeof match !== 'boolean') throw new ConnectorError(name, 'bad_response', { status: 200 });
      return { match };
    },
    async events(cursor, limit) {
      const answer = await postSigned({
        url: options.url, path: REGISTRY_EVENTS_PATH, appId: options.appId, secret: options.secret,
        body: { cursor, limit }, timeoutMs: options.timeoutMs, connector: name,
      }) as { events?: unknown; cursor?: unknown } | null;
      if (!answer || !Array.isArray(answer.events) || !(answer.cursor === null || typeof answer.cursor === 'string')) {
        throw new ConnectorError(name, 'bad_response', { status: 200 });
      }
      const events = answer.events.map(parseEvent);
      if (events.some((e) => e === undefined)) throw new ConnectorError(name, 'bad_response', { status: 200 });
      return { events: events as RegistryEvent[], cursor: answer.cursor };
    },
  };
}
