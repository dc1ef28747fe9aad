import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import * as client from 'openid-client';

export type LoginTransaction = { verifier: string; state: string; nonce: string };

export type RelyingPartyOptions = {
  /** Issuer URL without a trailing slash. */
  issuer: string;
  clientId: string;
  clientSecret: () => Promise<string>;
  redirectUri: string;
  scope: string;
  /** Name of the signed cookie that carries the PKCE verifier, state and nonce from login to callback. */
  loginCookie: string;
  cookieOptions: CookieSerializeOptions & { path: string };
};

const LOGIN_TTL_SECONDS = 10 * 60;

export function readSignedCookie(request: FastifyRequest, name: string): string | undefined {
  const raw = request.cookies[name];
  if (!raw) return undefined;
  const unsigned = request.unsignCookie(raw);
  return unsigned.valid && unsigned.value !== null ? unsigned.value : undefined;
}

/**
 * The mechanics of a relying party of this provider (openid-client, code flow with PKCE, state and nonce);
 * what it shows and whom it lets in stays with the caller.
 */
export function createRelyingParty(options: RelyingPartyOptions) {
  let configuration: Promise<client.Configuration> | undefined;

  // Lazy: the provider is usually this same server, not listening yet while routes are registered.
  // A failed discovery is not kept, so the next request tries again.
  function getConfiguration(): Promise<client.Configuration> {
    configuration ??= (async () => {
      const secret = await options.clientSecret();
      return client.discovery(new URL(options.issuer), options.clientId, undefined, client.ClientSecretBasic(secret), {
        execute: new URL(options.issuer).protocol === 'http:' ? [client.allowInsecureRequests] : [],
        timeout: 10,
      });
    })().catch((error: unknown) => {
      configuration = undefined;
      throw error;
    });
    return configuration;
  }

  /** The authorization URL of a new login; its verifier, state and nonce go into the login cookie. */
  async function startLogin(reply: FastifyReply, config: client.Configuration, extra: Record<string, string> = {}): Promise<URL> {
    const transaction: LoginTransaction = { verifier: client.randomPKCECodeVerifier(), state: client.randomState(), nonce: client.randomNonce() };
    const parameters: Record<string, string> = {
      redirect_uri: options.redirectUri,
      scope: options.scope,
      code_challenge: await client.calculatePKCECodeChallenge(transaction.verifier),
      code_challenge_method: 'S256',
      state: transaction.state,
      nonce: transaction.nonce,
      ...extra,
    };
    reply.setCookie(options.loginCookie, Buffer.from(JSON.stringify(transaction)).toString('base64url'), { ...options.cookieOptions, maxAge: LOGIN_TTL_SECONDS });
    return client.buildAuthorizationUrl(config, parameters);
  }

  /** The login this browser started, if any; the login cookie is cleared either way. */
  function takeTransaction(request: FastifyRequest, reply: FastifyReply): LoginTransaction | undefined {
    const value = readSignedCookie(request, options.loginCookie);
    reply.clearCookie(options.loginCookie, { path: options.cookieOptions.path });
    if (!value) return undefined;
    try {
      const { verifier, state, nonce } = (JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) ?? {}) as Partial<Record<keyof LoginTransaction, unknown>>;
      if (typeof verifier === 'string' && typeof state === 'string' && typeof nonce === 'string') return { verifier, state, nonce };
    } catch {
      // A malformed cookie is treated like a missing one.
    }
    return undefined;
  }

  /** Redeems the callback's code against the transaction; throws the openid-client error when that fails or no ID token comes back. */
  async function redeemCode(config: client.Configuration, request: FastifyRequest, transaction: LoginTransaction) {
    const currentUrl = new URL(options.redirectUri);
    currentUrl.search = new URL(request.url, options.issuer).search;
    const tokens = await client.authorizationCodeGrant(config, currentUrl, {
      pkceCodeVerifier: transaction.verifier, expectedState: transaction.state, expectedNonce: transaction.nonce, idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims || !tokens.id_token) throw new client.ClientError('the token response has no ID token');
    return { claims, idToken: tokens.id_token, accessToken: tokens.access_token };
  }

  return { getConfiguration, startLogin, takeTransaction, redeemCode };
}

export type RelyingParty = ReturnType<typeof createRelyingParty>;
