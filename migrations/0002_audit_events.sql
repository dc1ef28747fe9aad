-- Append-only security audit trail (GB/T 22239-2019 8.1.4.3). Actors are stored masked; the triggers
-- refuse UPDATE, DELETE and TRUNCATE so the application cannot rewrite history even by mistake.
CREATE TABLE audit_events (
  id bigserial PRIMARY KEY,
  occurred_at timestamptz NOT NULL,
  event text NOT NULL,
  result text NOT NULL CHECK (result IN ('success', 'failure')),
  actor text,
  account_id uuid,
  client_id text,
  ip text,
  detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_account_idx ON audit_events (account_id, occurred_at);
CREATE INDEX audit_events_event_idx ON audit_events (event, occurred_at);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only';
END
$$;
CREATE TRIGGER audit_events_no_rewrite BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
