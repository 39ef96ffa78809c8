/**
 * `GET /v1/search?q=&type=posts|users|hashtags` (docs/relay.md "Social queries"): ranked, paged with an
 * opaque offset cursor, every query bounded by construction (no query ranks every match of a common word):
 * - posts: Postgres full text (`websearch_to_tsquery`, English stemming, weighted title > hashtags >
 *   description) on the search projection, ranked by ts_rank within windows of the newest
 *   `SEARCH_WINDOW` (500) visible matches (log order), window after window; only when that finds nothing is the
 *   query taken as misspelt — each of its words is replaced by the indexed words nearest to it (trigram
 *   similarity over search_words) and the post text is searched for those.
 * - users: handles starting with the query first (handle order, a btree range), then the profiles
 *   nearest to it by trigram word similarity of handle or display name (GiST nearest-neighbour scans).
 * - hashtags: prefix or trigram matches, counted over visible posts.
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
import type { Queryable } from '../../db/projection-db.js'
import type { PostRow, ProfileRow, Viewer } from '../social/read-model.js'
import { parse, viewerOf } from '../social/request.js'

/** Trigram threshold for "did you mean" matches ("dargon" and "dragon" are 0.27 apart by similarity). */
const TYPO_THRESHOLD = 0.25
/** Indexed words tried in place of one misspelt word. */
const TYPO_ALTERNATIVES = 5
/** Handles are `[a-z0-9_-]` case-folded; in byte order every one of those sorts below `~`. */
const HANDLE_QUERY = /^[a-z0-9_-]+$/

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

interface WindowRow extends PostRow {
  window_size: number
  window_low: number | null
  window_high: number | null
  search_rank: number | null
}

/**
 * One slice of a search window: the newest `window` (SEARCH_WINDOW, 500) visible matches of `tsquery` below log
 * position `top` (none: the newest), ranked by ts_rank then position; `skip` and `take` pick the slice.
 * Answers the window's size and position range with the slice (one row with null post columns when
 * the slice is empty).
 */
async function windowSlice(
  tx: Queryable,
  window: number,
  tsquery: string,
  viewer: Viewer,
  requireApproval: boolean,
  top: number | undefined,
  skip: number,
  take: number,
): Promise<{ rows: PostRow[]; size: number; low: number | null; high: number | null }> {
  const ps = new Params()
  const q = ps.add(tsquery)
  const below = top === undefined ? '' : `AND s.position < ${ps.add(top)}`
  const result = await tx.query<WindowRow>(
    `WITH cand AS MATERIALIZED (
       SELECT s.post_id, s.position, ts_rank(s.search_vector, ${q}::tsquery) AS rank
       FROM search_posts s JOIN social_posts p ON p.post_id = s.post_id
       WHERE s.search_vector @@ ${q}::tsquery ${below} AND ${visiblePost(ps, viewer)} AND ${approvedPost(requireApproval)}
       ORDER BY s.position DESC LIMIT ${ps.add(window)}
     ), stats AS (
       SELECT count(*)::int AS window_size, min(position) AS window_low, max(position) AS window_high FROM cand
     ), slice AS (
       SELECT post_id, rank, position FROM cand ORDER BY rank DESC, position DESC LIMIT ${ps.add(take)} OFFSET ${ps.add(skip)}
     )
     SELECT st.window_size, st.window_low, st.window_high, x.* FROM stats st LEFT JOIN LATERAL (
       SELECT ${POST_COLUMNS}, h.rank AS search_rank, h.position AS search_position
       FROM slice h JOIN ${POST_FROM} ON p.post_id = h.post_id
     ) x ON true
     ORDER BY x.search_rank DESC, x.search_position DESC`,
    ps.values,
  )
  const first = result.rows[0]!
  return {
    rows: result.rows.filter((r) => r.post_id !== null),
    size: first.window_size,
    low: first.window_low === null ? null : Number(first.window_low),
    high: first.window_high === null ? null : Number(first.window_high),
  }
}

