import { RevocationSourceError } from './revocation-error.ts';

export type FetchBytesOptions = {
  maxBytes: number;
  signal: AbortSignal;
  /** When set, the request is a POST of these bytes with this content type. */
  body?: { contentType: string; bytes: Uint8Array };
  accept?: string;
};

/** The URL if it is http(s); revocation over LDAP or FTP is not supported. */
export function revocationUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RevocationSourceError('unsupported_url', `"${text}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RevocationSourceError('unsupported_url', `${url.protocol} URLs are not supported (http and https only)`);
  }
  return url;
}

/** GET or POST a URL and read at most `maxBytes` of the answer; reading stops as soon as the limit is passed. */
export async function fetchBytes(url: string, options: FetchBytesOptions): Promise<Uint8Array> {
  const target = revocationUrl(url);
  const headers: Record<string, string> = {};
  if (options.accept) headers.accept = options.accept;
  if (options.body) headers['content-type'] = options.body.contentType;
  let response: Response;
  try {
    response = await fetch(target, {
      method: options.body ? 'POST' : 'GET',
      headers,
      body: options.body ? new Uint8Array(options.body.bytes) : undefined,
      signal: options.signal,
    });
  } catch (error) {
    if (options.signal.aborted) throw new RevocationSourceError('timeout', 'no answer within the time budget');
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new RevocationSourceError('network', cause?.code ?? cause?.message ?? (error as Error).message);
  }
  try {
    if (!response.ok) throw new RevocationSourceError('http_status', `HTTP ${response.status}`);
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (declared > options.maxBytes) {
      throw new RevocationSourceError('too_large', `the answer declares ${declared} bytes, over the ${options.maxBytes}-byte limit`);
    }
    return await readLimited(response, options.maxBytes, options.signal);
  } finally {
    // Releases the connection when we stopped reading early.
    if (!response.bodyUsed) await response.body?.cancel().catch(() => undefined);
  }
}

async function readLimited(response: Response, maxBytes: number, signal: AbortSignal): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) throw new RevocationSourceError('too_large', `the answer is over the ${maxBytes}-byte limit`);
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof RevocationSourceError) throw error;
    if (signal.aborted) throw new RevocationSourceError('timeout', 'the answer did not arrive completely within the time budget');
    throw new RevocationSourceError('network', (error as Error).message);
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
