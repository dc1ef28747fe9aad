/**
 * A minimal cookie-keeping HTTP user agent over real fetch, for driving the login pages without a
 * browser. It follows redirects within `origin` and stops at the first one leaving it (the RP callback).
 */
export function createUserAgent(origin: string) {
  const cookies = new Map<string, string>();

  function store(response: Response) {
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attributes] = header.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      const expired = attributes.some((a) => /expires=Thu, 01 Jan 1970/i.test(a)) || attributes.some((a) => /max-age=0\b/i.test(a.trim()));
      if (expired || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
  }

  const cookieHeader = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');

  async function request(url: string, init: { method?: string; form?: Record<string, string> } = {}) {
    let current = new URL(url, origin).toString();
    let method = init.method ?? (init.form ? 'POST' : 'GET');
    let body: string | undefined = init.form ? new URLSearchParams(init.form).toString() : undefined;
    for (let hop = 0; hop < 15; hop++) {
      const response = await fetch(current, {
        method,
        redirect: 'manual',
        headers: { cookie: cookieHeader(), ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        body,
      });
      store(response);
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        const next = new URL(location, current);
        if (next.origin !== new URL(origin).origin) return { response, url: current, redirectedTo: next.toString(), html: '' };
        current = next.toString();
        method = 'GET';
        body = undefined;
        continue;
      }
      return { response, url: current, redirectedTo: undefined as string | undefined, html: await response.text() };
    }
    throw new Error('too many redirects');
  }

  return {
    cookies,
    get: (url: string) => request(url),
    post: (url: string, form: Record<string, string>) => request(url, { form }),
  };
}

/** Reads the CSRF token and the action of the first form whose action ends with `suffix`. */
export function formOf(html: string, suffix: string): { action: string; csrf: string } {
  const forms = [...html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)];
  const form = forms.find((m) => m[1].endsWith(suffix));
  if (!form) throw new Error(`no form ending with ${suffix} in page`);
  const csrf = /name="csrf" value="([^"]+)"/.exec(form[2])?.[1];
  if (!csrf) throw new Error('form has no csrf token');
  return { action: form[1], csrf };
}
