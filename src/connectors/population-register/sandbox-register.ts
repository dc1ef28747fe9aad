import { readFile } from 'node:fs/promises';
import { idNumberCheckChar, validateIdNumber } from '../../identity/id-number.ts';
import { invalidRequest, isPlainObject, startSignedSandbox } from '../sandbox-server.ts';
import type { RunningSandbox } from '../sandbox-server.ts';
import { IDENTITY_VERIFY_PATH, REGISTRY_EVENTS_PATH } from './http-client.ts';
import type { IdentityClaim, RegistryEvent } from './types.ts';

export type SandboxPopulationRegister = RunningSandbox & {
  /** Tests and developers record a death, a corrected ID number or a changed name; it appears in the feed. */
  publishEvent(event: RegistryEvent): void;
};

export type SandboxCitizen = Readonly<IdentityClaim>;

const ID_NUMBER_18 = /^\d{17}[\dX]$/;
const MAX_NAME_LENGTH = 50;
const BODY_KEYS = new Set(['name', 'idNumber']);

function isWellFormedName(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const length = Array.from(value).length;
  return length >= 1 && length <= MAX_NAME_LENGTH && !/\p{Cc}/u.test(value);
}

function isWellFormedIdNumber(value: unknown): value is string {
  return typeof value === 'string' && ID_NUMBER_18.test(value) && idNumberCheckChar(value.slice(0, 17)) === value[17];
}

/** Errors name the position in the list only, never the data. */
export function parseSandboxCitizens(value: unknown): readonly SandboxCitizen[] {
  if (!Array.isArray(value)) throw new Error('sandbox citizens must be an array');
  const seen = new Set<string>();
  return Object.freeze(
    value.map((entry: unknown, index) => {
      if (!isPlainObject(entry) || !isWellFormedName(entry.name) || entry.name.trim() !== entry.name) {
        throw new Error(`sandbox citizen #${index}: name must be a trimmed string of 1 to ${MAX_NAME_LENGTH} characters`);
      }
      const idNumber = entry.idNumber;
      const checked = typeof idNumber === 'string' ? validateIdNumber(idNumber) : undefined;
      if (checked === undefined || !checked.ok || checked.idNumber !== idNumber) {
        throw new Error(`sandbox citizen #${index}: idNumber must be a valid 18-character citizen ID number (GB 11643)`);
      }
      if (seen.has(idNumber as string)) throw new Error(`sandbox citizen #${index}: duplicate idNumber`);
      seen.add(idNumber as string);
      return Object.freeze({ name: entry.name, idNumber: idNumber as string });
    }),
  );
}

/** Reads `{ "citizens": [{ "name", "idNumber" }, …] }` (config/sandbox-population-register.json). */
export async function loadSandboxCitizens(path: string): Promise<readonly SandboxCitizen[]> {
  const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
  if (!isPlainObject(parsed)) throw new Error('sandbox population register file must hold a JSON object');
  return parseSandboxCitizens(parsed.citizens);
}

/**
 * Development stand-in for the population register: same endpoint and signature checks. It confirms only an
 * exact (name, idNumber) pair from its list and, like the real register, never says which element was wrong.
 */
export async function startSandboxPopulationRegister(options: {
  appId: string;
  secret: string;
  citizens: readonly IdentityClaim[];
  host?: string;
  port?: number;
}): Promise<SandboxPopulationRegister> {
  const pairs = new Set(parseSandboxCitizens(options.citizens).map((c) => `${c.idNumber}\u0000${c.name}`));
  const feed: RegistryEvent[] = [];
  const sandbox = await startSignedSandbox({
    appId: options.appId,
    secret: options.secret,
    host: options.host,
    port: options.port,
    routes: [
      {
        path: IDENTITY_VERIFY_PATH,
        handle(body) {
          if (!isPlainObject(body)) return invalidRequest('the body must be a JSON object');
          for (const key of Object.keys(body)) if (!BODY_KEYS.has(key)) return invalidRequest(`unknown field "${key.slice(0, 32)}"`);
          if (!isWellFormedName(body.name)) return invalidRequest(`name must be a string of 1 to ${MAX_NAME_LENGTH} characters`);
          if (!isWellFormedIdNumber(body.idNumber)) {
            return invalidRequest('idNumber must be 18 characters (17 digits and a digit or X) with a valid check character');
          }
          return { status: 200, body: { match: pairs.has(`${body.idNumber}\u0000${body.name}`) } };
        },
      },
      {
        // The cursor is the position in the feed; a real register's cursor is opaque to us as well.
        path: REGISTRY_EVENTS_PATH,
        handle(body) {
          if (!isPlainObject(body)) return invalidRequest('the body must be a JSON object');
          const cursor = body.cursor === null || body.cursor === undefined ? 0 : Number(body.cursor);
          const limit = Number(body.limit ?? 100);
          if (!Number.isInteger(cursor) || cursor < 0 || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
            return invalidRequest('cursor must be null or a position, limit 1 to 1000');
          }
          const events = feed.slice(cursor, cursor + limit);
          return { status: 200, body: { events, cursor: String(cursor + events.length) } };
        },
      },
    ],
  });
  return {
    ...sandbox,
    publishEvent(event) {
      feed.push(event);
    },
  };
}
