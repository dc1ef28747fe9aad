-- Relying parties registered by admins. The client secret inside metadata is encrypted by the application.
CREATE TABLE oidc_clients (
  client_id text PRIMARY KEY,
  metadata jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Durable oidc-provider artefacts (sessions, grants, refresh tokens, and access tokens when no Redis is configured).
CREATE TABLE oidc_payloads (
  model text NOT NULL,
  id text NOT NULL,
  payload jsonb NOT NULL,
  grant_id text,
  uid text,
  user_code text,
  account_id text,
  expires_at timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_payloads_grant_idx ON oidc_payloads (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_payloads_uid_idx ON oidc_payloads (model, uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_payloads_account_idx ON oidc_payloads (model, account_id) WHERE account_id IS NOT NULL;
CREATE INDEX oidc_payloads_expiry_idx ON oidc_payloads (expires_at);

-- Token signing keys, private parts encrypted with the data key ring. A retired key no longer signs but
-- stays in the JWKS until remove_after, so tokens it signed keep verifying until they expire.
CREATE TABLE signing_keys (
  kid text PRIMARY KEY,
  alg text NOT NULL CHECK (alg IN ('RS256', 'ES256')),
  private_jwk_enc text NOT NULL,
  origin text NOT NULL CHECK (origin IN ('development', 'production')),
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz,
  remove_after timestamptz
);
