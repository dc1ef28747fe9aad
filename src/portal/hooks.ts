import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { applyPageSecurityHeaders } from '../http/security-headers.ts';

/**
 * Page security headers on every response of a portal, and its error page for anything thrown.
 * `name` labels the log line of server errors; `errorPage` renders the page (it may set the language cookie).
 */
export function guardPortalPages(scope: FastifyInstance, options: {
  name: string;
  errorPage: (request: FastifyRequest, reply: FastifyReply) => string;
  sendPage: (reply: FastifyReply, status: number, body: string) => unknown;
}): void {
  scope.addHook('onRequest', async (_request, reply) => {
    applyPageSecurityHeaders(reply);
  });

  scope.setErrorHandler(async (error, request, reply) => {
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) request.log.error({ err: error }, `${options.name} request failed`);
    const body = options.errorPage(request, reply);
    applyPageSecurityHeaders(reply);
    return options.sendPage(reply, status >= 400 && status < 600 ? status : 500, body);
  });
}
