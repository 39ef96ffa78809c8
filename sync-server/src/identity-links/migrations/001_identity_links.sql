-- Device linking (docs/web.md, "Linking a second browser"). Relay state only, like pairing codes: a short
-- code the signed-in browser shows, and the public key a second browser submits with it. The approval is
-- not stored here: it is the KEY_ADDED receipt the first browser signs (the identity_keys projection).

CREATE TABLE identity_links (
  -- Random, handed to the browser that claims the code, which polls with it.
  link_id        text PRIMARY KEY,
  -- SHA-256 of the code only (reading the database links nothing); one live code per identity.
  code_hash      text NOT NULL UNIQUE,
  identity_id    text NOT NULL,
  account_id     text NOT NULL,
  created_at     timestamptz NOT NULL,
  expires_at     timestamptz NOT NULL,
  -- Set once, by the claim (a code is single use).
  public_key     jsonb,
  public_key_id  text,
  claimed_at     timestamptz
);
CREATE INDEX identity_links_identity ON identity_links (identity_id);
