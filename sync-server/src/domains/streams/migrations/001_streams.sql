-- The streams projector: every accepted receipt's index row and every stream's head. The append path's
-- rules read these (chain heads, known receipts, idempotency keys); catch-up reads `body`.

CREATE TABLE streams (
  stream_key         text PRIMARY KEY,
  stream_type        text NOT NULL,
  owner_identity_id  text NOT NULL,
  seq                integer NOT NULL,
  head_event_id      text NOT NULL,
  head_hash          text NOT NULL,
  head_position      bigint NOT NULL
);

CREATE TABLE receipts (
  stream_key             text NOT NULL,
  seq                    integer NOT NULL,
  position               bigint NOT NULL UNIQUE,
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
