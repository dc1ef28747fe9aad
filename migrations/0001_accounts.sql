-- Natural persons keyed on the citizen ID number (GB 11643). The number itself is stored only encrypted
-- (AES-256-GCM, key ring from configuration) with an HMAC for exact look-up and a masked form for display.
CREATE TABLE accounts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind text NOT NULL DEFAULT 'citizen' CHECK (kind IN ('citizen')),
  id_number_hash text NOT NULL UNIQUE,
  id_number_enc text NOT NULL,
  id_number_masked text NOT NULL,
  name_enc text NOT NULL,
  phone_hash text UNIQUE,
  phone_enc text,
  phone_masked text,
  phone_verified_at timestamptz,
  password_hash text,
  password_changed_at timestamptz,
  identity_verified_at timestamptz,
  identity_verified_by text,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'frozen', 'closed')),
  roles text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
