import { t, type Locale } from '../interactions/i18n.ts';
import { html } from '../interactions/views/html.ts';
import { errorBox, layout } from '../interactions/views/layout.ts';
import type { UpstreamChoices } from '../interactions/views/pages.ts';
import { fm } from './messages.ts';
import type { Upstream } from './upstream-config.ts';

/** The upstream sign-in buttons for the login page of interaction `uid`. */
export function upstreamChoices(upstreams: readonly Upstream[], locale: Locale, uid: string): UpstreamChoices | undefined {
  if (upstreams.length === 0) return undefined;
  return {
    heading: fm(locale, 'upstreams.heading'),
    links: upstreams.map((u) => ({ href: `/interaction/${uid}/upstream/${u.id}`, label: fm(locale, 'upstreams.signInWith', { name: u.displayName[locale] }) })),
  };
}

/** A refused upstream login: what happened, and the way back to the other sign-in methods while the login lasts. */
export function upstreamFailurePage(locale: Locale, message: string, backHref?: string): string {
  return layout({
    locale, title: t(locale, 'error.title'),
    body: html`${errorBox(message)}${backHref ? html`<p class="links"><a href="${backHref}">${fm(locale, 'upstream.back')}</a></p>` : ''}`,
  });
}
