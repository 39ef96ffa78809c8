-- Search and notifications became tail projectors (ARCHITECTURE §7, src/domains/search and
-- src/domains/notifications): the search columns move to search_posts, and social_notifications now
-- moves to the notifications module, whose projector catches up from offset 0.
DROP INDEX IF EXISTS social_posts_fts;
DROP INDEX IF EXISTS social_posts_trgm;
ALTER TABLE social_posts DROP COLUMN search_text, DROP COLUMN search_vector;
DROP TABLE social_notifications;
