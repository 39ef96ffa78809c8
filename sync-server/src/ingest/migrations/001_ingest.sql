-- Relay state of the append path and the acceptance log (ARCHITECTURE §4). Not projections: these tables
-- survive a rebuild. The log itself lives in the object store (pixpax/log/); Postgres only sequences it.

-- The next free log position. Every committed batch takes the next range under this row's lock, so the
-- replicas sharing the database interleave batches but never positions, and batches commit in position
-- order (the lock is held until COMMIT).
CREATE TABLE log_sequence (
  id    boolean PRIMARY KEY DEFAULT true CHECK (id),
  size  bigint NOT NULL
);
INSERT INTO log_sequence (id, size) VALUES (true, 0);

-- Sequenced leaves (the leaf data of ARCHITECTURE §4), kept until the entry bundle and level-0 tile that
-- hold them are full and written to the store: the integrator rebuilds partial bundles from these rows.
CREATE TABLE log_leaves (
  position  bigint PRIMARY KEY,
  data      bytea NOT NULL
);

-- The newest checkpoint written to the store (tiles and entry bundles first, then this note).
CREATE TABLE log_checkpoint (
  id      boolean PRIMARY KEY DEFAULT true CHECK (id),
  size    bigint NOT NULL,
  root    bytea NOT NULL,
  note    text NOT NULL
);
-- The row the integrators lock; note '' until the first checkpoint is written.
INSERT INTO log_checkpoint (id, size, root, note) VALUES (true, 0, '\x', '');

-- The signed acknowledgement returned for each accepted receipt, kept so that an idempotent retry gets
-- the first result byte for byte. Signatures use random nonces, so they cannot be rebuilt.
CREATE TABLE acks (
  stream_key  text NOT NULL,
  seq         integer NOT NULL,
  position    bigint NOT NULL UNIQUE,
  ack         text NOT NULL, -- the exact JSON returned the first time
  PRIMARY KEY (stream_key, seq)
);

-- Written (and committed) before a receipt object is put, removed in the transaction that sequences it:
-- a leftover intent means a relay died between the two, and the next batch touching that stream (or
-- `relay repair`) settles it before anything else is accepted there, so no fork reaches the store.
CREATE TABLE append_intents (
  stream_key  text NOT NULL,
  event_id    text NOT NULL,
  object_key  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (stream_key, event_id)
);

-- How far each projector has applied the log: every position below applied_size.
CREATE TABLE projector_offsets (
  projector     text PRIMARY KEY,
  applied_size  bigint NOT NULL
);
