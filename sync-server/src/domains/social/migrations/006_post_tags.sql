-- The hashtag feed reads a tag's posts newest first straight from this index (tag, log position), so a
-- page reads about its 50 rows however many posts carry the tag; the GIN index on social_posts.hashtags
-- had to fetch and sort every post of a mid-frequency tag (1,600 of them: 13 ms) to find the newest 50.
-- Kept by the social projector with social_posts (a post's final tags after each batch).
CREATE TABLE social_post_tags (
  tag       text NOT NULL,                -- lower case, as social_posts.hashtags
  position  bigint NOT NULL,              -- the post's log position (feed order)
  post_id   text NOT NULL,
  PRIMARY KEY (tag, position)
);
CREATE INDEX social_post_tags_post ON social_post_tags (post_id);
INSERT INTO social_post_tags (tag, position, post_id)
SELECT DISTINCT unnest(hashtags), position, post_id FROM social_posts;
