/**
 * The social query routes (docs/relay.md "Social queries"): feeds, posts, profiles, search,
 * notifications and the moderators' report queue, all paged with opaque cursors (limit 1–200). Profile
 * and moderation streams are public, so most routes need no session; a session makes blocks apply
 * to what it sees and shows its own reactions.
 */
import { handleKey, hashtagKey, IdSchema, PROMOTION_CATEGORIES, UlidSchema } from '@pixpax/shared'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { requireSession, sessionOf } from '../../auth/request-session.js'
import { ApiError } from '../../errors.js'
import { decodeCursor, encodeCursor, OffsetCursor, PageQuery, PositionCursor } from './cursor.js'
import {
  approvedPost,
  commentTree,
  notBlocked,
  Params,
  POST_COLUMNS,
  POST_FROM,
  postJson,
  postPage,
  PROFILE_SELECT,
  profileJson,
  visiblePost,
  type PostRow,
  type ProfileRow,
  type Viewer,
} from './read-model.js'

function parse<T extends z.ZodType>(schema: T, value: unknown, where: 'query' | 'params'): z.infer<T> {
  const parsed = schema.safeParse(value)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]!
  if (where === 'params') throw new ApiError('NOT_FOUND', `no such resource: ${issue.message}`)
  throw new ApiError('BAD_REQUEST', `query ${issue.path.join('.')}: ${issue.message}`, { path: issue.path.join('.') })
}

async function viewerOf(request: FastifyRequest): Promise<Viewer> {
  return { identityId: (await sessionOf(request))?.identityId ?? null }
}

/** Trigram threshold for "did you mean" matches (word_similarity: "dargon" in "a red dragon" is 0.29). */
const TYPO_THRESHOLD = 0.25

const Page = z.strictObject(PageQuery)
const PromotedQuery = z.strictObject({ ...PageQuery, category: z.enum(PROMOTION_CATEGORIES).optional() })
const SearchQuery = z.strictObject({
  ...PageQuery,
  q: z.string().trim().min(1).max(200),
  type: z.enum(['posts', 'users', 'hashtags']).default('posts'),
})
const ReportsQuery = z.strictObject({ ...PageQuery, status: z.enum(['open', 'resolved', 'all']).default('open') })
const PostList = z.object({ items: z.array(z.record(z.string(), z.unknown())), next: z.string().nullable() })

