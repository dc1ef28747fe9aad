// Hands the sign-in challenge to the CA's certificate assistant and posts what it returns.
// The assistant (browser extension or desktop middleware bridge) exposes:
//   window.govCertSigner.sign(challengeText) -> Promise<{ signature: base64, chain: base64 DER[] (signing certificate first) }>
(function () {
  var form = document.getElementById('certificate-form');
  var button = document.getElementById('certificate-sign');
  var missing = document.getElementById('certificate-no-signer');
  var failed = document.getElementById('certificate-sign-failed');
  if (!form || !button) return;
  var signer = window.govCertSigner;
  if (!signer || typeof signer.sign !== 'function') return;
  missing.hidden = true;
  button.hidden = false;
  button.addEventListener('click', function () {
    button.disabled = true;
    failed.hidden = true;
    Promise.resolve(signer.sign(form.elements.challenge.value)).then(function (result) {
      form.elements.signature.value = result.signature;
      form.elements.chain.value = (result.chain || []).join('\n');
      form.submit();
    }, function () {
      // The assistant is there but did not sign (PIN cancelled or wrong): say so, and let the person retry.
      button.disabled = false;
      failed.hidden = false;
    });
  });
})();
