import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';

/**
 * oidc-provider parses its own request bodies, so it runs in an encapsulated scope whose only
 * content-type parser leaves the stream untouched, and gets the raw request after `reply.hijack()`.
 * Our own routes are more specific than this catch-all and win in fastify's router.
 */
export async function mountProvider(app: FastifyInstance, provider: Provider) {
  const callback = provider.callback();
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    scope.all('/*', async (request, reply) => {
      reply.hijack();
      await callback(request.raw, reply.raw);
    });
    scope.all('/', async (request, reply) => {
      reply.hijack();
      await callback(request.raw, reply.raw);
    });
  });
}