export async function socialRoutes(app: FastifyInstance): Promise<void> {
  const { db, config, openapi } = app.relay
  const requireApproval = config.SOCIAL_REQUIRE_APPROVAL
  const moderators = new Set(config.MODERATORS)

  const feedPage = (rows: Array<PostRow & { cursor_position?: number }>, limit: number): { items: unknown[]; next: string | null } => ({
    items: rows.map(postJson),
    next: rows.length === limit ? encodeCursor({ p: Number(rows.at(-1)!.cursor_position ?? rows.at(-1)!.position) }) : null,
  })

  /** A position-paged feed: `where(params, viewer)` narrows the visible posts. */
  function feed(
    url: string,
    summary: string,
    where: (params: Params, viewer: Viewer, request: FastifyRequest) => Promise<string> | string,
    options: { auth?: 'session'; query?: z.ZodType<{ limit: number; cursor?: string | undefined }>; order?: string; from?: string } = {},
  ): void {
    const query = options.query ?? Page
    openapi.add({
      method: 'GET',
      url,
      summary,
      tags: ['social'],
      query,
      response: PostList,
      ...(options.auth ? { auth: options.auth } : {}),
    })
    app.get(url, async (request) => {
      const { limit, cursor } = parse(query, request.query, 'query')
      const viewer = options.auth ? { identityId: (await requireSession(request)).identityId } : await viewerOf(request)
      const before = decodeCursor(PositionCursor, cursor)?.p
      const params = new Params()
      const condition = `${visiblePost(params, viewer)} AND ${await where(params, viewer, request)}`
      return feedPage(await postPage(db, params, condition, limit, before, options.order), limit)
    })
  }

  feed('/v1/feeds/recent', 'Recent posts, newest first (approved or by trusted users)', () => approvedPost(requireApproval))
  feed(
    '/v1/feeds/following',
    'Posts by the identities the session follows, newest first',
    (params, viewer) =>
      `p.author_id IN (SELECT followee_id FROM social_follows WHERE follower_id = ${params.add(viewer.identityId)}::text)`,
    { auth: 'session' },
  )
  openapi.add({
    method: 'GET',
    url: '/v1/feeds/promoted',
    summary: 'Promoted posts (optionally of one category), most recently promoted first',
    tags: ['social'],
    query: PromotedQuery,
    response: PostList,
  })
  app.get('/v1/feeds/promoted', async (request) => {
    const { limit, cursor, category } = parse(PromotedQuery, request.query, 'query')
    const viewer = await viewerOf(request)
    const before = decodeCursor(PositionCursor, cursor)?.p
    const params = new Params()
    const cat = params.add(category ?? null)
    const rows = await db.query<PostRow & { cursor_position: number }>(
      `SELECT ${POST_COLUMNS}, pr.position AS cursor_position
       FROM (SELECT post_id, max(position) AS position FROM social_promotions WHERE ${cat}::text IS NULL OR category = ${cat}::text GROUP BY post_id) pr
       JOIN ${POST_FROM} ON p.post_id = pr.post_id
       WHERE ${visiblePost(params, viewer)} AND ${before === undefined ? 'true' : `pr.position < ${params.add(before)}`}
       ORDER BY pr.position DESC LIMIT ${params.add(limit)}`,
      params.values,
    )
    return feedPage(rows.rows, limit)
  })

  const TagParams = z.object({ tag: z.string().regex(/^#?[\p{L}\p{N}_-]{1,64}$/u, 'a hashtag') })
  feed('/v1/feeds/hashtag/:tag', 'Posts with a hashtag (case-insensitive), newest first', (params, _viewer, request) => {
    const { tag } = parse(TagParams, request.params, 'params')
    return `p.hashtags @> ARRAY[${params.add(hashtagKey(tag.replace(/^#/, '')))}::text] AND ${approvedPost(requireApproval)}`
  })
  const UserParams = z.object({ identityId: IdSchema })
  feed('/v1/feeds/user/:identityId', "An identity's posts, newest first", (params, _viewer, request) => {
    const { identityId } = parse(UserParams, request.params, 'params')
    return `p.author_id = ${params.add(identityId)}::text`
  })

  const PostParams = z.object({ postId: UlidSchema })
  openapi.add({
    method: 'GET',
    url: '/v1/posts/:postId',
    summary: "A post with reaction counts per emoji, the session's own reactions and its comment tree",
    tags: ['social'],
  })
  app.get('/v1/posts/:postId', async (request) => {
    const { postId } = parse(PostParams, request.params, 'params')
    const viewer = await viewerOf(request)
    const params = new Params()
    const rows = await db.query<PostRow>(
      `SELECT ${POST_COLUMNS} FROM ${POST_FROM} WHERE p.post_id = ${params.add(postId)} AND ${visiblePost(params, viewer)}`,
      params.values,
    )
    const row = rows.rows[0]
    if (!row) throw new ApiError('NOT_FOUND', `post ${postId} does not exist or is not visible`)
    const reactions = await db.query<{ emoji: string; count: number; mine: boolean }>(
      `SELECT emoji, count(*)::int AS count, coalesce(bool_or(identity_id = $2::text), false) AS mine
       FROM social_reactions WHERE post_id = $1 GROUP BY emoji ORDER BY count(*) DESC, emoji`,
      [postId, viewer.identityId],
    )
    return {
      ...postJson(row),
      reactions: reactions.rows.map((r) => ({ emoji: r.emoji, count: r.count })),
      myReactions: reactions.rows
        .filter((r) => r.mine)
        .map((r) => r.emoji)
        .sort(),
      comments: await commentTree(db, postId, viewer),
    }
  })

  openapi.add({ method: 'GET', url: '/v1/profiles/:identityId', summary: 'A profile with follower and following counts', tags: ['social'] })
  app.get('/v1/profiles/:identityId', async (request) => {
    const { identityId } = parse(UserParams, request.params, 'params')
    const rows = await db.query<ProfileRow>(`${PROFILE_SELECT} WHERE p.identity_id = $1`, [identityId])
    if (!rows.rows[0]) throw new ApiError('NOT_FOUND', `identity ${identityId} has no profile`)
    return profileJson(rows.rows[0])
  })
  const HandleParams = z.object({ handle: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'a handle') })
  openapi.add({ method: 'GET', url: '/v1/profiles/by-handle/:handle', summary: 'A profile by handle (case-insensitive)', tags: ['social'] })
  app.get('/v1/profiles/by-handle/:handle', async (request) => {
    const { handle } = parse(HandleParams, request.params, 'params')
    const rows = await db.query<ProfileRow>(`${PROFILE_SELECT} WHERE p.handle = $1`, [handleKey(handle)])
    if (!rows.rows[0]) throw new ApiError('NOT_FOUND', `no profile has handle ${handle}`)
    return profileJson(rows.rows[0])
  })

  openapi.add({
    method: 'GET',
    url: '/v1/search',
    summary:
      'Search posts (full text with English stemming, plus trigram similarity for typos), users (handle, display name) or hashtags; ranked',
    tags: ['social'],
    query: SearchQuery,
  })
  app.get('/v1/search', async (request) => {
    const { q, type, limit, cursor } = parse(SearchQuery, request.query, 'query')
    const viewer = await viewerOf(request)
    const offset = decodeCursor(OffsetCursor, cursor)?.o ?? 0
    const params = new Params()
    const page = (): string => `LIMIT ${params.add(limit)} OFFSET ${params.add(offset)}`
    const next = (n: number): string | null => (n === limit ? encodeCursor({ o: offset + limit }) : null)
    // `<%` (word similarity above the threshold) can use the trigram indexes; the threshold is a setting.
    return db.transaction(async (tx) => {
      await tx.query(`SET LOCAL pg_trgm.word_similarity_threshold = ${TYPO_THRESHOLD}`)
      if (type === 'posts') {
        // Full text first; only a query full text finds nothing for is taken as a typo (trigram
        // similarity, every word of it nearly in the post) — the fuzzy scan is the expensive one.
        const probe = new Params()
        const exact = `p.search_vector @@ websearch_to_tsquery('english', ${probe.add(q)})`
        const found = await tx.query<{ found: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM social_posts p WHERE ${exact} AND ${visiblePost(probe, viewer)} AND ${approvedPost(requireApproval)}) AS found`,
          probe.values,
        )
        const fuzzy = found.rows[0]?.found !== true
        const raw = fuzzy ? params.add(q.toLowerCase()) : ''
        const tsq = fuzzy ? '' : params.add(q)
        const match = !fuzzy
          ? `p.search_vector @@ websearch_to_tsquery('english', ${tsq})`
          : `${raw} OPERATOR(public.<%) lower(p.search_text)
             AND NOT EXISTS (SELECT 1 FROM regexp_split_to_table(${raw}, '[[:space:]]+') w
               WHERE w <> '' AND NOT (p.search_vector @@ plainto_tsquery('english', w)
                 OR public.word_similarity(w, lower(p.search_text)) >= ${TYPO_THRESHOLD}))`
        const rank = !fuzzy
          ? `ts_rank(p.search_vector, websearch_to_tsquery('english', ${tsq}))`
          : `public.word_similarity(${raw}, lower(p.search_text))`
        // Ranked ids first (cheap columns only), then the page's posts with their counts.
        const rows = await tx.query<PostRow>(
          `WITH hits AS (
             SELECT p.post_id, ${rank} AS rank, p.position FROM social_posts p
             WHERE ${match} AND ${visiblePost(params, viewer)} AND ${approvedPost(requireApproval)}
             ORDER BY rank DESC, p.position DESC ${page()}
           )
           SELECT ${POST_COLUMNS} FROM hits h JOIN ${POST_FROM} ON p.post_id = h.post_id ORDER BY h.rank DESC, h.position DESC`,
          params.values,
        )
        return { items: rows.rows.map(postJson), next: next(rows.rows.length) }
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
      const tag = params.add(hashtagKey(q.replace(/^#/, '')))
      const rows = await tx.query<{ tag: string; posts: number }>(
        `SELECT t.tag, count(*)::int AS posts FROM ${POST_FROM}, unnest(p.hashtags) AS t(tag)
         WHERE (t.tag LIKE replace(replace(${tag}::text, '_', '\\_'), '%', '\\%') || '%' OR public.similarity(t.tag, ${tag}::text) >= ${TYPO_THRESHOLD})
           AND ${visiblePost(params, viewer)} AND ${approvedPost(requireApproval)}
         GROUP BY t.tag ORDER BY (t.tag = ${tag}::text) DESC, max(public.similarity(t.tag, ${tag}::text)) DESC, count(*) DESC, t.tag ${page()}`,
        params.values,
      )
      return { items: rows.rows.map((r) => ({ hashtag: r.tag, posts: r.posts })), next: next(rows.rows.length) }
    })
  })

  openapi.add({
    method: 'GET',
    url: '/v1/notifications',
    summary: "The session's notifications (reaction, comment, reply, follow, promoted, report_resolved), newest first",
    tags: ['social'],
    auth: 'session',
    query: Page,
  })
  app.get('/v1/notifications', async (request) => {
    const { limit, cursor } = parse(Page, request.query, 'query')
    const me = (await requireSession(request)).identityId
    const before = decodeCursor(PositionCursor, cursor)?.p
    const params = new Params()
    const rows = await db.query<{
      event_id: string
      kind: string
      actor_id: string
      handle: string | null
      post_id: string | null
      comment_id: string | null
      detail: string | null
      position: number
      created_at: string
    }>(
      `SELECT n.event_id, n.kind, n.actor_id, a.handle_display AS handle, n.post_id, n.comment_id, n.detail, n.position, n.created_at
       FROM social_notifications n LEFT JOIN social_profiles a ON a.identity_id = n.actor_id
       WHERE n.recipient_id = ${params.add(me)}::text AND ${notBlocked(params, me, 'n.actor_id')}
         AND (n.post_id IS NULL OR EXISTS (SELECT 1 FROM social_posts p WHERE p.post_id = n.post_id AND NOT p.deleted AND NOT p.hidden AND NOT p.taken_down))
         AND ${before === undefined ? 'true' : `n.position < ${params.add(before)}`}
       ORDER BY n.position DESC LIMIT ${params.add(limit)}`,
      params.values,
    )
    return {
      items: rows.rows.map((n) => ({
        eventId: n.event_id,
        kind: n.kind,
        actor: { identityId: n.actor_id, handle: n.handle },
        postId: n.post_id,
        commentId: n.comment_id,
        detail: n.detail,
        createdAt: n.created_at,
      })),
      next: rows.rows.length === limit ? encodeCursor({ p: rows.rows.at(-1)!.position }) : null,
    }
  })

  openapi.add({
    method: 'GET',
    url: '/v1/moderation/reports',
    summary: 'Reports for moderators (open by default), oldest first',
    tags: ['moderation'],
    auth: 'session',
    query: ReportsQuery,
  })
  app.get('/v1/moderation/reports', async (request) => {
    const { limit, cursor, status } = parse(ReportsQuery, request.query, 'query')
    const me = (await requireSession(request)).identityId
    if (!moderators.has(me)) throw new ApiError('FORBIDDEN', `identity ${me} is not a moderator of this relay`)
    const after = decodeCursor(PositionCursor, cursor)?.p
    const params = new Params()
    const state = status === 'open' ? 'resolved_event_id IS NULL' : status === 'resolved' ? 'resolved_event_id IS NOT NULL' : 'true'
    const rows = await db.query<Record<string, unknown> & { position: number }>(
      `SELECT report_id, reporter_id, target_kind, target_id, reason, note, position, created_at, resolved_by, resolved_action, resolved_event_id
       FROM social_reports WHERE ${state} AND ${after === undefined ? 'true' : `position > ${params.add(after)}`}
       ORDER BY position LIMIT ${params.add(limit)}`,
      params.values,
    )
    return {
      items: rows.rows.map((r) => ({
        reportId: r.report_id,
        reporter: r.reporter_id,
        target: { [r.target_kind === 'identity' ? 'identityId' : `${String(r.target_kind)}Id`]: r.target_id },
        reason: r.reason,
        note: r.note,
        createdAt: r.created_at,
        resolution: r.resolved_event_id ? { by: r.resolved_by, action: r.resolved_action, eventId: r.resolved_event_id } : null,
      })),
      next: rows.rows.length === limit ? encodeCursor({ p: rows.rows.at(-1)!.position }) : null,
    }
  })
}
