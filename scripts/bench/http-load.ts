// Fixed-duration HTTP load with autocannon, and the bare oidc-provider ceiling to compare against.
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import Provider from 'oidc-provider';

type Histogram = { p50: number; p90: number; p99: number; average: number; max: number };
type AutocannonResult = {
  duration: number;
  latency: Histogram;
  requests: { total: number; average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
};
type AutocannonOptions = {
  url: string; method: string; connections: number; duration: number; workers?: number;
  headers: Record<string, string>; body: string;
};

// autocannon ships no types and is CommonJS.
const autocannon = createRequire(import.meta.url)('autocannon') as (options: AutocannonOptions) => Promise<AutocannonResult>;

export type LoadResult = {
  okPerSecond: number;
  ok: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
  durationS: number;
};

export type TokenRequest = { tokenUrl: string; clientId: string; clientSecret: string };

function tokenRequestOptions(request: TokenRequest) {
  const basic = Buffer.from(`${encodeURIComponent(request.clientId)}:${encodeURIComponent(request.clientSecret)}`).toString('base64');
  return {
    url: request.tokenUrl,
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: 'grant_type=client_credentials',
  };
}

/** One request first, so a misconfigured client fails loudly instead of benchmarking 401s. */
export async function checkClientCredentials(request: TokenRequest): Promise<void> {
  const options = tokenRequestOptions(request);
  const response = await fetch(options.url, { method: 'POST', headers: options.headers, body: options.body, signal: AbortSignal.timeout(10_000) });
  const body = await response.text();
  if (response.status !== 200 || !JSON.parse(body).access_token) throw new Error(`client credentials check: HTTP ${response.status} ${body.slice(0, 200)}`);
}

/**
 * `connections` keep-alive connections, each sending the next request as soon as the previous answer
 * arrives, for `durationS` seconds. autocannon runs in its own worker thread, off the server's event loop.
 * Its latency histogram has 1 ms resolution and holds 2xx responses only.
 */
export async function loadClientCredentials(request: TokenRequest, connections: number, durationS: number): Promise<LoadResult> {
  const result = await autocannon({ ...tokenRequestOptions(request), connections, duration: durationS, workers: 1 });
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, Number(count)]));
  const ok = Object.entries(statusCodes).filter(([code]) => code.startsWith('2')).reduce((sum, [, n]) => sum + n, 0);
  return {
    okPerSecond: ok / result.duration,
    ok,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    statusCodes,
    durationS: result.duration,
  };
}

export type BareProvider = { tokenRequest: TokenRequest; close(): Promise<void> };

/** oidc-provider alone: static client, in-memory adapter, plain node:http, no fastify, no database, no Redis. */
export async function startBareProvider(port: number): Promise<BareProvider> {
  const issuer = `http://127.0.0.1:${port}`;
  const client = { clientId: 'bare-service', clientSecret: 'bare-service-secret-0123456789abcdef' };
  const provider = new Provider(issuer, {
    clients: [{
      client_id: client.clientId, client_secret: client.clientSecret,
      grant_types: ['client_credentials'], response_types: [], redirect_uris: [],
    }],
    features: { clientCredentials: { enabled: true } },
  });
  const server: Server = createServer(provider.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    tokenRequest: { tokenUrl: `${issuer}/token`, ...client },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
