-- A factor may count only up to a level (a CA certificate counts up to the level its CA's policy maps to) and
-- may carry amr values beyond its method's own (`pin` when the key needed a PIN).
ALTER TABLE session_factors ADD COLUMN max_level text;
ALTER TABLE session_factors ADD COLUMN extra_amr text[] NOT NULL DEFAULT '{}';
