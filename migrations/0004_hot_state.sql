-- Shared hot state (rate limits, OTPs, interactions, codes) when no Redis is configured. UNLOGGED: losing it
-- in a crash costs in-flight logins only, the same promise the Redis store makes.
CREATE UNLOGGED TABLE hot_entries (
  key text PRIMARY KEY,
  value text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX hot_entries_expiry_idx ON hot_entries (expires_at);

CREATE UNLOGGED TABLE hot_set_members (
  key text NOT NULL,
  member text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (key, member)
);
