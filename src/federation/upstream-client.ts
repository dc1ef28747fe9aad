import type { FastifyReply, FastifyRequest } from 'fastify';
import * as client from 'openid-client';
import { createRelyingParty, type LoginTransaction } from '../oidc/relying-party.ts';
import type { UpstreamFailure } from './messages.ts';
import type { UpstreamIdentity } from './recognition.ts';
import { valueAt, type OAuth2Upstream, type OidcUpstream, type Upstream } from './upstream-config.ts';

export type UpstreamResult = { identity: UpstreamIdentity; /** epoch seconds, from the ID token */ authTime?: number };

export type UpstreamClient = {
  upstream: Upstream;
  /** The upstream's authorization URL and its state; the PKCE verifier, state and nonce go into the login cookie. */
  start(reply: FastifyReply, extra: Record<string, string>): Promise<{ url: URL; state: string }>;
  /** The login this browser started with this upstream; the login cookie is cleared either way. */
  takeTransaction(request: FastifyRequest, reply: FastifyReply): LoginTransaction | undefined;
  /** Redeems the code and validates what comes back; throws openid-client's errors (see `classifyUpstreamError`). */
  finish(request: FastifyRequest, transaction: LoginTransaction): Promise<UpstreamResult>;
};

/** An upstream response we cannot use (not JSON, an error status) that openid-client does not check itself. */
export class UpstreamResponseError extends Error {
  readonly reason: UpstreamFailure;
  constructor(reason: UpstreamFailure, message: string) {
    super(message);
    this.reason = reason;
  }
}

const TIMEOUT_SECONDS = 10;

export function callbackUrl(issuer: string, upstreamId: string): string {
  return `${issuer.replace(/\/+$/, '')}/federation/callback/${upstreamId}`;
}

export function createUpstreamClient(upstream: Upstream, options: { issuer: string; cookieSecure: boolean }): UpstreamClient {
  const redirectUri = callbackUrl(options.issuer, upstream.id);
  const relyingParty = createRelyingParty({
    issuer: upstream.issuer,
    clientId: upstream.clientId,
    clientSecret: async () => upstream.clientSecret,
    redirectUri,
    scope: upstream.scopes.join(' '),
    loginCookie: `${options.cookieSecure ? '__Secure-' : ''}idp_upstream_${upstream.id}`,
    cookieOptions: { path: `/federation/callback/${upstream.id}`, httpOnly: true, sameSite: 'lax', secure: options.cookieSecure, signed: true },
  });
  const takeTransaction = relyingParty.takeTransaction;
  return upstream.type === 'oidc'
    ? oidcClient(upstream, relyingParty, takeTransaction)
    : oauth2Client(upstream, relyingParty, takeTransaction, redirectUri);
}

type RelyingParty = ReturnType<typeof createRelyingParty>;

function oidcClient(upstream: OidcUpstream, relyingParty: RelyingParty, takeTransaction: UpstreamClient['takeTransaction']): UpstreamClient {
  async function configuration() {
    const config = await relyingParty.getConfiguration();
    // openid-client skips the signature of an ID token received straight from the token endpoint (TLS
    // stands in for it, OIDC Core 3.1.3.7); we check it against the upstream's JWKS anyway.
    client.enableNonRepudiationChecks(config);
    return config;
  }
  return {
    upstream,
    takeTransaction,
    async start(reply, extra) {
      const url = await relyingParty.startLogin(reply, await configuration(), {
        ...(upstream.acrValues ? { acr_values: upstream.acrValues.join(' ') } : {}),
        ...extra,
      });
      return { url, state: url.searchParams.get('state')! };
    },
    async finish(request, transaction) {
      const config = await configuration();
      // openid-client checks the ID token: issuer, audience, signature against the upstream's JWKS, nonce, expiry.
      const { claims, accessToken } = await relyingParty.redeemCode(config, request, transaction);
      let idNumber = valueAt(claims, upstream.claims.idNumber);
      let name = valueAt(claims, upstream.claims.name);
      // With the code flow most providers release profile claims only at userinfo.
      if ((idNumber === undefined || name === undefined) && config.serverMetadata().userinfo_endpoint && accessToken) {
        const userinfo = await client.fetchUserInfo(config, accessToken, claims.sub);
        idNumber ??= valueAt(userinfo, upstream.claims.idNumber);
        name ??= valueAt(userinfo, upstream.claims.name);
      }
      return {
        identity: { subject: claims.sub, idNumber, name, acr: typeof claims.acr === 'string' ? claims.acr : undefined },
        authTime: typeof claims.auth_time === 'number' ? claims.auth_time : undefined,
      };
    },
  };
}

