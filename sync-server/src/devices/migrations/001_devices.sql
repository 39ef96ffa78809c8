-- The devices module (docs/player.md). Relay state, kept by a rebuild like sessions: pairing codes and the
-- pairings the owners' sessions made. Projection: each device's latest DEVICE_STATUS.

-- A pending pairing code: its SHA-256 only (reading the database pairs nothing), one live code per device.
CREATE TABLE device_pairing_codes (
  code_hash           text PRIMARY KEY,
  device_identity_id  text NOT NULL UNIQUE,
  expires_at          timestamptz NOT NULL
);

-- The device ↔ account binding. A row exists while the device is paired; unpairing deletes it (and with it
-- the device's read access to the account's streams). `receipt_event_id`: the owner-signed DEVICE_PAIRED.
CREATE TABLE device_pairings (
  device_identity_id  text PRIMARY KEY,
  account_id          text NOT NULL,
  owner_identity_id   text NOT NULL,
  name                text NOT NULL,
  paired_at           timestamptz NOT NULL,
  receipt_event_id    text
);
CREATE INDEX device_pairings_account ON device_pairings (account_id);

-- Projection: the newest status each device reported in its own stream (DEVICE_REGISTERED, DEVICE_STATUS).
CREATE TABLE device_status (
  device_identity_id  text PRIMARY KEY,
  capabilities        jsonb NOT NULL,
  state               text NOT NULL,
  artwork             text,
  status              jsonb,
  reported_at         text NOT NULL,
  position            bigint NOT NULL
);
