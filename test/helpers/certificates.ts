import * as client from 'openid-client';
import type { Runtime } from '../../src/bootstrap/runtime.ts';
import type { IdentityExtractionRule } from '../../src/pki/types.ts';
import type { TestCa, TestCertificate, TestKeyHolder } from './test-pki.ts';
import { RP_CALLBACK } from './oidc.ts';
import { formOf } from './user-agent.ts';

export const GMT_0015_ID_RULE: IdentityExtractionRule = { kind: 'citizen', source: { type: 'extension', oid: '1.2.156.10260.4.1.1', choiceTag: 0 } };
export const PRIVATE_USCC_RULE: IdentityExtractionRule = { kind: 'enterprise', source: { type: 'extension', oid: '1.2.156.112570.11.210' } };

/** Valid unified social credit codes (GB 32100 check character) for test CA operators. */
export const OPERATOR_USCCS = ['91110000100000000R', '91110000100007919C', '91110000100015838Y', '91110000100023757H', '911100001000316764', '911100001000395957'];

const ADMIN = { name: 'test-admin' };
let operatorIndex = 0;

/** Registers a CA operator with one individual-CA service, as an admin would through /admin/trust. */
export async function registerCa(runtime: Runtime, options: {
  name: string;
  anchors: readonly TestCertificate[];
  intermediates?: readonly TestCertificate[];
  cross?: readonly TestCertificate[];
  policyLevels: Record<string, string>;
  keyProtection?: 'hardware' | 'software';
  pinRequired?: boolean;
  revocationMode?: 'ocsp' | 'crl' | 'ocsp_or_crl';
  softFailMaxLevel?: string | null;
  crlUrls?: string[];
  ocspUrls?: string[];
  extractionRules?: IdentityExtractionRule[];
  type?: 'ca_individual' | 'ca_organisation';
}) {
  const operator = await runtime.trust.registry.createOperator({ name: `${options.name} operator`, uscc: OPERATOR_USCCS[operatorIndex++ % OPERATOR_USCCS.length] }, ADMIN);
  return runtime.trust.registry.createService(operator.id, {
    type: options.type ?? 'ca_individual',
    name: options.name,
    crlUrls: options.crlUrls ?? [],
    ocspUrls: options.ocspUrls ?? [],
    policyLevels: options.policyLevels,
    keyUsages: ['digitalSignature', 'nonRepudiation'],
    extractionRules: options.extractionRules ?? [GMT_0015_ID_RULE],
    revocationMode: options.revocationMode ?? 'ocsp_or_crl',
    softFailMaxLevel: options.softFailMaxLevel ?? null,
    keyProtection: options.keyProtection ?? 'hardware',
    pinRequired: options.pinRequired ?? false,
    certificates: [
      ...options.anchors.map((c) => ({ certificate: c.certPem, role: 'anchor' })),
      ...(options.intermediates ?? []).map((c) => ({ certificate: c.certPem, role: 'intermediate' })),
      ...(options.cross ?? []).map((c) => ({ certificate: c.certPem, role: 'cross' })),
    ],
  }, ADMIN);
}

export const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** The challenge the certificate page shows, as the certificate assistant reads it. */
export function challengeOf(html: string): string {
  const match = /<textarea id="f-challenge" name="challenge"[^>]*>([^<]*)<\/textarea>/.exec(html);
  if (!match) throw new Error('no challenge on the page');
  return match[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

type Agent = { post(path: string, form: Record<string, string>): Promise<{ response: Response; html: string; redirectedTo?: string }> };

/** What the certificate assistant does: sign the page's challenge with the holder's key and post it with the chain. */
export async function signAndPost(ua: Agent, pageHtml: string, holder: TestKeyHolder, chain: readonly (TestCertificate | TestCa)[] = [], override: { challenge?: string; signature?: string; chain?: string } = {}) {
  const form = formOf(pageHtml, '/certificate/signed');
  const challenge = override.challenge ?? challengeOf(pageHtml);
  return ua.post(form.action, {
    csrf: form.csrf,
    challenge,
    signature: override.signature ?? base64(holder.sign(new TextEncoder().encode(challenge))),
    chain: override.chain ?? [holder, ...chain].map((c) => base64(c.certDer)).join('\n'),
  });
}

/**
 * A trusted relying party (no consent page) driven with openid-client: `start` opens the authorization request,
 * then the certificate page, and returns the interaction, the page and the TLS/proxy link the page offers.
 */
export async function certificatePortal(runtime: Runtime, issuer: string, clientId: string, options: { minLevel?: string } = {}) {
  const registered = await runtime.clients.create({ client_id: clientId, client_name: `${clientId} portal`, redirect_uris: [RP_CALLBACK], grant_types: ['authorization_code'], require_consent: false });
  if (options.minLevel) await runtime.policies.set({ clientId, minLevel: options.minLevel }, { name: 'test' });
  const config = await client.discovery(new URL(issuer), clientId, registered.client_secret!, client.ClientSecretBasic(registered.client_secret!), { execute: [client.allowInsecureRequests] });
  return {
    config,
    async start(ua: { get(url: string): Promise<{ html: string }> }, extra: Record<string, string> = {}) {
      const verifier = client.randomPKCECodeVerifier();
      const login = await ua.get(client.buildAuthorizationUrl(config, {
        redirect_uri: RP_CALLBACK, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's', ...extra,
      }).toString());
      const path = /href="(\/interaction\/([^"/]+)\/certificate)"/.exec(login.html);
      if (!path) throw new Error('the page offers no certificate login');
      const page = await ua.get(path[1]);
      const link = /<a id="certificate-tls" href="([^"]+)"/.exec(page.html)?.[1];
      return { verifier, login, uid: path[2], page, link };
    },
    tokens: (redirectedTo: string, verifier: string) =>
      client.authorizationCodeGrant(config, new URL(redirectedTo), { pkceCodeVerifier: verifier, expectedState: 's' }),
  };
}
