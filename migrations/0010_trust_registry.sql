-- The trust registry of recognised CAs (ETSI TS 119 612 model, standards §2.9): operators, their services with
-- certificates and status history, partner submissions, peer platforms' imported lists, and the published list's state.

-- Another provincial platform whose signed list we import. Its entries are usable only while enabled and fresh.
CREATE TABLE trust_peer_sources (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL UNIQUE,
  list_url text,
  -- Public keys only, pinned by an admin; the list's signature must verify with one of them.
  jwks jsonb NOT NULL,
  enabled boolean NOT NULL DEFAULT false,
  last_sequence bigint,
  issued_at timestamptz,
  next_update timestamptz,
  imported_at timestamptz,
  -- What the last import dropped or changed (unknown levels, expired certificates), for the admin.
  import_notes jsonb NOT NULL DEFAULT '[]',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- CA operators (trust service providers). peer_source_id NULL = registered here ("local").
CREATE TABLE trust_operators (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  peer_source_id uuid REFERENCES trust_peer_sources(id) ON DELETE CASCADE,
  -- The operator's id in the peer's list, for imported entries.
  external_id text,
  name text NOT NULL,
  uscc text NOT NULL,
  miit_licence text,
  oscca_licence text,
  -- The OIDC client the CA uses for the partner exchange API: one client, one operator.
  partner_client_id text UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (peer_source_id IS NULL OR partner_client_id IS NULL)
);
CREATE UNIQUE INDEX trust_operators_local_uscc ON trust_operators (uscc) WHERE peer_source_id IS NULL;
CREATE INDEX trust_operators_peer ON trust_operators (peer_source_id);

CREATE TABLE trust_services (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  operator_id uuid NOT NULL REFERENCES trust_operators(id) ON DELETE CASCADE,
  external_id text,
  type text NOT NULL CHECK (type IN ('ca_individual', 'ca_organisation', 'ocsp')),
  name text NOT NULL,
  status text NOT NULL CHECK (status IN ('granted', 'suspended', 'withdrawn')),
  status_since timestamptz NOT NULL,
  crl_urls jsonb NOT NULL DEFAULT '[]',
  ocsp_urls jsonb NOT NULL DEFAULT '[]',
  -- Certificate-policy OID -> assurance level id (config/levels.json).
  policy_levels jsonb NOT NULL DEFAULT '{}',
  key_usages jsonb NOT NULL,
  extraction_rules jsonb NOT NULL,
  revocation_mode text NOT NULL CHECK (revocation_mode IN ('ocsp', 'crl', 'ocsp_or_crl')),
  soft_fail_max_level text,
  key_protection text NOT NULL CHECK (key_protection IN ('hardware', 'software')),
  pin_required boolean NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trust_services_operator ON trust_services (operator_id);

CREATE TABLE trust_service_status_history (
  id bigserial PRIMARY KEY,
  service_id uuid NOT NULL REFERENCES trust_services(id) ON DELETE CASCADE,
  status text NOT NULL CHECK (status IN ('granted', 'suspended', 'withdrawn')),
  from_time timestamptz NOT NULL,
  reason text,
  actor text
);
CREATE INDEX trust_service_status_history_service ON trust_service_status_history (service_id, from_time);

CREATE TABLE trust_certificates (
  service_id uuid NOT NULL REFERENCES trust_services(id) ON DELETE CASCADE,
  -- SHA-256 of the DER, lowercase hex.
  fingerprint text NOT NULL,
  der bytea NOT NULL,
  role text NOT NULL CHECK (role IN ('anchor', 'intermediate', 'cross')),
  subject text NOT NULL,
  not_after timestamptz NOT NULL,
  -- Set by a key rollover: the replaced certificate stays accepted until then.
  accepted_until timestamptz,
  added_at timestamptz NOT NULL DEFAULT now(),
  -- Registration order (several certificates are added in one transaction, with the same added_at).
  position bigserial NOT NULL,
  PRIMARY KEY (service_id, fingerprint)
);
CREATE INDEX trust_certificates_fingerprint ON trust_certificates (fingerprint);

-- Changes a CA partner asks for through the exchange API; applied only when an admin approves.
CREATE TABLE trust_submissions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  operator_id uuid NOT NULL REFERENCES trust_operators(id) ON DELETE CASCADE,
  service_id uuid NOT NULL REFERENCES trust_services(id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('new_ca_certificate', 'key_rollover', 'endpoints', 'suspension')),
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
  submitted_by text NOT NULL,
  submitted_at timestamptz NOT NULL DEFAULT now(),
  decided_by text,
  decided_at timestamptz,
  reason text
);
CREATE INDEX trust_submissions_operator ON trust_submissions (operator_id, submitted_at DESC);
CREATE INDEX trust_submissions_pending ON trust_submissions (submitted_at) WHERE status = 'pending';

-- One row. sequence_number: the published list's version (ETSI TSLSequenceNumber), bumped with every change
-- that alters the list; revision: bumped with every change that alters what logins trust (peer sources too).
CREATE TABLE trust_list_state (
  id integer PRIMARY KEY CHECK (id = 1),
  sequence_number bigint NOT NULL,
  issued_at timestamptz NOT NULL,
  revision bigint NOT NULL
);
INSERT INTO trust_list_state (id, sequence_number, issued_at, revision) VALUES (1, 1, now(), 1);

-- The trust list's own signing keys (ES256), private JWK encrypted with the data protector.
CREATE TABLE trust_list_keys (
  kid text PRIMARY KEY,
  alg text NOT NULL,
  private_jwk_enc text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz
);
