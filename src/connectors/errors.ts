export type ConnectorErrorCode = 'unavailable' | 'timeout' | 'rejected' | 'bad_response';

const REMOTE_ERROR_TOKEN = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * A failed call to an outside service. The message is built only from the connector name, the code, the HTTP
 * status and the remote `error` token (when it is a plain snake_case word), never from request data or a remote
 * description, so it cannot carry a phone number, an ID number or a name into logs.
 */
export class ConnectorError extends Error {
  readonly code: ConnectorErrorCode;
  readonly connector: string;
  readonly status?: number;
  /** The `error` field of a 4xx JSON answer, e.g. `invalid_signature`. */
  readonly remoteError?: string;

  constructor(
    connector: string,
    code: ConnectorErrorCode,
    options: { status?: number; remoteError?: unknown; cause?: unknown } = {},
  ) {
    const remoteError =
      typeof options.remoteError === 'string' && REMOTE_ERROR_TOKEN.test(options.remoteError) ? options.remoteError : undefined;
    const detail = [options.status === undefined ? '' : `HTTP ${options.status}`, remoteError ?? ''].filter(Boolean).join(' ');
    super(`${connector}: ${code}${detail ? ` (${detail})` : ''}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConnectorError';
    this.code = code;
    this.connector = connector;
    this.status = options.status;
    this.remoteError = remoteError;
  }
}
