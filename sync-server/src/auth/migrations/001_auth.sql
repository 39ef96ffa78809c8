-- Sessions and sign-in challenges (relay state, not projections; docs/auth.md).
CREATE TABLE auth_challenges (
  nonce       text PRIMARY KEY,
  expires_at  timestamptz NOT NULL
);
CREATE INDEX auth_challenges_expires_at ON auth_challenges (expires_at);

-- A session remembers the key that signed its challenge, so revoking that key (KEY_REVOKED) ends every
-- session it opened: a session is checked against identity_keys each time it is used.
CREATE TABLE sessions (
  token_hash     text PRIMARY KEY,
  identity_id    text NOT NULL,
  account_id     text NOT NULL,
  public_key_id  text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
