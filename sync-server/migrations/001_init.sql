-- PixPax relay schema. Projection tables are written only by src/projection (a pure function of receipts
-- in chain order) and can be dropped and rebuilt from the object store; they are listed in
-- src/projection/tables.ts, which rebuild and digest use. The other tables (acks, append_intents,
-- sessions, auth_challenges) are relay state, not projections.

CREATE TABLE identities (
  identity_id       text PRIMARY KEY,
  account_id        text NOT NULL,
  kind              text NOT NULL,
  display_name      text,
  created_event_id  text NOT NULL,
  created_at        text NOT NULL
);

CREATE TABLE identity_keys (
  identity_id    text NOT NULL,
  public_key_id  text NOT NULL,
  public_key     jsonb NOT NULL,
  added_seq      integer NOT NULL,
  revoked_seq    integer,
  PRIMARY KEY (identity_id, public_key_id)
);

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

-- Stream heads: the seed's pixbook_ledger_heads, generalized to every stream type.
CREATE TABLE streams (
  stream_key         text PRIMARY KEY,
  stream_type        text NOT NULL,
  owner_identity_id  text NOT NULL,
  seq                integer NOT NULL,
  head_event_id      text NOT NULL,
  head_hash          text NOT NULL
);
CREATE VIEW pixbook_ledger_heads AS
  SELECT stream_key, seq, head_event_id, head_hash FROM streams WHERE stream_type = 'pixbook';

-- Index of every accepted receipt (the receipt itself lives in the object store under object_key).
CREATE TABLE receipts (
  stream_key             text NOT NULL,
  seq                    integer NOT NULL,
  event_id               text NOT NULL,
  hash                   text NOT NULL,
  type                   text NOT NULL,
  issuer_identity_id     text NOT NULL,
  issuer_public_key_id   text NOT NULL,
  idempotency_key        text NOT NULL,
  created_at             text NOT NULL,
  object_key             text NOT NULL,
  -- The receipt's canonical JSON, exactly the object's bytes: a read cache of the store, so catch-up
  -- and paging are one index range scan instead of an object GET per receipt (rebuilt like the rest).
  body                   text NOT NULL,
  PRIMARY KEY (stream_key, seq),
  UNIQUE (stream_key, event_id)
);
CREATE UNIQUE INDEX receipts_idempotency ON receipts (issuer_identity_id, idempotency_key);
CREATE INDEX receipts_hash ON receipts (hash);

CREATE TABLE pixbooks (
  account_id          text NOT NULL,
  book_id             text NOT NULL,
  owner_identity_id   text NOT NULL,
  title               text NOT NULL,
  description         text,
  series_id           text,
  card_count          integer NOT NULL DEFAULT 0,
  last_snapshot_hash  text,
  last_document_url   text,
  last_saved_event_id text,
  created_at          text NOT NULL,
  updated_at          text NOT NULL,
  PRIMARY KEY (account_id, book_id)
);

CREATE TABLE pixbook_cards (
  account_id      text NOT NULL,
  book_id         text NOT NULL,
  card_id         text NOT NULL,
  art_hash        text NOT NULL,
  pack_id         text,
  added_event_id  text NOT NULL,
  PRIMARY KEY (account_id, book_id, card_id)
);

CREATE TABLE pixbook_packs (
  account_id        text NOT NULL,
  book_id           text NOT NULL,
  pack_id           text NOT NULL,
  series_id         text,
  cards             jsonb NOT NULL,
  issued_event_id   text NOT NULL,
  opened_event_id   text,
  PRIMARY KEY (account_id, book_id, pack_id)
);

CREATE TABLE pixbook_trades (
  trade_id         text NOT NULL,
  account_id       text NOT NULL,
  book_id          text NOT NULL,
  role             text NOT NULL,
  state            text NOT NULL,
  card_id          text,
  counterparty     jsonb,
  last_event_id    text NOT NULL,
  PRIMARY KEY (account_id, book_id, trade_id)
);

-- How far each projector has applied each stream (repair resumes from here).
CREATE TABLE projector_offsets (
  projector      text NOT NULL,
  stream_key     text NOT NULL,
  last_seq       integer NOT NULL,
  last_event_id  text NOT NULL,
  PRIMARY KEY (projector, stream_key)
);

-- Relay state (not projections) ------------------------------------------------------------------

-- The signed acknowledgement returned for each accepted receipt, kept so that an idempotent retry gets
-- the first result byte for byte. Signatures use random nonces, so they cannot be rebuilt. `position`
-- is the relay's acceptance order across all streams (assigned under the stream lock and the issuer's
-- identity lock, so a key revocation and the receipts using that key are ordered); multi-stream exports
-- list receipts by it so an offline verifier applies key changes at the right place.
CREATE TABLE acks (
  stream_key  text NOT NULL,
  seq         integer NOT NULL,
  ack         text NOT NULL, -- the exact JSON returned the first time
  position    bigserial NOT NULL UNIQUE,
  PRIMARY KEY (stream_key, seq)
);

-- Written (and committed) before a receipt object is put, removed in the transaction that projects it:
-- a leftover intent means a relay died between the two, and the next append to that stream (or
-- `relay repair`) settles it before anything else is accepted there, so no fork can reach the store.
CREATE TABLE append_intents (
  stream_key  text NOT NULL,
  event_id    text NOT NULL,
  object_key  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (stream_key, event_id)
);

CREATE TABLE auth_challenges (
  nonce       text PRIMARY KEY,
  expires_at  timestamptz NOT NULL
);

CREATE TABLE sessions (
  token_hash   text PRIMARY KEY,
  identity_id  text NOT NULL,
  account_id   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);
