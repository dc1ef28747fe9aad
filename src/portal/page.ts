import { t, type Locale } from '../interactions/i18n.ts';
import { html, type SafeHtml } from '../interactions/views/html.ts';
import { csrfInput } from '../interactions/views/layout.ts';

type Markup = Parameters<typeof html>[1];

export type PortalShell = {
  /** Where the portal is mounted (`console`, `account`): its stylesheet, class names and logout form follow. */
  area: string;
  /** The portal's own name, in the page title and the banner. */
  name: string;
  skipLabel: string;
  /** Present once signed in. */
  nav?: { label: string; items: Markup; who: string; logoutLabel: string };
};

/** The page around a first-party portal's content: banner, language switch, navigation and logout once signed in. */
export function portalPage(ctx: { locale: Locale; langSwitchHref: string; csrf?: string }, title: string, body: SafeHtml, shell: PortalShell): string {
  const { locale } = ctx;
  const { area, name, nav } = shell;
  return html`<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ${name} · ${t(locale, 'app.title')}</title>
<link rel="stylesheet" href="/assets/app.css">
<link rel="stylesheet" href="/${area}/assets/${area}.css">
</head>
<body>
<a class="skip" href="#main">${shell.skipLabel}</a>
<header class="banner"><span class="brand">${t(locale, 'app.title')} · ${name}</span>
<a class="lang" href="${ctx.langSwitchHref}" lang="${locale === 'en' ? 'zh-CN' : 'en'}">${t(locale, 'lang.switch')}</a></header>
${nav ? html`<nav class="${area}-nav" aria-label="${nav.label}">
<ul>
${nav.items}
</ul>
<p class="who">${nav.who}</p>
${ctx.csrf ? html`<form method="post" action="/${area}/logout" class="inline">${csrfInput(ctx.csrf)}<button type="submit" class="secondary">${nav.logoutLabel}</button></form>` : ''}
</nav>` : ''}
<main id="main" class="card ${area}">
<h1>${title}</h1>
${body}
</main>
</body>
</html>`.value;
}
