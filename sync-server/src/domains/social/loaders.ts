/**
 * The social facts (shared/src/domains/social.ts, SOCIAL_FACTS) as the relay loads them: each an SQL
 * expression giving a json array of {"k", "v"} for the keys bound as one text[] parameter, read from the
 * inline projection the same append transaction keeps. A value here must equal what the rule's `record`
 * would have made of the same receipts (a rebuild and an offline replay decide the same).
 */
import { MEDIA_FACT, SOCIAL_FACTS } from '@pixpax/shared'
import type { FactLoader } from '../modules.js'

const agg = (select: string): string => `(SELECT coalesce(json_agg(json_build_object('k', f.k, 'v', f.v)), '[]'::json) FROM (${select}) f)`

/** Keys `${a} ${b}` joined to a two-column relation table (ids never contain a space). */
const pairKeys = (param: number, table: string, a: string, b: string, value: string): string =>
  agg(
    `SELECT k, ${value} AS v FROM unnest($${param}::text[]) k JOIN ${table} t ON t.${a} = split_part(k, ' ', 1) AND t.${b} = split_part(k, ' ', 2)`,
  )

export const SOCIAL_FACT_LOADERS: Readonly<Record<string, FactLoader>> = {
  [SOCIAL_FACTS.profile]: {
    sql: (n) =>
      agg(`SELECT p.identity_id AS k, json_build_object('handle', p.handle,
             'following', (SELECT count(*) FROM social_follows x WHERE x.follower_id = p.identity_id),
             'blocking', (SELECT count(*) FROM social_blocks x WHERE x.blocker_id = p.identity_id)) AS v
           FROM social_profiles p WHERE p.identity_id = ANY($${n}::text[])`),
  },
  [SOCIAL_FACTS.handle]: {
    sql: (n) => agg(`SELECT handle AS k, to_json(identity_id) AS v FROM social_profiles WHERE handle = ANY($${n}::text[])`),
  },
  [SOCIAL_FACTS.post]: {
    sql: (n) =>
      agg(`SELECT p.post_id AS k, json_build_object('author', p.author_id, 'deleted', p.deleted,
             'comments', (SELECT count(*) FROM social_comments c WHERE c.post_id = p.post_id AND NOT c.deleted)) AS v
           FROM social_posts p WHERE p.post_id = ANY($${n}::text[])`),
  },
  [SOCIAL_FACTS.comment]: {
    sql: (n) =>
      agg(`SELECT comment_id AS k, json_build_object('postId', post_id, 'author', author_id, 'depth', depth, 'deleted', deleted) AS v
           FROM social_comments WHERE comment_id = ANY($${n}::text[])`),
  },
  [SOCIAL_FACTS.reactions]: {
    sql: (n) =>
      agg(`SELECT k, json_agg(t.emoji ORDER BY t.emoji COLLATE "C") AS v FROM unnest($${n}::text[]) k
           JOIN social_reactions t ON t.identity_id = split_part(k, ' ', 1) AND t.post_id = split_part(k, ' ', 2) GROUP BY k`),
  },
  [SOCIAL_FACTS.follow]: { sql: (n) => pairKeys(n, 'social_follows', 'follower_id', 'followee_id', 'to_json(true)') },
  [SOCIAL_FACTS.block]: { sql: (n) => pairKeys(n, 'social_blocks', 'blocker_id', 'blocked_id', 'to_json(true)') },
  [SOCIAL_FACTS.playlist]: { sql: (n) => pairKeys(n, 'social_playlists', 'owner_id', 'playlist_id', 'to_json(true)') },
  [SOCIAL_FACTS.report]: {
    sql: (n) =>
      agg(
        `SELECT report_id AS k, json_build_object('reporter', reporter_id) AS v FROM social_reports WHERE report_id = ANY($${n}::text[])`,
      ),
  },
  [SOCIAL_FACTS.ban]: {
    sql: (n) =>
      agg(`SELECT identity_id AS k, json_build_object('until', banned_until) AS v FROM social_user_moderation
           WHERE banned AND identity_id = ANY($${n}::text[])`),
  },
  // Relay-sourced: the media module's validated blobs (a taken-down or corrupt blob is no longer held).
  [MEDIA_FACT]: {
    sql: (n) =>
      agg(`SELECT hash AS k, json_build_object('mime', mime, 'width', width, 'height', height, 'frames', frames) AS v
           FROM media_blobs WHERE status = 'ok' AND hash = ANY($${n}::text[])`),
  },
}
