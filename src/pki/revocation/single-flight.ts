import { RevocationSourceError } from './revocation-error.ts';

/**
 * Concurrent callers asking for the same key share one piece of work (one CRL download for a burst of logins).
 * Each caller waits only as long as its own signal allows; the shared work is aborted once no caller waits.
 */
export function createSingleFlight<T>() {
  const inFlight = new Map<string, { promise: Promise<T>; controller: AbortController; waiting: number }>();

  return async function join(key: string, signal: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (signal.aborted) throw new RevocationSourceError('timeout', 'the time budget ran out');
    let flight = inFlight.get(key);
    if (!flight) {
      const controller = new AbortController();
      const promise = work(controller.signal).finally(() => {
        if (inFlight.get(key)?.controller === controller) inFlight.delete(key);
      });
      flight = { promise, controller, waiting: 0 };
      inFlight.set(key, flight);
    }
    const current = flight;
    current.waiting++;
    let onAbort: (() => void) | undefined;
    const abandoned = new Promise<never>((_, reject) => {
      onAbort = () => reject(new RevocationSourceError('timeout', 'no answer within the time budget'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([current.promise, abandoned]);
    } finally {
      signal.removeEventListener('abort', onAbort!);
      abandoned.catch(() => undefined);
      if (--current.waiting === 0) {
        current.controller.abort();
        if (inFlight.get(key) === current) inFlight.delete(key);
      }
    }
  };
}
