/**
 * Typed errors thrown by services and rendered at the edge only: application/problem+json on our API,
 * an HTML page on interaction pages. `expose` false means the client sees a generic message.
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly expose: boolean;
  readonly detail?: Record<string, unknown>;
  readonly retryAfterSeconds?: number;
  constructor(code: string, message: string, options: { status?: number; expose?: boolean; detail?: Record<string, unknown>; retryAfterSeconds?: number } = {}) {
    super(message);
    this.code = code;
    this.status = options.status ?? 400;
    this.expose = options.expose ?? true;
    this.detail = options.detail;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export const invalidInput = (message: string, detail?: Record<string, unknown>) =>
  new AppError('invalid_input', message, { status: 400, detail });

export const rateLimited = (retryAfterSeconds: number) =>
  new AppError('rate_limited', 'Too many attempts. Please wait before trying again.', { status: 429, retryAfterSeconds });

export const unauthorized = (message = 'Authentication required.') => new AppError('unauthorized', message, { status: 401 });
export const forbidden = (message = 'Not allowed.') => new AppError('forbidden', message, { status: 403 });
export const notFound = (message = 'Not found.') => new AppError('not_found', message, { status: 404 });
export const conflict = (message: string) => new AppError('conflict', message, { status: 409 });
