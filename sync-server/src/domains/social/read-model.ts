/**
 * The social read model: SQL over the social projection for feeds, posts, profiles, search,
 * notifications and reports. Visibility is decided here once, for every list: deleted, hidden and
 * taken-down posts never appear; a block hides each party's posts, comments and notifications from the
 * other; new users' posts stay out of Recent, hashtag feeds and search until a moderator approves the
 * post or trusts its author (unless the relay turns approval off).
 */
import type { Queryable } from '../../db/projection-db.js'

/** SQL parameters, numbered as they are added. */
export class Params {
  readonly values: unknown[] = []
  add(value: unknown): string {
    this.values.push(value)
    return `$${this.values.length}`
  }
}

export interface Viewer {
  /** The session's identity, if any (block filtering, own reactions). */
  readonly identityId: string | null
}

/** Posts a viewer may see at all (alias `p`). */
export function visiblePost(params: Params, viewer: Viewer): string {
  const base = 'NOT p.deleted AND NOT p.hidden AND NOT p.taken_down'
  if (!viewer.identityId) return base
  return `${base} AND ${notBlocked(params, viewer.identityId, 'p.author_id')}`
}

/** Neither `viewer` blocks `other` nor `other` blocks `viewer`. */
export function notBlocked(params: Params, viewer: string, other: string): string {
  const v = params.add(viewer)
  return `NOT EXISTS (SELECT 1 FROM social_blocks b WHERE (b.blocker_id = ${v}::text AND b.blocked_id = ${other})
            OR (b.blocker_id = ${other} AND b.blocked_id = ${v}::text))`
}

/**
 * Posts approved for public lists (alias `p`): approved, or by a trusted author. A scalar subquery (one
 * primary-key probe per post the list reads) rather than EXISTS, which the planner turns into a hash of
 * every trusted identity built before the first row (2.4 ms at 10k users, growing with them, for a page
 * of 50); `count` (a count over every post of a tag) keeps the hash, cheaper there than a probe per post.
 */
export function approvedPost(requireApproval: boolean, count = false): string {
  if (!requireApproval) return 'true'
  if (count) return `(p.approved OR EXISTS (SELECT 1 FROM social_user_moderation u WHERE u.identity_id = p.author_id AND u.trusted))`
  return `(p.approved OR coalesce((SELECT u.trusted FROM social_user_moderation u WHERE u.identity_id = p.author_id), false))`
}

/** The select list of a post as the routes return it (alias `p`, author profile `a`). */
export const POST_COLUMNS = `p.post_id, p.author_id, a.handle_display AS author_handle, a.display_name AS author_display_name,
  p.title, p.description, p.hashtags, p.license, p.remix_of, p.remixable, p.media_hash, p.mime, p.width, p.height, p.frames,
  p.position, p.created_at, p.edited_at, p.approved,
  (SELECT count(*)::int FROM social_reactions r WHERE r.post_id = p.post_id) AS reaction_count,
  (SELECT count(*)::int FROM social_comments c WHERE c.post_id = p.post_id AND NOT c.deleted) AS comment_count`

export const POST_FROM = 'social_posts p LEFT JOIN social_profiles a ON a.identity_id = p.author_id'

export interface PostRow {
  post_id: string
  author_id: string
  author_handle: string | null
  author_display_name: string | null
  title: string
  description: string | null
  hashtags: string[]
  license: string | null
  remix_of: string[] | null
  remixable: boolean | null
  media_hash: string
  mime: string
  width: number
  height: number
  frames: number
  position: number
  created_at: string
  edited_at: string | null
  approved: boolean
  reaction_count: number
  comment_count: number
}

export function postJson(row: PostRow): Record<string, unknown> {
  return {
    postId: row.post_id,
    author: { identityId: row.author_id, handle: row.author_handle, displayName: row.author_display_name },
    title: row.title,
    description: row.description,
    hashtags: row.hashtags,
    license: row.license,
    remixOf: row.remix_of ?? [],
    remixable: row.remixable,
    media: {
      hash: row.media_hash,
      mime: row.mime,
      width: row.width,
      height: row.height,
      frames: row.frames,
      url: `/v1/media/sha256/${row.media_hash.slice(7)}`,
    },
    createdAt: row.created_at,
    editedAt: row.edited_at,
    approved: row.approved,
    reactionCount: row.reaction_count,
    commentCount: row.comment_count,
  }
}

