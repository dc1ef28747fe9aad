import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ListSigningKeys } from './list-signing-keys.ts';
import type { TrustList } from './trust-list.ts';

/** Peers poll often; a short shared-cache lifetime keeps a suspension from lingering in caches. */
const LIST_MAX_AGE_SECONDS = 300;

/**
 * The published trust list for other provincial platforms: `GET /trust/list` (compact JWS, `application/jose`)
 * and `GET /trust/jwks` (the keys that sign it). Public: the list holds CA certificates and policies, nothing personal.
 */
export async function registerTrustListRoutes(app: FastifyInstance, deps: { list: TrustList; keys: ListSigningKeys; clock?: () => Date }) {
  const clock = deps.clock ?? (() => new Date());

  app.get('/trust/list', async (request, reply) => {
    const signed = await deps.list.signed();
    // Sequence number and signing key (its protected header) together name one signed list.
    const header = createHash('sha256').update(signed.jws.split('.')[0]).digest('hex').slice(0, 12);
    const etag = `"${signed.sequenceNumber}-${header}"`;
    const untilNextUpdate = Math.floor((signed.nextUpdate.getTime() - clock().getTime()) / 1000);
    reply
      .header('etag', etag)
      .header('cache-control', `public, max-age=${Math.max(0, Math.min(LIST_MAX_AGE_SECONDS, untilNextUpdate))}`)
      .header('last-modified', signed.issuedAt.toUTCString());
    if (request.headers['if-none-match'] === etag) return reply.status(304).send();
    return reply.type('application/jose').send(signed.jws);
  });

  app.get('/trust/jwks', async (_request, reply) =>
    reply.type('application/jwk-set+json').header('cache-control', 'public, max-age=3600').send(await deps.keys.publicJwks()));
}
