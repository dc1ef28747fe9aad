-- Rotation of the trust list's signing key. Peers pin our keys, so a new key is announced before it signs:
-- 'next' (published in /trust/jwks, not signing) -> 'active' (signing; at most one) -> 'retired' (kept for the
-- record; published until publish_until so lists it signed still verify, then withdrawn).
ALTER TABLE trust_list_keys
  ADD COLUMN state text,
  ADD COLUMN activated_at timestamptz,
  ADD COLUMN publish_until timestamptz;

-- Before this migration the newest key not retired signed the list and every key not retired was published.
UPDATE trust_list_keys k SET state = 'active', activated_at = k.created_at
 WHERE k.retired_at IS NULL
   AND k.kid = (SELECT kid FROM trust_list_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid LIMIT 1);
UPDATE trust_list_keys SET state = 'retired', retired_at = now(), publish_until = now() + interval '7 days'
 WHERE state IS NULL AND retired_at IS NULL;
UPDATE trust_list_keys SET state = 'retired' WHERE state IS NULL;

ALTER TABLE trust_list_keys
  ALTER COLUMN state SET NOT NULL,
  ADD CONSTRAINT trust_list_keys_state CHECK (state IN ('next', 'active', 'retired')),
  ADD CONSTRAINT trust_list_keys_retired CHECK ((state = 'retired') = (retired_at IS NOT NULL)),
  ADD CONSTRAINT trust_list_keys_activated CHECK (state <> 'active' OR activated_at IS NOT NULL);

-- One signing key and one announced key at a time.
CREATE UNIQUE INDEX trust_list_keys_one_active ON trust_list_keys (state) WHERE state = 'active';
CREATE UNIQUE INDEX trust_list_keys_one_next ON trust_list_keys (state) WHERE state = 'next';
