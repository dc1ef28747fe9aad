-- The account lifecycle: freezing, closing after a cooling-off period, death, merging; exact name look-ups by HMAC.
ALTER TABLE accounts DROP CONSTRAINT accounts_status_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_status_check
  CHECK (status IN ('active', 'frozen', 'closing', 'closed', 'deceased', 'merged'));
ALTER TABLE accounts
  ADD COLUMN name_hash text,
  ADD COLUMN status_reason text,
  ADD COLUMN status_changed_at timestamptz,
  ADD COLUMN closes_at timestamptz,
  ADD COLUMN merged_into uuid REFERENCES accounts (id),
  ADD COLUMN must_reset_password boolean NOT NULL DEFAULT false,
  ADD COLUMN legacy_password_hash text,
  ADD COLUMN legacy_password_algorithm text;
-- A closed account gives its ID number and phone back (they may register again): the row keeps no personal data.
ALTER TABLE accounts ALTER COLUMN id_number_hash DROP NOT NULL;
ALTER TABLE accounts ALTER COLUMN id_number_enc DROP NOT NULL;
ALTER TABLE accounts ALTER COLUMN name_enc DROP NOT NULL;
CREATE INDEX accounts_name_hash_idx ON accounts (name_hash);
CREATE INDEX accounts_closing_idx ON accounts (closes_at) WHERE status = 'closing';

-- Every legacy system an account came from, with its user id there (one account per ID number across sources).
CREATE TABLE account_sources (
  source text NOT NULL,
  legacy_user_id text NOT NULL,
  account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  imported_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, legacy_user_id)
);
CREATE INDEX account_sources_account_idx ON account_sources (account_id);
