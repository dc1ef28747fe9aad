-- Bulk imports of legacy accounts (scripts/import-accounts.ts). One row per source and file content: the byte offset
-- and counts after the last committed batch, so an interrupted import resumes there and a finished one is not redone.
CREATE TABLE account_imports (
  id bigserial PRIMARY KEY,
  source text NOT NULL,
  file_sha256 text NOT NULL,
  file_name text NOT NULL,
  file_size bigint NOT NULL,
  format text NOT NULL CHECK (format IN ('csv', 'jsonl')),
  byte_offset bigint NOT NULL DEFAULT 0,
  line_number bigint NOT NULL DEFAULT 0,
  batches integer NOT NULL DEFAULT 0,
  counts jsonb NOT NULL DEFAULT '{}',
  -- Length of the rejects file after the last committed batch: lines written past it (a crash before COMMIT) are cut.
  rejects_offset bigint NOT NULL DEFAULT 0,
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed')),
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  UNIQUE (source, file_sha256)
);

-- Which import created a link: a second row for the same person and source is a duplicate within that file when the
-- link came from the same import, and a duplicate within the source when it came from an earlier one.
ALTER TABLE account_sources ADD COLUMN import_id bigint REFERENCES account_imports (id);
