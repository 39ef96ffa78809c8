/**
 * The social query routes (docs/relay.md "Social queries"): feeds, posts, profiles and the moderators'
 * report queue (search and notifications live in src/domains/search and src/domains/notifications), all
 * paged with opaque cursors (limit 1–200). Profile and moderation streams are public, so most routes need no session; a session makes blocks apply
 * to what it sees and shows its own reactions.
 */
import { handleKey, hashtagKey, IdSchema, PROMOTION_CATEGORIES, UlidSchema } from '@pixpax/shared'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { requireSession } from '../../auth/request-session.js'
import { ApiError } from '../../errors.js'
import { decodeCursor, encodeCursor, PageQuery, PositionCursor } from './cursor.js'
import {
  approvedPost,
  commentTree,
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
import { parse, viewerOf } from './request.js'

const Page = z.strictObject(PageQuery)
const PromotedQuery = z.strictObject({ ...PageQuery, category: z.enum(PROMOTION_CATEGORIES).optional() })
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
      return feedPage(await postPage(db, params, condition, limit, before, options.order, options.from), limit)
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
  // From the tag's index in log order (social_post_tags), each post checked for visibility: a page
  // reads about its own rows.
  feed(
    '/v1/feeds/hashtag/:tag',
    'Posts with a hashtag (case-insensitive), newest first',
    (params, _viewer, request) => {
      const { tag } = parse(TagParams, request.params, 'params')
      return `t.tag = ${params.add(hashtagKey(tag.replace(/^#/, '')))}::text AND ${approvedPost(requireApproval)}`
    },
    { order: 't.position', from: 'social_post_tags t JOIN social_posts p ON p.post_id = t.post_id' },
  )
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

  // Public, as the moderation streams are: players drop taken-down posts from their channels (docs/player.md).
  openapi.add({
    method: 'GET',
    url: '/v1/moderation/takedowns',
    summary: 'Posts moderators took down, in log order of the posts',
    tags: ['moderation'],
    query: Page,
  })
  app.get('/v1/moderation/takedowns', async (request) => {
    const { limit, cursor } = parse(Page, request.query, 'query')
    const after = decodeCursor(PositionCursor, cursor)?.p
    const params = new Params()
    const rows = await db.query<{ post_id: string; position: number }>(
      `SELECT post_id, position FROM social_posts WHERE taken_down AND ${after === undefined ? 'true' : `position > ${params.add(after)}`}
       ORDER BY position LIMIT ${params.add(limit)}`,
      params.values,
    )
    return {
      items: rows.rows.map((r) => ({ postId: r.post_id })),
      next: rows.rows.length === limit ? encodeCursor({ p: Number(rows.rows.at(-1)!.position) }) : null,
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
