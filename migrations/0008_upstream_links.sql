-- Which account a subject of an upstream identity provider (provincial platform, a payment app's login) is
-- here: linked by the ID number the upstream asserted at the first login, then by this row.
CREATE TABLE upstream_links (
  upstream text NOT NULL,
  subject text NOT NULL,
  account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  linked_at timestamptz NOT NULL,
  PRIMARY KEY (upstream, subject)
);
CREATE INDEX upstream_links_account_idx ON upstream_links (account_id);
