-- Validated media blobs (docs/media.md). Relay state, not a projection: a row says the bytes at
-- pixpax/blobs/sha256/{hex} passed validation and what was measured; status follows takedowns and the
-- scrubber. Not in the projection digest (no projector writes it).
CREATE TABLE media_blobs (
  hash text PRIMARY KEY CHECK (hash ~ '^sha256:[0-9a-f]{64}$'),
  mime text NOT NULL CHECK (mime IN ('image/png', 'image/gif', 'image/webp', 'image/bmp')),
  width integer NOT NULL CHECK (width BETWEEN 1 AND 256),
  height integer NOT NULL CHECK (height BETWEEN 1 AND 256),
  frames integer NOT NULL CHECK (frames >= 1),
  unique_colors integer NOT NULL CHECK (unique_colors >= 1),
  transparent boolean NOT NULL,
  byte_size integer NOT NULL CHECK (byte_size >= 1),
  uploaded_by text NOT NULL,
  uploaded_at timestamptz NOT NULL DEFAULT now(),
  status text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'taken_down', 'corrupt')),
  status_changed_at timestamptz,
  last_checked_at timestamptz
);
