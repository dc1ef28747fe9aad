import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from './errors.ts';

type Problem = { type: string; title: string; status: number; code: string; detail?: string; errors?: unknown };

/** RFC 9457 problem details; never a stack trace or personal data. */
export function toProblem(error: unknown): Problem {
  if (error instanceof AppError) {
    return {
      type: `about:blank`,
      title: error.code,
      status: error.status,
      code: error.code,
      detail: error.expose ? error.message : 'The request could not be completed.',
      ...(error.expose && error.detail ? { errors: error.detail } : {}),
    };
  }
  const fastifyError = error as FastifyError;
  if (fastifyError?.validation) {
    return {
      type: 'about:blank',
      title: 'invalid_input',
      status: 400,
      code: 'invalid_input',
      detail: 'The request does not match the expected schema.',
      errors: fastifyError.validation.map((v) => ({ path: v.instancePath || v.params?.missingProperty || '', message: v.message })),
    };
  }
  const status = fastifyError?.statusCode && fastifyError.statusCode < 500 ? fastifyError.statusCode : 500;
  return {
    type: 'about:blank',
    title: status === 500 ? 'server_error' : (fastifyError.code ?? 'bad_request'),
    status,
    code: status === 500 ? 'server_error' : (fastifyError.code ?? 'bad_request'),
    detail: status === 500 ? 'An unexpected error occurred.' : fastifyError.message,
  };
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: unknown) {
  const problem = toProblem(error);
  if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
  if (error instanceof AppError && error.retryAfterSeconds) reply.header('retry-after', String(error.retryAfterSeconds));
  return reply.status(problem.status).type('application/problem+json').send(problem);
}
