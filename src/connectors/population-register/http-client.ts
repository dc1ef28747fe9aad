import { ConnectorError } from '../errors.ts';
import { assertConnectorUrl, postSigned } from '../signed-http.ts';
import type { PopulationRegister } from './types.ts';

export const IDENTITY_VERIFY_PATH = '/v1/identity/verify';

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
  };
}
