-- GIN's fast update keeps new entries in a pending list (up to gin_pending_list_limit, 4 MB) that every
-- query scans whole until a vacuum merges it: after a burst of posts a hashtag feed read 492 pending
-- pages for a tag no post has (7 ms instead of 0.1). Feeds are read far more often than posts are
-- written, so new entries go straight into the index; the existing list is merged now.
ALTER INDEX social_posts_hashtags SET (fastupdate = off);
SELECT gin_clean_pending_list('social_posts_hashtags'::regclass);
