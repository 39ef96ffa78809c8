-- The identity projector: identities, their keys (with the log positions that added and revoked them)
-- and accounts with their members (ARCHITECTURE §3).

CREATE TABLE identities (
  identity_id       text PRIMARY KEY,
  account_id        text NOT NULL,
  kind              text NOT NULL,
  display_name      text,
  created_event_id  text NOT NULL,
  created_at        text NOT NULL
);

CREATE TABLE identity_keys (
  identity_id       text NOT NULL,
  public_key_id     text NOT NULL,
  public_key        jsonb NOT NULL,
  added_position    bigint NOT NULL,
  revoked_position  bigint,
  PRIMARY KEY (identity_id, public_key_id)
);
CREATE INDEX identity_keys_key ON identity_keys (public_key_id);

CREATE TABLE accounts (
  account_id        text PRIMARY KEY,
  display_name      text,
  created_by        text NOT NULL,
  created_event_id  text NOT NULL
);

CREATE TABLE account_members (
  account_id   text NOT NULL,
  identity_id  text NOT NULL,
  role         text NOT NULL,
  PRIMARY KEY (account_id, identity_id)
);
