/**
 * pino redaction: personal data and secrets never reach the log in the clear, whatever a developer
 * logs by mistake. Paths cover request bodies, headers and our own objects.
 */
const SENSITIVE_KEYS = [
  'password', 'password_confirm', 'code', 'otp', 'client_secret', 'refresh_token', 'access_token', 'id_token', 'logout_token',
  'idNumber', 'id_number', 'phone', 'phone_number', 'name', 'uscc', 'card_number', 'authorization', 'cookie',
];

// At the top level of a log object and up to two levels down (fast-redact has no recursive wildcard).
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  ...SENSITIVE_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]),
];

export function loggerOptions(level: string) {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // Query strings can carry codes and tokens (authorization responses): log the path only.
    serializers: {
      req(request: { method: string; url: string; ip?: string }) {
        return { method: request.method, path: request.url.split('?')[0], ip: request.ip };
      },
    },
  };
}