/** A page of posts: `where` (alias p, over `from`) newest first by `order` from before `before` (a log position). */
export async function postPage(
  db: Queryable,
  params: Params,
  where: string,
  limit: number,
  before: number | undefined,
  order = 'p.position',
  from = 'social_posts p',
): Promise<PostRow[]> {
  const beforeSql = before === undefined ? 'true' : `${order} < ${params.add(before)}`
  // The page's ids first, then their columns: the reaction and comment counts of POST_COLUMNS are
  // computed for the page only, not for every candidate a sort reads (1,600 posts of a mid-frequency tag).
  const rows = await db.query<PostRow>(
    `SELECT ${POST_COLUMNS}, h.cursor_position FROM (
       SELECT p.post_id, ${order} AS cursor_position FROM ${from} WHERE ${where} AND ${beforeSql}
       ORDER BY ${order} DESC LIMIT ${params.add(limit)}
     ) h JOIN ${POST_FROM} ON p.post_id = h.post_id
     ORDER BY h.cursor_position DESC`,
    params.values,
  )
  return rows.rows
}

export interface CommentNode {
  commentId: string
  author: { identityId: string; handle: string | null }
  body: string | null
  deleted: boolean
  createdAt: string
  replies: CommentNode[]
}

/** A post's comments as a tree (depth ≤ 2), oldest first; comments of blocked parties left out with their replies. */
export async function commentTree(db: Queryable, postId: string, viewer: Viewer): Promise<CommentNode[]> {
  const params = new Params()
  const p = params.add(postId)
  const blocked = viewer.identityId ? notBlocked(params, viewer.identityId, 'c.author_id') : 'true'
  const rows = await db.query<{
    comment_id: string
    parent_id: string | null
    author_id: string
    handle: string | null
    body: string
    deleted: boolean
    created_at: string
  }>(
    `SELECT c.comment_id, c.parent_id, c.author_id, a.handle_display AS handle, c.body, c.deleted, c.created_at
     FROM social_comments c LEFT JOIN social_profiles a ON a.identity_id = c.author_id
     WHERE c.post_id = ${p} AND ${blocked} ORDER BY c.position`,
    params.values,
  )
  const nodes = new Map<string, CommentNode>()
  const roots: CommentNode[] = []
  for (const r of rows.rows) {
    const node: CommentNode = {
      commentId: r.comment_id,
      author: { identityId: r.author_id, handle: r.handle },
      body: r.deleted ? null : r.body,
      deleted: r.deleted,
      createdAt: r.created_at,
      replies: [],
    }
    nodes.set(r.comment_id, node)
    if (r.parent_id === null) roots.push(node)
    else nodes.get(r.parent_id)?.replies.push(node) // a parent left out takes its replies with it
  }
  return roots
}

export interface ProfileRow {
  identity_id: string
  handle_display: string
  display_name: string | null
  bio: string | null
  avatar_hash: string | null
  website: string | null
  updated_at: string
  followers: number
  following: number
  posts: number
  trusted: boolean | null
  banned: boolean | null
}

export const PROFILE_SELECT = `SELECT p.identity_id, p.handle_display, p.display_name, p.bio, p.avatar_hash, p.website,
    p.updated_at,
    (SELECT count(*)::int FROM social_follows f WHERE f.followee_id = p.identity_id) AS followers,
    (SELECT count(*)::int FROM social_follows f WHERE f.follower_id = p.identity_id) AS following,
    (SELECT count(*)::int FROM social_posts x WHERE x.author_id = p.identity_id AND NOT x.deleted AND NOT x.hidden AND NOT x.taken_down) AS posts,
    m.trusted, m.banned
  FROM social_profiles p
  LEFT JOIN social_user_moderation m ON m.identity_id = p.identity_id`

export function profileJson(row: ProfileRow): Record<string, unknown> {
  return {
    identityId: row.identity_id,
    handle: row.handle_display,
    displayName: row.display_name,
    bio: row.bio,
    avatarHash: row.avatar_hash,
    website: row.website,
    updatedAt: row.updated_at,
    followers: row.followers,
    following: row.following,
    posts: row.posts,
    trusted: row.trusted === true,
    banned: row.banned === true,
  }
}
