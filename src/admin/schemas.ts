const uri = { type: 'string', minLength: 1, maxLength: 2000 };
const uriList = { type: 'array', items: uri, maxItems: 20 };

/** The client metadata an admin may set (RFC 7591 names). oidc-provider validates semantics on top. */
export const clientMetadataBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    client_id: { type: 'string', pattern: '^[A-Za-z0-9._-]{3,64}$' },
    client_name: { type: 'string', minLength: 1, maxLength: 200 },
    redirect_uris: uriList,
    post_logout_redirect_uris: uriList,
    grant_types: { type: 'array', items: { enum: ['authorization_code', 'refresh_token', 'client_credentials'] }, uniqueItems: true },
    response_types: { type: 'array', items: { enum: ['code'] } },
    // The two mutual-TLS methods are accepted by oidc-provider only when a client-certificate proxy is configured.
    token_endpoint_auth_method: { enum: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth', 'none'] },
    tls_client_auth_subject_dn: { type: 'string', minLength: 1, maxLength: 1000 },
    tls_client_auth_san_dns: { type: 'string', minLength: 1, maxLength: 253 },
    tls_client_auth_san_uri: uri,
    tls_client_auth_san_ip: { type: 'string', minLength: 2, maxLength: 45 },
    tls_client_auth_san_email: { type: 'string', minLength: 3, maxLength: 320 },
    scope: { type: 'string', pattern: '^[a-z_:]+( [a-z_:]+)*$', maxLength: 500 },
    subject_type: { enum: ['public', 'pairwise'] },
    sector_identifier_uri: uri,
    backchannel_logout_uri: uri,
    backchannel_logout_session_required: { type: 'boolean' },
    jwks_uri: uri,
    jwks: { type: 'object', properties: { keys: { type: 'array', maxItems: 10 } }, required: ['keys'] },
    require_consent: { type: 'boolean' },
    id_token_signed_response_alg: { enum: ['RS256', 'ES256'] },
  },
} as const;

export const clientIdParams = {
  type: 'object',
  properties: { clientId: { type: 'string', pattern: '^[A-Za-z0-9._-]{3,64}$' } },
  required: ['clientId'],
} as const;

export const auditQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    event: { type: 'string', maxLength: 64 },
    account_id: { type: 'string', format: 'uuid' },
    client_id: { type: 'string', maxLength: 64 },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
} as const;

export const policyBody = {
  type: 'object',
  additionalProperties: false,
  required: ['min_level'],
  properties: {
    scope: { type: 'string', pattern: '^(\\*|[a-z_:]{1,64})$' },
    min_level: { type: 'string', minLength: 1, maxLength: 16 },
    max_auth_age_seconds: { type: ['integer', 'null'], minimum: 1, maximum: 604800 },
  },
} as const;

export const policyQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { scope: { type: 'string', pattern: '^(\\*|[a-z_:]{1,64})$' } },
} as const;
