-- Search reads a bounded window of candidates in log order (src/domains/search/routes.ts): the newest
-- matches come from this index (read backwards, each checked against the tsvector) when the words are
-- common, or from the GIN index when they are rare — the planner picks by the lexeme statistics — so a
-- word in 13% of posts no longer ranks every one of its matches.
CREATE INDEX search_posts_position ON search_posts (position);

-- Weighted vectors: a word in the title (A) ranks above one in the hashtags (B), above one in the
-- description (D). The same expression as the projector's (projector.ts, SEARCH_VECTOR), so rows this
-- rewrites equal the ones a rebuild writes.
UPDATE search_posts SET search_vector =
  setweight(to_tsvector('english', title), 'A')
  || setweight(to_tsvector('english', array_to_string(hashtags, ' ')), 'B')
  || setweight(to_tsvector('english', coalesce(description, '')), 'D');
