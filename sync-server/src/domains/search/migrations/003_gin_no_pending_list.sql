-- As social's 005: no GIN pending list for the search indexes, which every query would scan whole
-- until a vacuum merged it; entries go straight into the index and the existing lists are merged now.
ALTER INDEX search_posts_fts SET (fastupdate = off);
ALTER INDEX search_words_trgm SET (fastupdate = off);
ALTER INDEX search_hashtags_trgm SET (fastupdate = off);
SELECT gin_clean_pending_list('search_posts_fts'::regclass), gin_clean_pending_list('search_words_trgm'::regclass),
  gin_clean_pending_list('search_hashtags_trgm'::regclass);
