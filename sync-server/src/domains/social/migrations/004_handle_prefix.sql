-- Users search (src/domains/search/routes.ts): handles that start with the query come first, in handle
-- order, from this index (C collation: a range scan in byte order, whatever the database's collation);
-- the rest of a page comes from trigram nearest-neighbour scans (GiST answers ORDER BY distance LIMIT n
-- from the index; GIN would rank every profile sharing a trigram — all of them, when every handle
-- starts with `user_`).
CREATE INDEX social_profiles_handle_prefix ON social_profiles (handle COLLATE "C");
CREATE INDEX social_profiles_handle_gist ON social_profiles USING gist (handle public.gist_trgm_ops);
CREATE INDEX social_profiles_name_gist ON social_profiles USING gist (lower(coalesce(display_name, '')) public.gist_trgm_ops);
DROP INDEX IF EXISTS social_profiles_handle_trgm;
DROP INDEX IF EXISTS social_profiles_name_trgm;
