-- Sessions remember the key that signed their challenge, so revoking that key (KEY_REVOKED) ends every
-- session it opened: a session is checked against identity_keys each time it is used. Rows from before
-- this migration have no key and can no longer be used (people sign in again).
ALTER TABLE sessions ADD COLUMN public_key_id text;
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX auth_challenges_expires_at ON auth_challenges (expires_at);
