-- The takedown sweep (src/domains/social/takedowns.ts) runs after every moderation batch and at start-up:
-- a partial index keeps it to the taken-down posts instead of a scan of every post.
CREATE INDEX social_posts_taken_down ON social_posts (media_hash) WHERE taken_down;
CREATE INDEX social_posts_media ON social_posts (media_hash);
