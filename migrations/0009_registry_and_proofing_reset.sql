-- Population-register change feed: where we are in it, and which events were applied (applying twice is a no-op).
CREATE TABLE registry_sync (
  id integer PRIMARY KEY CHECK (id = 1),
  cursor text,
  polled_at timestamptz
);
CREATE TABLE registry_events_applied (
  event_id text PRIMARY KEY,
  event_type text NOT NULL,
  account_id uuid,
  outcome text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);

-- An admin may reset an account's proofing; the evidence stays, marked as revoked, rather than being deleted.
ALTER TABLE account_proofings ADD COLUMN revoked_at timestamptz, ADD COLUMN revoked_reason text;
