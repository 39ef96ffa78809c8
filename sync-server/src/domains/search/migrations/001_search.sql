-- The search projector (tail): what /v1/search ranks. Visibility (deleted, hidden, taken down,
-- approval, blocks) is not copied here: the query joins the inline social_posts, so a takedown hides a
-- post from search at once, however far behind this projection is. Runs on Postgres 15 and PGlite.

CREATE TABLE search_posts (
  post_id        text PRIMARY KEY,
  title          text NOT NULL,
  description    text,
  hashtags       text[] NOT NULL,
  search_text    text NOT NULL,            -- title, description and hashtags
  search_vector  tsvector NOT NULL,        -- to_tsvector('english', search_text)
  position       bigint NOT NULL           -- of POST_PUBLISHED: the tie-break after rank
);
CREATE INDEX search_posts_fts ON search_posts USING gin (search_vector);

-- Every word any post's text ever held (to_tsvector('simple', …), unstemmed): the typo path finds the
-- words near a misspelt one here, through the trigram index, then searches search_vector for them — a
-- scan of a few thousand short words instead of every post's text. Insert-only: a word no post holds
-- any more finds nothing, which is the same answer.
CREATE TABLE search_words (
  word  text PRIMARY KEY
);
CREATE INDEX search_words_trgm ON search_words USING gin (word public.gin_trgm_ops);

-- Every hashtag ever used (lower case), for `type=hashtags`: prefix and trigram matches here, counts
-- of visible posts from social_posts' hashtag index.
CREATE TABLE search_hashtags (
  tag  text PRIMARY KEY
);
CREATE INDEX search_hashtags_trgm ON search_hashtags USING gin (tag public.gin_trgm_ops);
