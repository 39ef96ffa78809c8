-- Device views (docs/player.md "Views"): one row per view a player reported in a DEVICE_VIEWS batch of its
-- own stream. A projection (a pure function of the log, rebuilt by replay). The receipt rules make
-- (device, viewed_at_ms) unique — a device's views are strictly ordered, at least 5 s apart — so a resent
-- view is refused before it gets here and counts are plain count(*). Postgres 15 and PGlite alike.
CREATE TABLE device_views (
  device_identity_id  text NOT NULL,
  viewed_at_ms        bigint NOT NULL,
  viewed_at           text NOT NULL,
  artwork             text NOT NULL,
  post_id             text,
  channel             text,
  clock_unsynced      boolean NOT NULL,
  event_id            text NOT NULL,
  position            bigint NOT NULL,
  PRIMARY KEY (device_identity_id, viewed_at_ms)
);
-- Per-post counts (GET /v1/posts/:postId/views).
CREATE INDEX device_views_post ON device_views (post_id, device_identity_id) WHERE post_id IS NOT NULL;