function oauth2Client(upstream: OAuth2Upstream, relyingParty: RelyingParty, takeTransaction: UpstreamClient['takeTransaction'], redirectUri: string): UpstreamClient {
  const config = new client.Configuration(
    {
      issuer: upstream.issuer,
      authorization_endpoint: upstream.authorizationEndpoint,
      token_endpoint: upstream.tokenEndpoint,
      userinfo_endpoint: upstream.userinfoEndpoint,
    },
    upstream.clientId,
    undefined,
    upstream.tokenEndpointAuthMethod === 'client_secret_post' ? client.ClientSecretPost(upstream.clientSecret) : client.ClientSecretBasic(upstream.clientSecret),
  );
  config.timeout = TIMEOUT_SECONDS;
  // The configuration refused http:// unless explicitly allowed (development and tests).
  if ([upstream.authorizationEndpoint, upstream.tokenEndpoint, upstream.userinfoEndpoint].some((u) => u.startsWith('http:'))) client.allowInsecureRequests(config);

  return {
    upstream,
    takeTransaction,
    async start(reply, extra) {
      const url = await relyingParty.startLogin(reply, config, extra);
      // Plain OAuth has no ID token, so no nonce to bind.
      url.searchParams.delete('nonce');
      return { url, state: url.searchParams.get('state')! };
    },
    async finish(request, transaction) {
      const currentUrl = new URL(redirectUri);
      currentUrl.search = new URL(request.url, redirectUri).search;
      const tokens = await client.authorizationCodeGrant(config, currentUrl, { pkceCodeVerifier: transaction.verifier, expectedState: transaction.state });
      const response = await client.fetchProtectedResource(config, tokens.access_token, new URL(upstream.userinfoEndpoint), 'GET');
      if (!response.ok) throw new UpstreamResponseError(response.status >= 500 ? 'upstream_unavailable' : 'upstream_refused', `userinfo answered HTTP ${response.status}`);
      let body: unknown;
      try {
        body = await response.json();
      } catch {
        throw new UpstreamResponseError('upstream_unavailable', 'userinfo did not answer JSON');
      }
      const subject = valueAt(body, upstream.userinfo.subject);
      return {
        identity: {
          subject: typeof subject === 'string' || (typeof subject === 'number' && Number.isSafeInteger(subject)) ? String(subject) : '',
          idNumber: valueAt(body, upstream.userinfo.idNumber),
          name: valueAt(body, upstream.userinfo.name),
        },
      };
    },
  };
}

/** Maps what openid-client (or the network) threw to a reason a person and the audit can understand. */
export function classifyUpstreamError(error: unknown): { reason: UpstreamFailure; code?: string } | undefined {
  if (error instanceof UpstreamResponseError) return { reason: error.reason, code: error.message };
  if (error instanceof client.AuthorizationResponseError) return { reason: 'upstream_refused', code: error.error };
  if (error instanceof client.ResponseBodyError) return { reason: 'upstream_refused', code: error.error };
  if (error instanceof client.WWWAuthenticateChallengeError) return { reason: 'upstream_refused', code: error.cause[0]?.parameters.error ?? 'invalid_token' };
  if (error instanceof client.ClientError) {
    const broken = ['OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON', 'OAUTH_HTTP_REQUEST_FORBIDDEN', 'OAUTH_MISSING_SERVER_METADATA', 'OAUTH_INVALID_SERVER_METADATA'];
    return { reason: error.code && broken.includes(error.code) ? 'upstream_unavailable' : 'token_invalid', code: error.code ?? error.message };
  }
  const unreachable = (error instanceof TypeError && error.message === 'fetch failed') || (error instanceof Error && ['TimeoutError', 'AbortError'].includes(error.name));
  if (unreachable) {
    return { reason: 'upstream_unavailable', code: error.name };
  }
  return undefined;
}
