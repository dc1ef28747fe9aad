import { html, type SafeHtml } from './html.ts';
import { t, type Locale } from '../i18n.ts';

export function layout(options: { locale: Locale; title: string; body: SafeHtml; langSwitchHref?: string }): string {
  const { locale } = options;
  return html`<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · ${t(locale, 'app.title')}</title>
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<header class="banner"><span class="brand">${t(locale, 'app.title')}</span>${options.langSwitchHref
    ? html`<a class="lang" href="${options.langSwitchHref}" lang="${locale === 'en' ? 'zh-CN' : 'en'}">${t(locale, 'lang.switch')}</a>` : ''}</header>
<main class="card">
<h1>${options.title}</h1>
${options.body}
</main>
</body>
</html>`.value;
}

export function errorBox(message: string | undefined): SafeHtml {
  return message ? html`<p class="error" role="alert">${message}</p>` : html``;
}

export function noticeBox(message: string | undefined): SafeHtml {
  return message ? html`<p class="notice" role="status">${message}</p>` : html``;
}

export function field(options: {
  name: string; label: string; type?: string; value?: string; hint?: string; autocomplete?: string;
  inputmode?: string; required?: boolean; pattern?: string; maxlength?: number; autofocus?: boolean;
}): SafeHtml {
  const id = `f-${options.name}`;
  return html`<div class="field">
<label for="${id}">${options.label}</label>
<input id="${id}" name="${options.name}" type="${options.type ?? 'text'}" value="${options.value ?? ''}"${options.autocomplete ? html` autocomplete="${options.autocomplete}"` : ''}${options.inputmode ? html` inputmode="${options.inputmode}"` : ''}${options.required === false ? '' : html` required`}${options.pattern ? html` pattern="${options.pattern}"` : ''}${options.maxlength ? html` maxlength="${options.maxlength}"` : ''}${options.autofocus ? html` autofocus` : ''}${options.hint ? html` aria-describedby="${id}-hint"` : ''}>
${options.hint ? html`<small id="${id}-hint">${options.hint}</small>` : ''}
</div>`;
}

export const csrfInput = (token: string) => html`<input type="hidden" name="csrf" value="${token}">`;
