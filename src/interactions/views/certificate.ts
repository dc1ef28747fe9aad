import { t } from '../i18n.ts';
import { html } from './html.ts';
import { csrfInput, errorBox, layout } from './layout.ts';
import { tabs, type PageContext } from './pages.ts';

export type CertificatePageState = {
  challenge: string;
  stepUp: boolean;
  /** The dedicated HTTPS listener's URL for this interaction (TLS client certificate), when configured. */
  tlsUrl?: string;
  /** The page behind the TLS-terminating proxy that forwards client certificates, when configured. */
  proxyUrl?: string;
  error?: string;
};

/**
 * The signed-challenge page. The challenge sits in the page; /assets/certificate-login.js hands it to the
 * certificate assistant the CA provides (a browser extension or desktop middleware exposing
 * `window.govCertSigner.sign(challenge)`) and posts the result. Without an assistant the same form can be
 * filled by a kiosk or client SDK.
 */
export function certificatePage(ctx: PageContext, state: CertificatePageState) {
  const { locale } = ctx;
  return layout({
    locale, title: t(locale, 'cert.title'), langSwitchHref: ctx.langSwitchHref,
    body: html`<p class="for">${t(locale, 'login.for', { client: ctx.clientName })}</p>
${state.stepUp ? '' : tabs(ctx, 'certificate')}
${errorBox(state.error)}
<p>${t(locale, 'cert.intro')}</p>
<form method="post" action="/interaction/${ctx.uid}/certificate/signed" id="certificate-form" novalidate>
${csrfInput(ctx.csrf)}
<div class="field">
<label for="f-challenge">${t(locale, 'cert.challenge')}</label>
<textarea id="f-challenge" name="challenge" rows="6" readonly>${state.challenge}</textarea>
</div>
<button type="button" id="certificate-sign" hidden>${t(locale, 'cert.sign')}</button>
<p class="notice" id="certificate-no-signer" role="status">${t(locale, 'cert.no_signer')}</p>
<p class="error" id="certificate-sign-failed" role="alert" hidden>${t(locale, 'cert.failed')}</p>
<details id="certificate-manual"><summary>${t(locale, 'cert.manual')}</summary>
<div class="field"><label for="f-signature">${t(locale, 'cert.signature')}</label>
<textarea id="f-signature" name="signature" rows="3" maxlength="2048"></textarea></div>
<div class="field"><label for="f-chain">${t(locale, 'cert.chain')}</label>
<textarea id="f-chain" name="chain" rows="6" maxlength="120000"></textarea></div>
<button type="submit">${t(locale, 'cert.submit')}</button>
</details>
</form>
${state.tlsUrl ?? state.proxyUrl ? html`<p class="links"><a id="certificate-tls" href="${state.tlsUrl ?? state.proxyUrl}">${t(locale, 'cert.tls')}</a></p>` : ''}
<form method="post" action="/interaction/${ctx.uid}/abort" class="inline">${csrfInput(ctx.csrf)}<button type="submit" class="link">${t(locale, 'login.cancel')}</button></form>
<script src="/assets/certificate-login.js"></script>`,
  });
}
