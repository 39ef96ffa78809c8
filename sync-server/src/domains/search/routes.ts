/**
 * `GET /v1/search?q=&type=posts|users|hashtags` (docs/relay.md "Social queries"): ranked, paged with an
 * opaque offset cursor. Posts: Postgres full text (`websearch_to_tsquery`, English stemming) on the
 * search projection, ranked by ts_rank; only when that finds nothing is the query taken as misspelt —
 * each of its words is replaced by the indexed words nearest to it (trigram similarity over
 * search_words) and the post text is searched for those. Users: trigram similarity on handles and
 * display names (the inline profiles). Hashtags: prefix or trigram matches, counted over visible posts.
 * Visibility is always the inline social_posts' (deleted, hidden, taken down, approval, blocks).
 */
import { hashtagKey } from '@pixpax/shared'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { awaitTail } from '../../projection/tail-freshness.js'
import { decodeCursor, encodeCursor, OffsetCursor, PageQuery } from '../social/cursor.js'
import {
  approvedPost,
  notBlocked,
  Params,
  POST_COLUMNS,
  POST_FROM,
  postJson,
  PROFILE_SELECT,
  profileJson,
  visiblePost,
} from '../social/read-model.js'
import type { PostRow, ProfileRow } from '../social/read-model.js'
import { parse, viewerOf } from '../social/request.js'

/** Trigram threshold for "did you mean" matches ("dargon" and "dragon" are 0.27 apart by similarity). */
const TYPO_THRESHOLD = 0.25
/** Indexed words tried in place of one misspelt word. */
const TYPO_ALTERNATIVES = 5

const SearchQuery = z.strictObject({
  ...PageQuery,
  q: z.string().trim().min(1).max(200),
  type: z.enum(['posts', 'users', 'hashtags']).default('posts'),
})

/**
 * A tsquery for a misspelt query `$q` (SQL, NULL when some word has no near indexed word): every
 * non-stop-word of it becomes `(alt1 | alt2 | …)` of the nearest indexed words, stemmed, ANDed. The
 * alternatives are stemmed lexemes already, so the text is cast to tsquery without normalizing again.
 */
function typoQuery(q: string): string {
  return `(WITH qw AS (
      SELECT w, n FROM regexp_split_to_table(lower(${q}::text), '[^[:alnum:]]+') WITH ORDINALITY AS t(w, n)
      WHERE w <> '' AND plainto_tsquery('english', w)::text <> ''
    ), alts AS (
      SELECT qw.n, string_agg(DISTINCT plainto_tsquery('english', c.word)::text, ' | ') AS alt
      FROM qw CROSS JOIN LATERAL (
        SELECT s.word FROM search_words s WHERE s.word OPERATOR(public.%) qw.w
        ORDER BY public.similarity(s.word, qw.w) DESC, s.word LIMIT ${TYPO_ALTERNATIVES}
      ) c
      WHERE plainto_tsquery('english', c.word)::text <> ''
      GROUP BY qw.n
    )
    SELECT CASE WHEN count(*) > 0 AND count(*) = (SELECT count(*) FROM qw)
      THEN string_agg('(' || alt || ')', ' & ')::tsquery END FROM alts)`
}

