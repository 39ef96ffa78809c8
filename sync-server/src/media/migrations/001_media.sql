-- PLACEHOLDER (social branch, for the lead to reconcile with the media module's own migration): the
-- validated-media table exactly as the media module specifies it. The social module's `media` fact
-- loader reads rows with status 'ok' (a post must name a validated blob, ARCHITECTURE §8).
CREATE TABLE media_blobs (
  hash           text PRIMARY KEY,
  mime           text NOT NULL,
  width          integer NOT NULL,
  height         integer NOT NULL,
  frames         integer NOT NULL,
  unique_colors  integer NOT NULL,
  transparent    boolean NOT NULL,
  byte_size      integer NOT NULL,
  uploaded_by    text NOT NULL,
  uploaded_at    text NOT NULL,
  status         text NOT NULL CHECK (status IN ('ok', 'taken_down', 'corrupt'))
);