export async function searchRoutes(app: FastifyInstance): Promise<void> {
  const { db, config, openapi } = app.relay
  const requireApproval = config.SOCIAL_REQUIRE_APPROVAL
  /**
   * Posts search ranks within windows of this many matches, newest first: reading the newest matches is
   * an index scan in log order (common words) or a GIN lookup (rare ones), so a page costs about a
   * window whatever the word's frequency, instead of ranking all 13,000 posts holding a common word.
   */
  const window = config.SEARCH_WINDOW

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
        // Window after window until the page is full: a page that ends a window goes on in the next.
        const search = async (tsquery: string, typo: boolean): Promise<{ items: PostRow[]; next: string | null; none: boolean }> => {
          const items: PostRow[] = []
          const cursorOf = (w: number, o: number): string => encodeCursor({ o, w, ...(typo ? { t: 1 as const } : {}) })
          let top = at?.w
          let skip = offset
          for (let first = true; ; first = false) {
            const slice = await windowSlice(tx, window, tsquery, viewer, requireApproval, top, skip, limit - items.length)
            items.push(...slice.rows)
            const none = first && top === undefined && slice.size === 0
            if (skip + slice.rows.length < slice.size)
              return { items, next: cursorOf(top ?? slice.high! + 1, skip + slice.rows.length), none }
            // This window is used up; a full one may have older matches below it.
            if (slice.size < window || slice.low === null) return { items, next: null, none }
            top = slice.low
            skip = 0
            if (items.length === limit) return { items, next: cursorOf(top, 0), none }
          }
        }
        // Each tsquery is bound as a constant, so the planner sees its lexemes (and their frequencies) and
        // reads the newest matches of a common word in log order, of a rare one from the GIN index.
        if (at?.t !== 1) {
          const exact = (await tx.query<{ q: string }>(`SELECT websearch_to_tsquery('english', $1)::text AS q`, [q])).rows[0]!.q
          const found = exact === '' ? undefined : await search(exact, false)
          // Full text finds nothing: the query is taken as misspelt (and its next pages say so).
          if (found && (!found.none || at !== undefined)) return { items: found.items.map(postJson), next: found.next }
        }
        const t = new Params()
        const typoText = (await tx.query<{ q: string | null }>(`SELECT ${typoQuery(t.add(q))}::text AS q`, t.values)).rows[0]!.q
        if (!typoText) return { items: [], next: null }
        const found = await search(typoText, true)
        return { items: found.items.map(postJson), next: found.next }
      }
      if (type === 'users') {
        const key = q.toLowerCase()
        const handleRange = HANDLE_QUERY.test(key)
        const range = (ps: Params): string => {
          const k = ps.add(key)
          return `(p.handle COLLATE "C" >= ${k}::text AND p.handle COLLATE "C" < ${k}::text || '~')`
        }
        const blocked = (ps: Params): string => (viewer.identityId ? notBlocked(ps, viewer.identityId, 'p.identity_id') : 'true')
        const ids: string[] = []
        let phase: 'prefix' | 'near' = at?.t === 1 || !handleRange ? 'near' : 'prefix'
        let skip = offset
        if (phase === 'prefix') {
          // Handles starting with the query, in handle order (the exact handle first): an index range.
          const ps = new Params()
          const found = await tx.query<{ identity_id: string }>(
            `SELECT p.identity_id FROM social_profiles p WHERE ${range(ps)} AND ${blocked(ps)}
             ORDER BY p.handle COLLATE "C" LIMIT ${ps.add(limit)} OFFSET ${ps.add(skip)}`,
            ps.values,
          )
          ids.push(...found.rows.map((r) => r.identity_id))
          if (ids.length === limit) return { items: await profilesOf(tx, ids), next: encodeCursor({ o: offset + limit }) }
          phase = 'near'
          skip = 0
        }
        // The rest: nearest by trigram word similarity of handle or display name, each list read in
        // distance order from its GiST index (the merged top n is within each list's top n).
        const ps = new Params()
        const k = ps.add(key)
        const n = ps.add(skip + limit - ids.length)
        const notPrefix = handleRange ? `NOT ${range(ps)}` : 'true'
        const near = (column: string): string =>
          `(SELECT p.identity_id, ${column} OPERATOR(public.<->>) ${k}::text AS d FROM social_profiles p
            WHERE ${notPrefix} AND ${blocked(ps)} ORDER BY ${column} OPERATOR(public.<->>) ${k}::text LIMIT ${n})`
        const found = await tx.query<{ identity_id: string }>(
          `SELECT identity_id FROM (${near('p.handle')} UNION ALL ${near("lower(coalesce(p.display_name, ''))")}) c
           GROUP BY identity_id HAVING min(d) <= ${1 - TYPO_THRESHOLD}
           ORDER BY min(d), identity_id LIMIT ${ps.add(limit - ids.length)} OFFSET ${ps.add(skip)}`,
          ps.values,
        )
        const want = limit - ids.length
        ids.push(...found.rows.map((r) => r.identity_id))
        const more = found.rows.length
        return { items: await profilesOf(tx, ids), next: more === want ? encodeCursor({ o: skip + more, t: 1 }) : null }
      }
      // Hashtags ever used that start with the query or are near it, each counted over the visible posts.
      const tag = params.add(hashtagKey(q.replace(/^#/, '')))
      const rows = await tx.query<{ tag: string; posts: number }>(
        // Materialized: each tag's count is computed once (inlined, the filter and the sort each ran it).
        `WITH c AS MATERIALIZED (
           SELECT t.tag, (SELECT count(*)::int FROM social_posts p WHERE p.hashtags @> ARRAY[t.tag]
               AND ${visiblePost(params, viewer)} AND ${approvedPost(requireApproval, true)}) AS posts,
             public.similarity(t.tag, ${tag}::text) AS sim
           FROM search_hashtags t
           WHERE t.tag LIKE replace(replace(${tag}::text, '_', '\\_'), '%', '\\%') || '%' OR t.tag OPERATOR(public.%) ${tag}::text
         )
         SELECT tag, posts FROM c WHERE c.posts > 0
         ORDER BY (c.tag = ${tag}::text) DESC, c.sim DESC, c.posts DESC, c.tag ${page()}`,
        params.values,
      )
      return { items: rows.rows.map((r) => ({ hashtag: r.tag, posts: r.posts })), next: next(rows.rows.length) }
    })
  })
}

/** The profiles of `ids`, in that order. */
async function profilesOf(tx: Queryable, ids: readonly string[]): Promise<Record<string, unknown>[]> {
  if (ids.length === 0) return []
  const rows = await tx.query<ProfileRow>(`${PROFILE_SELECT} WHERE p.identity_id = ANY($1::text[])`, [ids])
  const byId = new Map(rows.rows.map((r) => [r.identity_id, r]))
  return ids.flatMap((id) => {
    const row = byId.get(id)
    return row ? [profileJson(row)] : []
  })
}
