-- Organisation (legal-person) certificates seen at login, kept for the enterprise-accounts work. The unified
-- social credit code is stored like ID numbers: encrypted, with a keyed hash for look-up and a masked form.
CREATE TABLE enterprise_certificates (
  certificate_fingerprint text PRIMARY KEY,
  trust_service_id text NOT NULL,
  uscc_hash text NOT NULL,
  uscc_enc text NOT NULL,
  uscc_masked text NOT NULL,
  subject_enc text NOT NULL,
  -- The person the certificate also names (an operator certificate), when it names one and they have an account.
  holder_account_id uuid REFERENCES accounts (id) ON DELETE SET NULL,
  not_after timestamptz NOT NULL,
  first_seen_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL
);
CREATE INDEX enterprise_certificates_uscc_idx ON enterprise_certificates (uscc_hash);
