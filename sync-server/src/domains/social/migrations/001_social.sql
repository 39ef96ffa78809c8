-- The social projector (inline): profiles and handles, posts, reactions, comments, follows, blocks,
-- playlists, reports, moderation state and notifications. Every row is a function of receipts in log
-- order; the cross-stream rules' fact loaders (loaders.ts) read these tables. Runs on Postgres 15 and
-- PGlite alike: no generated columns (rebuild copies rows with INSERT … SELECT *), trigram operators
-- qualified with the schema pg_trgm lives in (each relay schema has only itself on its search_path).

CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;

CREATE TABLE social_profiles (
  identity_id       text PRIMARY KEY,
  handle            text NOT NULL,          -- case-folded; unique (below)
  handle_display    text NOT NULL,          -- as written
  display_name      text,
  bio               text,
  avatar_hash       text,
  website           text,
  created_event_id  text NOT NULL,
  created_position  bigint NOT NULL,
  updated_at        text NOT NULL,
  -- Checked at the end of each statement: one multi-row upsert may move a handle from one profile to
  -- another (the rules already guarantee uniqueness at every log position).
  CONSTRAINT social_profiles_handle_key UNIQUE (handle) DEFERRABLE INITIALLY IMMEDIATE
);
CREATE INDEX social_profiles_handle_trgm ON social_profiles USING gin (handle public.gin_trgm_ops);
CREATE INDEX social_profiles_name_trgm ON social_profiles USING gin (lower(coalesce(display_name, '')) public.gin_trgm_ops);

CREATE TABLE social_posts (
  post_id           text PRIMARY KEY,       -- the POST_PUBLISHED receipt's eventId
  author_id         text NOT NULL,
  title             text NOT NULL,
  description       text,
  hashtags          text[] NOT NULL,        -- lower case
  license           text,
  remix_of          text[],
  remixable         boolean,
  media_hash        text NOT NULL,
  mime              text NOT NULL,
  width             integer NOT NULL,
  height            integer NOT NULL,
  frames            integer NOT NULL,
  position          bigint NOT NULL,        -- log position of POST_PUBLISHED: feed order
  created_at        text NOT NULL,
  edited_at         text,
  search_text       text NOT NULL,          -- title, description and hashtags, for search
  search_vector     tsvector NOT NULL,      -- to_tsvector('english', search_text), kept by the projector
  deleted           boolean NOT NULL DEFAULT false,
  hidden            boolean NOT NULL DEFAULT false,
  taken_down        boolean NOT NULL DEFAULT false,
  takedown_reason   text,
  approved          boolean NOT NULL DEFAULT false
);
CREATE INDEX social_posts_recent ON social_posts (position DESC);
CREATE INDEX social_posts_author ON social_posts (author_id, position DESC);
CREATE INDEX social_posts_hashtags ON social_posts USING gin (hashtags);
CREATE INDEX social_posts_fts ON social_posts USING gin (search_vector);
CREATE INDEX social_posts_trgm ON social_posts USING gin (lower(search_text) public.gin_trgm_ops);

CREATE TABLE social_promotions (
  post_id     text NOT NULL,
  category    text NOT NULL,
  position    bigint NOT NULL,
  PRIMARY KEY (post_id, category)
);
CREATE INDEX social_promotions_feed ON social_promotions (category, position DESC);

CREATE TABLE social_reactions (
  post_id      text NOT NULL,
  identity_id  text NOT NULL,
  emoji        text NOT NULL,
  PRIMARY KEY (post_id, identity_id, emoji)
);
CREATE INDEX social_reactions_by_identity ON social_reactions (identity_id, post_id);

CREATE TABLE social_comments (
  comment_id   text PRIMARY KEY,            -- the COMMENT_ADDED receipt's eventId
  post_id      text NOT NULL,
  author_id    text NOT NULL,
  parent_id    text,
  depth        integer NOT NULL,
  body         text NOT NULL,
  position     bigint NOT NULL,
  created_at   text NOT NULL,
  deleted      boolean NOT NULL DEFAULT false
);
CREATE INDEX social_comments_post ON social_comments (post_id, position);

CREATE TABLE social_follows (
  follower_id  text NOT NULL,
  followee_id  text NOT NULL,
  PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX social_follows_followee ON social_follows (followee_id);

CREATE TABLE social_blocks (
  blocker_id   text NOT NULL,
  blocked_id   text NOT NULL,
  PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX social_blocks_blocked ON social_blocks (blocked_id);

CREATE TABLE social_playlists (
  owner_id          text NOT NULL,
  playlist_id       text NOT NULL,
  title             text NOT NULL,
  description       text,
  post_ids          text[] NOT NULL,
  created_event_id  text NOT NULL,
  updated_at        text NOT NULL,
  PRIMARY KEY (owner_id, playlist_id)
);

CREATE TABLE social_reports (
  report_id          text PRIMARY KEY,      -- the REPORT_FILED receipt's eventId
  reporter_id        text NOT NULL,
  target_kind        text NOT NULL,         -- post | comment | identity
  target_id          text NOT NULL,
  reason             text NOT NULL,
  note               text,
  position           bigint NOT NULL,
  created_at         text NOT NULL,
  resolved_by        text,
  resolved_action    text,
  resolved_event_id  text
);
CREATE INDEX social_reports_open ON social_reports (position) WHERE resolved_event_id IS NULL;

CREATE TABLE social_user_moderation (
  identity_id    text PRIMARY KEY,
  trusted        boolean NOT NULL DEFAULT false,
  banned         boolean NOT NULL DEFAULT false,
  banned_until   text,
  ban_reason     text,
  ban_event_id   text
);

CREATE TABLE social_notifications (
  recipient_id  text NOT NULL,
  event_id      text NOT NULL,              -- the receipt that caused it
  kind          text NOT NULL,              -- reaction | comment | reply | follow | promoted | report_resolved
  actor_id      text NOT NULL,
  post_id       text,
  comment_id    text,
  detail        text,                       -- the emoji, the promotion category, the resolution action
  position      bigint NOT NULL,
  created_at    text NOT NULL,
  PRIMARY KEY (recipient_id, event_id)
);
CREATE INDEX social_notifications_feed ON social_notifications (recipient_id, position DESC);
