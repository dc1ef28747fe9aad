-- How well an account's identity was proofed, with evidence (one row per proofing event; the best counts).
CREATE TABLE account_proofings (
  id bigserial PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  proofing text NOT NULL,
  evidence jsonb NOT NULL DEFAULT '{}',
  verified_at timestamptz NOT NULL
);
CREATE INDEX account_proofings_account_idx ON account_proofings (account_id);

-- How this session authenticated: one row per method with its time, keyed by the oidc-provider session uid
-- (stable across the session-id renewals of every authentication).
CREATE TABLE session_factors (
  session_uid text NOT NULL,
  account_id uuid NOT NULL,
  method text NOT NULL,
  authenticated_at timestamptz NOT NULL,
  PRIMARY KEY (session_uid, method)
);
CREATE INDEX session_factors_age_idx ON session_factors (authenticated_at);

CREATE TABLE session_activity (
  session_uid text PRIMARY KEY,
  last_seen_at timestamptz NOT NULL
);

-- Admin-set minimum level and maximum authentication age, per relying party and per scope ('*' = any request).
CREATE TABLE level_policies (
  client_id text NOT NULL,
  scope text NOT NULL DEFAULT '*',
  min_level text NOT NULL,
  max_auth_age_seconds integer CHECK (max_auth_age_seconds IS NULL OR max_auth_age_seconds > 0),
  updated_by text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (client_id, scope)
);
