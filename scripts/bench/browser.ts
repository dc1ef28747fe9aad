// What the login benchmarks need of a browser over real HTTP: a cookie jar, redirects left to the caller, a
// timeout per request.
const REQUEST_TIMEOUT_MS = 15_000;

export type CookieJar = Map<string, string>;

function store(jar: CookieJar, response: Response) {
  for (const header of response.headers.getSetCookie()) {
    const [pair, ...attributes] = header.split(';');
    const index = pair.indexOf('=');
    const name = pair.slice(0, index).trim();
    const value = pair.slice(index + 1).trim();
    const expired = value === '' || attributes.some((a) => /^\s*(max-age=0|expires=thu, 01 jan 1970)/i.test(a));
    if (expired) jar.delete(name);
    else jar.set(name, value);
  }
}

/** GET, or POST when there is a form (urlencoded); sends the jar's cookies and stores the ones set. */
export async function send(jar: CookieJar, url: URL, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}) {
  const response = await fetch(url, {
    method: init.method ?? (init.form ? 'POST' : 'GET'),
    redirect: 'manual',
    headers: {
      ...(jar.size > 0 ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
      ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      ...init.headers,
    },
    body: init.form ? new URLSearchParams(init.form).toString() : undefined,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  store(jar, response);
  return response;
}

/** Throws `step: HTTP status` and what `explain` picks from the body, else the body's first 160 characters. */
export async function fail(step: string, response: Response, explain: (body: string) => string | undefined = () => undefined): Promise<never> {
  const body = await response.text().catch(() => '');
  throw new Error(`${step}: HTTP ${response.status} ${explain(body) ?? body.replace(/\s+/g, ' ').slice(0, 160)}`);
}