export async function searchRoutes(app: FastifyInstance): Promise<void> {
  const { db, config, openapi } = app.relay
  const requireApproval = config.SOCIAL_REQUIRE_APPROVAL

  openapi.add({
    method: 'GET',
    url: '/v1/search',
    summary:
      'Search posts (full text with English stemming, plus trigram similarity for typos), users (handle, display name) or hashtags; ranked. ' +
      'The x-projection-behind header says how many receipts the search projection is behind the log.',
    tags: ['social'],
    query: SearchQuery,
  })
  app.get('/v1/search', async (request, reply) => {
    const { q, type, limit, cursor } = parse(SearchQuery, request.query, 'query')
    const viewer = await viewerOf(request)
    const at = decodeCursor(OffsetCursor, cursor)
    const offset = at?.o ?? 0
    if (type !== 'users') await awaitTail(app.relay, reply, 'search')
    const params = new Params()
    const page = (): string => `LIMIT ${params.add(limit)} OFFSET ${params.add(offset)}`
    const next = (n: number, typo = false): string | null =>
      n === limit ? encodeCursor({ o: offset + limit, ...(typo ? { t: 1 as const } : {}) }) : null
    return db.transaction(async (tx) => {
      // `%` and `<%` (similarity above the threshold) use the trigram indexes; the thresholds are settings.
      await tx.query(
        `SELECT set_config('pg_trgm.similarity_threshold', '${TYPO_THRESHOLD}', true), set_config('pg_trgm.word_similarity_threshold', '${TYPO_THRESHOLD}', true)`,
      )
      if (type === 'posts') {
        // Ranked ids first (cheap columns only), then the page's posts with their counts.
        const ranked = (tsquery: string, ps: Params, pageSql: string): Promise<{ rows: PostRow[] }> =>
          tx.query<PostRow>(
            `WITH tq AS (SELECT ${tsquery} AS q),
             hits AS (
               SELECT s.post_id, ts_rank(s.search_vector, tq.q) AS rank, s.position
               FROM tq, search_posts s JOIN social_posts p ON p.post_id = s.post_id
               WHERE s.search_vector @@ tq.q AND ${visiblePost(ps, viewer)} AND ${approvedPost(requireApproval)}
               ORDER BY rank DESC, s.position DESC ${pageSql}
             )
             SELECT ${POST_COLUMNS} FROM hits h JOIN ${POST_FROM} ON p.post_id = h.post_id ORDER BY h.rank DESC, h.position DESC`,
            ps.values,
          )
        // Full text first; only a query it finds nothing for is taken as misspelt (and its next pages say so).
        if (!at?.t) {
          const exact = await ranked(`websearch_to_tsquery('english', ${params.add(q)})`, params, page())
          if (exact.rows.length > 0 || offset > 0) return { items: exact.rows.map(postJson), next: next(exact.rows.length) }
        }
        const typo = new Params()
        const rows = await ranked(typoQuery(typo.add(q)), typo, `LIMIT ${typo.add(limit)} OFFSET ${typo.add(offset)}`)
        return { items: rows.rows.map(postJson), next: next(rows.rows.length, true) }
      }
      if (type === 'users') {
        const raw = params.add(q.toLowerCase())
        const blocked = viewer.identityId ? notBlocked(params, viewer.identityId, 'p.identity_id') : 'true'
        const rows = await tx.query<ProfileRow>(
          `SELECT * FROM (${PROFILE_SELECT}
             WHERE (${raw} OPERATOR(public.<%) p.handle OR ${raw} OPERATOR(public.<%) lower(coalesce(p.display_name, '')))
               AND ${blocked}) u
           ORDER BY greatest(public.word_similarity(${raw}, u.handle_display), public.word_similarity(${raw}, lower(coalesce(u.display_name, '')))) DESC,
             u.identity_id ${page()}`,
          params.values,
        )
        return { items: rows.rows.map(profileJson), next: next(rows.rows.length) }
      }
      // Hashtags ever used that start with the query or are near it, each counted over the visible posts.
      const tag = params.add(hashtagKey(q.replace(/^#/, '')))
      const rows = await tx.query<{ tag: string; posts: number }>(
        `SELECT * FROM (
           SELECT t.tag, (SELECT count(*)::int FROM ${POST_FROM} WHERE p.hashtags @> ARRAY[t.tag]
               AND ${visiblePost(params, viewer)} AND ${approvedPost(requireApproval)}) AS posts,
             public.similarity(t.tag, ${tag}::text) AS sim
           FROM search_hashtags t
           WHERE t.tag LIKE replace(replace(${tag}::text, '_', '\\_'), '%', '\\%') || '%' OR t.tag OPERATOR(public.%) ${tag}::text
         ) c WHERE c.posts > 0
         ORDER BY (c.tag = ${tag}::text) DESC, c.sim DESC, c.posts DESC, c.tag ${page()}`,
        params.values,
      )
      return { items: rows.rows.map((r) => ({ hashtag: r.tag, posts: r.posts })), next: next(rows.rows.length) }
    })
  })
}
