import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CertificateLoginError } from '../authn/certificate/errors.ts';
import type { CertificateLogin, CertificateContext } from '../authn/certificate/certificate-login.ts';
import type { PresentedCertificates } from '../authn/certificate/presented-certificates.ts';
import { PAGE_CSP } from '../http/security-headers.ts';
import { splitPemCertificates } from '../pki/certificate.ts';
import type { Body, Details, InteractionKit, Params } from './interaction-kit.ts';
import { certificateSignedSchema, uidParams } from './schemas.ts';
import { isStepUp } from './step-up-routes.ts';
import { certificatePage } from './views/certificate.ts';

const SCRIPT = readFileSync(new URL('./assets/certificate-login.js', import.meta.url));
/** The certificate page runs one script of ours, which talks to the CA's certificate assistant. */
const CERTIFICATE_PAGE_CSP = `${PAGE_CSP}; script-src 'self'`;
const MAX_BODY = 160 * 1024;

/** Base64 (standard or URL-safe) only; anything else is refused before decoding. */
function decodeSignature(value: string): Uint8Array {
  const compact = value.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) throw new CertificateLoginError('bad_signature', 'The signature must be Base64.');
  return new Uint8Array(Buffer.from(compact.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
}

/** PEM blocks, or Base64 DER certificates separated by whitespace or commas, signing certificate first. */
export function splitChain(value: string): string[] {
  const pem = splitPemCertificates(value);
  if (pem.length > 0) return pem;
  return value.split(/[\s,]+/).filter(Boolean);
}

/**
 * Certificate login pages: the signed challenge on the main origin, the return from the TLS client-certificate
 * listener, and the reverse-proxy variant (the header is read only from the configured proxy addresses).
 */
export async function registerCertificateRoutes(app: FastifyInstance, deps: {
  kit: InteractionKit;
  login: CertificateLogin;
  presented: PresentedCertificates;
  /** `https://host:port` of the TLS listener, when one is configured. */
  tlsUrl?: string;
  /** A TLS-terminating proxy forwards client certificates to /interaction/:uid/certificate/proxy. */
  proxy: boolean;
}) {
  const { kit } = deps;

  app.get('/assets/certificate-login.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(SCRIPT));

  const contextOf = (request: FastifyRequest, details: Details): CertificateContext => ({
    ip: request.ip, uid: details.uid, clientId: String(details.params.client_id),
    sessionAccountId: isStepUp(details, false) ? details.session!.accountId : undefined,
  });

  async function render(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, details: Details, status: number, error?: string) {
    const ctx = await kit.pageContext(request, reply, details);
    const { challenge } = await deps.login.challenge(details.uid);
    return kit.sendPage(reply, status, certificatePage(ctx, {
      challenge, error, stepUp: isStepUp(details, false),
      tlsUrl: deps.tlsUrl ? `${deps.tlsUrl}/interaction/${details.uid}/certificate/tls` : undefined,
      proxyUrl: deps.proxy ? `/interaction/${details.uid}/certificate/proxy` : undefined,
    }), { csp: CERTIFICATE_PAGE_CSP });
  }

  async function finish(request: FastifyRequest<{ Params: Params }>, reply: FastifyReply, details: Details, run: () => ReturnType<CertificateLogin['loginWithSignature']>) {
    try {
      const result = await run();
      return await kit.finishLogin(request, reply, result.verified, { factors: [result.factor] });
    } catch (error) {
      const locale = kit.localeOf(request, details);
      const { status, message } = kit.userFacing(error, locale);
      return render(request, reply, details, status, message);
    }
  }

  await app.register(async (scope) => {
    scope.get<{ Params: Params }>('/:uid/certificate', { schema: uidParams }, async (request, reply) => {
      const details = await kit.load(request, reply);
      if (!details) return reply;
      return render(request, reply, details, 200);
    });

    scope.post<{ Params: Params; Body: Body }>('/:uid/certificate/signed', { schema: certificateSignedSchema, bodyLimit: MAX_BODY }, async (request, reply) => {
      const loaded = await kit.loadForPost(request, reply);
      if (!loaded) return reply;
      const { details } = loaded;
      return finish(request, reply, details, async () => deps.login.loginWithSignature({
        challenge: request.body.challenge,
        signature: decodeSignature(request.body.signature),
        chain: splitChain(request.body.chain),
      }, contextOf(request, details)));
    });

    // Back from the TLS listener: it proved possession of the key in the handshake and parked the chain.
    scope.get<{ Params: Params; Querystring: { token?: string } }>('/:uid/certificate/tls-return', {
      schema: { ...uidParams, querystring: { type: 'object', properties: { token: { type: 'string', pattern: '^[A-Za-z0-9_-]{20,64}$' } }, required: ['token'], additionalProperties: false } },
    }, async (request, reply) => {
      const details = await kit.load(request, reply);
      if (!details) return reply;
      return finish(request, reply, details, async () => deps.login.loginWithPresentedCertificate({
        chain: () => deps.presented.take(request.query.token!, details.uid), proof: 'tls_client_certificate',
      }, contextOf(request, details)));
    });

    // Behind a TLS-terminating proxy: the verified client certificate arrives in a header from the proxy only.
    scope.get<{ Params: Params }>('/:uid/certificate/proxy', { schema: uidParams }, async (request, reply) => {
      const details = await kit.load(request, reply);
      if (!details) return reply;
      return finish(request, reply, details, async () => deps.login.loginWithPresentedCertificate({
        chain: () => deps.presented.fromProxy(request), proof: 'proxy_client_certificate',
      }, contextOf(request, details)));
    });
  }, { prefix: '/interaction' });
}
