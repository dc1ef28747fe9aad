import { createHmac } from 'node:crypto';
import Provider, { interactionPolicy, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { JWK } from 'jose';
import type { Config } from '../config/types.ts';
import type { AccountService } from '../accounts/service.ts';
import type { HotStore } from '../cache/hot-store.ts';
import type { Database } from '../db/database.ts';
import type { AssuranceEvaluator } from '../assurance/evaluator.ts';
import type { LevelCatalog } from '../assurance/levels.ts';
import { createAdapterClass, type ClientSource } from './adapter.ts';
import { CLAIMS_BY_SCOPE, createFindAccount } from './claims.ts';
import { createMtlsClientAuth, type MtlsDeps } from './mtls.ts';

/** `admin` is granted only to clients whose registered scope includes it (set through the admin API). */
export const PROVIDER_SCOPES = ['openid', 'offline_access', 'profile', 'phone', 'id_number', 'admin', 'admin:policy', 'admin:audit', 'admin:accounts', 'admin:trust', 'trust:partner'] as const;

export type ProviderPages = {
  renderError: NonNullable<Configuration['renderError']>;
  logoutSource: (ctx: KoaContextWithOIDC, form: string) => Promise<void>;
  postLogoutSuccessSource: (ctx: KoaContextWithOIDC) => Promise<void>;
};

export type ProviderDeps = {
  config: Config;
  db: Database;
  hot: HotStore;
  clients: ClientSource;
  accounts: AccountService;
  keys: JWK[];
  pages: ProviderPages;
  catalog: LevelCatalog;
  assurance: AssuranceEvaluator;
  /** RFC 8705 client authentication; enabled only when CERT_PROXY_HEADER is configured (the proxy forwards the certificate). */
  mtls?: Omit<MtlsDeps, 'proxy' | 'maxChainLength'>;
};

/**
 * oidc-provider's default prompts, with its own acr checks replaced by ours: the level a request needs
 * comes from the admin policy and the request together, and a shortfall is a step-up, not a new login.
 */
function createInteractionPolicy(assurance: AssuranceEvaluator) {
  const { Check, base } = interactionPolicy;
  const policy = base();
  const login = policy.get('login')!;
  login.checks.remove('essential_acrs');
  login.checks.remove('essential_acr');
  login.checks.add(new Check('step_up_required', 'a higher assurance level is required', 'login_required',
    (ctx) => assurance.check(ctx), (ctx) => assurance.details(ctx)));
  return policy;
}

/**
 * oidc-provider with the defaults a government IdP must change (standards §4.7): no dev interactions,
 * PKCE S256 for every client, sessions bounded by an absolute and an idle limit instead of 14 days,
 * exact redirect URIs, refresh-token rotation, no open registration.
 */
export function createOidcProvider(deps: ProviderDeps): Provider {
  const { config } = deps;
  const secure = config.issuer.startsWith('https://');
  const { absoluteSeconds, idleSeconds } = config.session;
  const certificateProxy = config.certificates.proxy;
  const mtls = certificateProxy && deps.mtls
    ? createMtlsClientAuth({ ...deps.mtls, proxy: certificateProxy, maxChainLength: config.certificates.maxChainLength })
    : undefined;

  const configuration: Configuration = {
    adapter: createAdapterClass({ db: deps.db, hot: deps.hot, clients: deps.clients }),
    findAccount: createFindAccount(deps.accounts),
    jwks: { keys: deps.keys as Configuration['jwks'] extends { keys: infer K } ? K : never },
    claims: {
      ...Object.fromEntries(Object.entries(CLAIMS_BY_SCOPE).map(([scope, claims]) => [scope, [...claims]])),
    } as Configuration['claims'],
    scopes: [...PROVIDER_SCOPES],
    acrValues: deps.catalog.acrValues(),
    responseTypes: ['code'],
    subjectTypes: ['public', 'pairwise'],
    pairwiseIdentifier: async (_ctx, accountId, client) =>
      createHmac('sha256', config.pairwiseSalt).update(`${client.sectorIdentifier}\u0000${accountId}`).digest('base64url'),
    pkce: { required: () => true },
    clientAuthMethods: ['client_secret_basic', 'client_secret_jwt', 'client_secret_post', 'private_key_jwt', 'none',
      ...(mtls ? ['tls_client_auth', 'self_signed_tls_client_auth'] as const : [])],
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
      require_auth_time: true,
    } as Configuration['clientDefaults'],
    extraClientMetadata: {
      properties: ['require_consent'],
      validator(_ctx, key, value) {
        if (key === 'require_consent' && value !== undefined && typeof value !== 'boolean') {
          throw new Error('require_consent must be a boolean');
        }
      },
    },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: deps.pages.logoutSource,
        postLogoutSuccessSource: deps.pages.postLogoutSuccessSource,
      },
      registration: { enabled: false },
      mTLS: mtls ? {
        enabled: true, tlsClientAuth: true, selfSignedTlsClientAuth: true, certificateBoundAccessTokens: false,
        getCertificate: mtls.getCertificate, certificateAuthorized: mtls.certificateAuthorized, certificateSubjectMatches: mtls.certificateSubjectMatches,
      } : { enabled: false },
    },
    rotateRefreshToken: true,
    ttl: {
      AccessToken: config.tokens.accessTokenSeconds,
      AuthorizationCode: config.tokens.authorizationCodeSeconds,
      ClientCredentials: config.tokens.clientCredentialsSeconds,
      IdToken: config.tokens.idTokenSeconds,
      Interaction: config.tokens.interactionSeconds,
      Grant: absoluteSeconds,
      RefreshToken: (_ctx, token) => {
        // Absolute: a rotated refresh token never outlives the first one of its chain.
        const issuedAt = (token as { iat?: number }).iat ?? Math.floor(Date.now() / 1000);
        const remaining = issuedAt + config.tokens.refreshTokenSeconds - Math.floor(Date.now() / 1000);
        return Math.max(1, Math.min(config.tokens.refreshTokenSeconds, remaining));
      },
      // Every use of the session saves it again with this TTL, so it is the idle limit, capped by what is
      // left of the absolute limit counted from the last authentication.
      Session: (_ctx, session) => {
        const now = Math.floor(Date.now() / 1000);
        const loginTs = (session as { loginTs?: number }).loginTs;
        const absoluteLeft = loginTs ? loginTs + absoluteSeconds - now : absoluteSeconds;
        return Math.max(1, Math.min(idleSeconds, absoluteLeft));
      },
    },
    expiresWithSession: async (_ctx, token) => !token.scopes.has('offline_access'),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}`, policy: createInteractionPolicy(deps.assurance) },
    // Access tokens carry the level and authentication time, so introspection can answer them (RFC 9470).
    extraTokenClaims: async (ctx, token) => {
      if (token.kind !== 'AccessToken') return undefined;
      const source = (ctx.oidc.entities.AuthorizationCode ?? ctx.oidc.entities.RefreshToken) as { acr?: string; authTime?: number } | undefined;
      return source ? { acr: source.acr, auth_time: source.authTime } : undefined;
    },
    // Trusted first-party services (admin-registered with require_consent false) skip the consent page: their
    // grant gets whatever scopes are asked for, saved only when a scope is new.
    loadExistingGrant: async (ctx) => {
      const client = ctx.oidc.client!;
      const trusted = (client as unknown as { require_consent?: boolean }).require_consent === false;
      const requested = [...(ctx.oidc.requestParamScopes ?? ['openid'])];
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session!.grantIdFor(client.clientId);
      if (grantId) {
        const grant = await ctx.oidc.provider.Grant.find(grantId);
        if (grant && trusted) {
          const granted = new Set((grant.getOIDCScope() ?? '').split(' '));
          if (requested.some((scope) => !granted.has(scope))) {
            grant.addOIDCScope(requested.join(' '));
            await grant.save();
          }
        }
        return grant;
      }
      if (trusted && ctx.oidc.session?.accountId) {
        const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: ctx.oidc.session.accountId });
        grant.addOIDCScope(requested.join(' '));
        grant.addOIDCClaims(['acr', 'amr', 'auth_time']);
        await grant.save();
        return grant;
      }
      return undefined;
    },
    renderError: deps.pages.renderError,
    cookies: {
      keys: [...config.cookieSecrets],
      names: secure
        ? { session: '__Host-idp_session', interaction: '__Secure-idp_interaction', resume: '__Secure-idp_resume' }
        : { session: 'idp_session', interaction: 'idp_interaction', resume: 'idp_resume' },
      long: { signed: true, httpOnly: true, sameSite: 'lax', secure, path: '/' },
      short: { signed: true, httpOnly: true, sameSite: 'lax', secure },
    },
    allowOmittingSingleRegisteredRedirectUri: false,
    conformIdTokenClaims: true,
    // oidc-provider refuses outgoing requests to special-use addresses (SSRF). Relying parties inside the
    // government network are reachable only when an admin lists their host.
    fetch: (url, options) => {
      const host = new URL(url instanceof Request ? url.url : url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
      if (config.outboundPrivateHosts.includes(host)) delete (options as { dispatcher?: unknown }).dispatcher;
      return globalThis.fetch(url, options);
    },
    discovery: { ui_locales_supported: ['zh-CN', 'en'], claims_locales_supported: ['zh-CN'] },
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustProxy;
  if (mtls) provider.use(mtls.prepare);
  return provider;
}
