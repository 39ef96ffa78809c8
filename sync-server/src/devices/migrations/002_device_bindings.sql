-- Projection: the open pairing streams (DEVICE_PAIRED not yet followed by DEVICE_UNPAIRED), which the
-- `devices.bound` fact counts per account for the 128-device rule at receipt acceptance. Unlike
-- device_pairings (relay state the pair route keeps, signed or not) it is a pure function of the log.
CREATE TABLE device_bindings (
  device_identity_id  text NOT NULL,
  account_id          text NOT NULL,
  paired_event_id     text NOT NULL,
  position            bigint NOT NULL,
  PRIMARY KEY (account_id, device_identity_id)
);

-- Existing pairing streams: open while they hold only their DEVICE_PAIRED.
INSERT INTO device_bindings (device_identity_id, account_id, paired_event_id, position)
SELECT split_part(s.stream_key, '/', 3), split_part(s.stream_key, '/', 2), s.head_event_id, s.head_position
  FROM streams s WHERE s.stream_type = 'pairing' AND s.seq = 1;
