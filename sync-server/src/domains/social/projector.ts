/**
 * The social projector (inline): what the social rules read at acceptance (through loaders.ts) and
 * what the feed, post, profile and moderation routes serve (read-your-writes: one's own post is in one's
 * feed when the push is answered). Search and notifications are derived views that tail the log
 * (src/domains/search, src/domains/notifications). Each batch is folded per row in memory, then written table by table in a
 * fixed order — inserts before the updates that may name them — so a batch gives exactly the rows that
 * its receipts applied one by one would (the rules guarantee no receipt names a row a later one creates).
 */
import { handleKey, hashtagKey, type MediaRef, type ReportTarget } from '@pixpax/shared'
import type { Queryable } from '../../db/projection-db.js'
import { lastByKey, unnestRows, type ProjectedReceipt, type Projector } from '../../projection/projector.js'

type Payload = Record<string, unknown>

/** A text field of a payload (validated by its schema in shared before any receipt gets here). */
const s = (pl: Payload, field: string): string => pl[field] as string
const opt = <T>(pl: Payload, field: string): T | null => (pl[field] === undefined ? null : (pl[field] as T))

interface PostEdit {
  postId: string
  title: string | null
  description: string | null
  hashtags: string[] | null
  license: string | null
  remixOf: string[] | null
  remixable: boolean | null
  editedAt: string | null
  deleted: boolean
  hidden: boolean | null
  takedownReason: string | null
  approved: boolean
}

interface Presence {
  a: string
  b: string
  c?: string
  present: boolean
}

const SOCIAL_TABLES = [
  { name: 'social_profiles', orderBy: 'identity_id' },
  { name: 'social_posts', orderBy: 'post_id' },
  { name: 'social_post_tags', orderBy: 'tag, position' },
  { name: 'social_promotions', orderBy: 'post_id, category' },
  { name: 'social_reactions', orderBy: 'post_id, identity_id, emoji' },
  { name: 'social_comments', orderBy: 'comment_id' },
  { name: 'social_follows', orderBy: 'follower_id, followee_id' },
  { name: 'social_blocks', orderBy: 'blocker_id, blocked_id' },
  { name: 'social_playlists', orderBy: 'owner_id, playlist_id' },
  { name: 'social_reports', orderBy: 'report_id' },
  { name: 'social_user_moderation', orderBy: 'identity_id' },
]

async function lookup(tx: Queryable, sql: string, ids: Set<string>): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>()
  if (ids.size === 0) return out
  const rows = await tx.query<Record<string, unknown> & { id: string }>(sql, [[...ids]])
  for (const row of rows.rows) out.set(row.id, row)
  return out
}

export const socialProjector: Projector = {
  name: 'social',
  mode: 'inline',
  tables: SOCIAL_TABLES,
  async apply(tx: Queryable, batch: readonly ProjectedReceipt[]): Promise<void> {
    const social = batch.filter((p) => p.receipt.stream.type === 'profile' || p.receipt.stream.type === 'moderation')
    if (social.length === 0) return

    const profiles = new Map<string, { first: ProjectedReceipt; last: ProjectedReceipt }>()
    const posts: ProjectedReceipt[] = []
    const edits = new Map<string, PostEdit>()
    const promotions = new Map<string, unknown[]>()
    const reactions: Presence[] = []
    const comments: ProjectedReceipt[] = []
    const deletedComments = new Set<string>()
    const follows: Presence[] = []
    const blocks: Presence[] = []
    const playlists: unknown[][] = []
    const playlistUpdates = new Map<
      string,
      { owner: string; id: string; title: string | null; description: string | null; postIds: string[]; at: string }
    >()
    const reports: unknown[][] = []
    const resolutions = new Map<string, unknown[]>()
    const moderation = new Map<string, { trusted: boolean; ban?: { until: string | null; reason: string; eventId: string } }>()

    const edit = (postId: string): PostEdit => {
      let e = edits.get(postId)
      if (!e) {
        e = {
          postId,
          title: null,
          description: null,
          hashtags: null,
          license: null,
          remixOf: null,
          remixable: null,
          editedAt: null,
          deleted: false,
          hidden: null,
          takedownReason: null,
          approved: false,
        }
        edits.set(postId, e)
      }
      return e
    }
    const user = (identityId: string): { trusted: boolean; ban?: { until: string | null; reason: string; eventId: string } } => {
      let u = moderation.get(identityId)
      if (!u) moderation.set(identityId, (u = { trusted: false }))
      return u
    }

    for (const p of social) {
      const r = p.receipt
      const pl = r.payload as Payload
      const actor = r.issuer.identityId
      switch (r.type) {
        case 'PROFILE_UPDATED': {
          const entry = profiles.get(actor)
          profiles.delete(actor)
          profiles.set(actor, { first: entry?.first ?? p, last: p })
          break
        }
        case 'POST_PUBLISHED':
          posts.push(p)
          break
        case 'POST_EDITED': {
          const e = edit(s(pl, 'postId'))
          e.title = opt<string>(pl, 'title') ?? e.title
          e.description = opt<string>(pl, 'description') ?? e.description
          const tags = opt<string[]>(pl, 'hashtags')
          if (tags) e.hashtags = [...new Set(tags.map(hashtagKey))]
          e.license = opt<string>(pl, 'license') ?? e.license
          e.remixOf = opt<string[]>(pl, 'remixOf') ?? e.remixOf
          e.remixable = opt<boolean>(pl, 'remixable') ?? e.remixable
          e.editedAt = r.createdAt
          break
        }
        case 'POST_DELETED':
          edit(s(pl, 'postId')).deleted = true
          break
        case 'POST_HIDDEN':
        case 'POST_UNHIDDEN':
          edit(s(pl, 'postId')).hidden = r.type === 'POST_HIDDEN'
          break
        case 'POST_TAKEN_DOWN':
          edit(s(pl, 'postId')).takedownReason = s(pl, 'reason')
          break
        case 'POST_APPROVED':
          edit(s(pl, 'postId')).approved = true
          break
        case 'POST_PROMOTED': {
          const key = `${s(pl, 'postId')} ${s(pl, 'category')}`
          if (!promotions.has(key)) promotions.set(key, [s(pl, 'postId'), s(pl, 'category'), p.position])
          break
        }
        case 'REACTION_ADDED':
        case 'REACTION_REMOVED':
          reactions.push({ a: s(pl, 'postId'), b: actor, c: s(pl, 'emoji'), present: r.type === 'REACTION_ADDED' })
          break
        case 'COMMENT_ADDED':
          comments.push(p)
          break
        case 'COMMENT_DELETED':
          deletedComments.add(s(pl, 'commentId'))
          break
        case 'FOLLOWED':
        case 'UNFOLLOWED':
          follows.push({ a: actor, b: s(pl, 'identityId'), present: r.type === 'FOLLOWED' })
          break
        case 'BLOCKED':
        case 'UNBLOCKED':
          blocks.push({ a: actor, b: s(pl, 'identityId'), present: r.type === 'BLOCKED' })
          break
        case 'PLAYLIST_CREATED':
          playlists.push([actor, s(pl, 'playlistId'), s(pl, 'title'), opt(pl, 'description'), pl.postIds, r.eventId, r.createdAt])
          break
        case 'PLAYLIST_UPDATED': {
          const key = `${actor} ${s(pl, 'playlistId')}`
          const prev = playlistUpdates.get(key)
          playlistUpdates.set(key, {
            owner: actor,
            id: s(pl, 'playlistId'),
            title: opt<string>(pl, 'title') ?? prev?.title ?? null,
            description: opt<string>(pl, 'description') ?? prev?.description ?? null,
            postIds: pl.postIds as string[],
            at: r.createdAt,
          })
          break
        }
        case 'REPORT_FILED': {
          const target = pl.target as ReportTarget
          const [kind, id] =
            'postId' in target
              ? ['post', target.postId]
              : 'commentId' in target
                ? ['comment', target.commentId]
                : ['identity', target.identityId]
          reports.push([r.eventId, actor, kind, id, s(pl, 'reason'), opt(pl, 'note'), p.position, r.createdAt])
          break
        }
        case 'REPORT_RESOLVED':
          resolutions.delete(s(pl, 'reportId'))
          resolutions.set(s(pl, 'reportId'), [s(pl, 'reportId'), actor, s(pl, 'action'), r.eventId])
          break
        case 'USER_TRUSTED':
          user(s(pl, 'identityId')).trusted = true
          break
        case 'USER_BANNED':
          user(s(pl, 'identityId')).ban = { until: opt<string>(pl, 'until'), reason: s(pl, 'reason'), eventId: r.eventId }
          break
      }
    }

    // A reply's depth is its parent's + 1: parents from this batch first, then stored rows.
    const commentDepths = new Map<string, number>()
    const needComments = new Set<string>()
    const inBatch = new Set(comments.map((p) => p.receipt.eventId))
    for (const p of comments) {
      const parentId = (p.receipt.payload as Payload).parentId as string | undefined
      if (parentId !== undefined && !inBatch.has(parentId)) needComments.add(parentId)
    }
    const storedComments = await lookup(
      tx,
      'SELECT comment_id AS id, depth FROM social_comments WHERE comment_id = ANY($1::text[])',
      needComments,
    )
    for (const [id, row] of storedComments) commentDepths.set(id, row.depth as number)
    const commentRows: unknown[][] = []
    for (const p of comments) {
      const r = p.receipt
      const pl = r.payload as Payload
      const parentId = opt<string>(pl, 'parentId')
      const depth = parentId === null ? 0 : (commentDepths.get(parentId) ?? 0) + 1
      commentDepths.set(r.eventId, depth)
      commentRows.push([r.eventId, s(pl, 'postId'), r.issuer.identityId, parentId, depth, s(pl, 'body'), p.position, r.createdAt])
    }

    if (profiles.size) {
      const v = unnestRows(
        [
          ['identity_id', 'text'],
          ['handle', 'text'],
          ['handle_display', 'text'],
          ['display_name', 'text'],
          ['bio', 'text'],
          ['avatar_hash', 'text'],
          ['website', 'text'],
          ['created_event_id', 'text'],
          ['created_position', 'int8'],
          ['updated_at', 'text'],
        ],
        [...profiles.values()].map(({ first, last }) => {
          const pl = last.receipt.payload as Payload
          return [
            last.receipt.issuer.identityId,
            handleKey(s(pl, 'handle')),
            s(pl, 'handle'),
            opt(pl, 'displayName'),
            opt(pl, 'bio'),
            opt(pl, 'avatarHash'),
            opt(pl, 'website'),
            first.receipt.eventId,
            first.position,
            last.receipt.createdAt,
          ]
        }),
      )
      // A PROFILE_UPDATED states the whole profile: an optional field it leaves out is cleared.
      await tx.query(
        `INSERT INTO social_profiles (${v.names}) SELECT * FROM ${v.from}
         ON CONFLICT (identity_id) DO UPDATE SET handle = EXCLUDED.handle, handle_display = EXCLUDED.handle_display,
           display_name = EXCLUDED.display_name, bio = EXCLUDED.bio, avatar_hash = EXCLUDED.avatar_hash,
           website = EXCLUDED.website, updated_at = EXCLUDED.updated_at`,
        v.params,
      )
    }
    if (posts.length) {
      const v = unnestRows(
        [
          ['post_id', 'text'],
          ['author_id', 'text'],
          ['title', 'text'],
          ['description', 'text'],
          ['hashtags', 'jsonb'],
          ['license', 'text'],
          ['remix_of', 'jsonb'],
          ['remixable', 'bool'],
          ['media_hash', 'text'],
          ['mime', 'text'],
          ['width', 'int4'],
          ['height', 'int4'],
          ['frames', 'int4'],
          ['position', 'int8'],
          ['created_at', 'text'],
        ],
        posts.map(({ receipt: r, position }) => {
          const pl = r.payload as Payload
          const media = pl.media as MediaRef
          const tags = [...new Set(((pl.hashtags as string[] | undefined) ?? []).map(hashtagKey))]
          const remixOf = opt<string[]>(pl, 'remixOf')
          return [
            r.eventId,
            r.issuer.identityId,
            s(pl, 'title'),
            opt(pl, 'description'),
            JSON.stringify(tags),
            opt(pl, 'license'),
            remixOf === null ? null : JSON.stringify(remixOf),
            opt(pl, 'remixable'),
            media.hash,
            media.mime,
            media.width,
            media.height,
            media.frames,
            position,
            r.createdAt,
          ]
        }),
      )
      await tx.query(
        `INSERT INTO social_posts (post_id, author_id, title, description, hashtags, license, remix_of, remixable, media_hash,
           mime, width, height, frames, position, created_at)
         SELECT post_id, author_id, title, description, ARRAY(SELECT jsonb_array_elements_text(v.hashtags)), license,
           CASE WHEN remix_of IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(remix_of)) END,
           remixable, media_hash, mime, width, height, frames, position, created_at
         FROM ${v.from}`,
        v.params,
      )
    }
    if (commentRows.length) {
      const v = unnestRows(
        [
          ['comment_id', 'text'],
          ['post_id', 'text'],
          ['author_id', 'text'],
          ['parent_id', 'text'],
          ['depth', 'int4'],
          ['body', 'text'],
          ['position', 'int8'],
          ['created_at', 'text'],
        ],
        commentRows,
      )
      await tx.query(`INSERT INTO social_comments (${v.names}) SELECT * FROM ${v.from}`, v.params)
    }
    if (edits.size) {
      const v = unnestRows(
        [
          ['post_id', 'text'],
          ['title', 'text'],
          ['description', 'text'],
          ['hashtags', 'jsonb'],
          ['license', 'text'],
          ['remix_of', 'jsonb'],
          ['remixable', 'bool'],
          ['edited_at', 'text'],
          ['deleted', 'bool'],
          ['hidden', 'bool'],
          ['takedown_reason', 'text'],
          ['approved', 'bool'],
        ],
        [...edits.values()].map((e) => [
          e.postId,
          e.title,
          e.description,
          e.hashtags === null ? null : JSON.stringify(e.hashtags),
          e.license,
          e.remixOf === null ? null : JSON.stringify(e.remixOf),
          e.remixable,
          e.editedAt,
          e.deleted,
          e.hidden,
          e.takedownReason,
          e.approved,
        ]),
      )
      await tx.query(
        `UPDATE social_posts p SET
           title = coalesce(n.title, p.title),
           description = coalesce(n.description, p.description),
           hashtags = coalesce(n.tags, p.hashtags),
           license = coalesce(n.license, p.license),
           remix_of = coalesce(n.remix, p.remix_of),
           remixable = coalesce(n.remixable, p.remixable),
           edited_at = coalesce(n.edited_at, p.edited_at),
           deleted = p.deleted OR n.deleted,
           hidden = coalesce(n.hidden, p.hidden),
           taken_down = p.taken_down OR n.takedown_reason IS NOT NULL,
           takedown_reason = coalesce(n.takedown_reason, p.takedown_reason),
           approved = p.approved OR n.approved
         FROM (
           SELECT v.*,
             CASE WHEN v.hashtags IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(v.hashtags)) END AS tags,
             CASE WHEN v.remix_of IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(v.remix_of)) END AS remix
           FROM ${v.from}
         ) n
         WHERE p.post_id = n.post_id`,
        v.params,
      )
    }
    // The hashtag feed's index (social_post_tags): the final tags of every post published, or whose tags
    // an edit replaced, in this batch — after the inserts and updates above, from social_posts itself.
    const retagged = [
      ...posts.map((p) => p.receipt.eventId),
      ...[...edits.values()].filter((e) => e.hashtags !== null).map((e) => e.postId),
    ]
    if (retagged.length) {
      await tx.query('DELETE FROM social_post_tags WHERE post_id = ANY($1::text[])', [retagged])
      await tx.query(
        `INSERT INTO social_post_tags (tag, position, post_id)
         SELECT DISTINCT unnest(p.hashtags), p.position, p.post_id FROM social_posts p WHERE p.post_id = ANY($1::text[])`,
        [retagged],
      )
    }
    if (promotions.size) {
      const v = unnestRows(
        [
          ['post_id', 'text'],
          ['category', 'text'],
          ['position', 'int8'],
        ],
        [...promotions.values()],
      )
      await tx.query(`INSERT INTO social_promotions (${v.names}) SELECT * FROM ${v.from} ON CONFLICT DO NOTHING`, v.params)
    }
    await writePresence(tx, 'social_reactions', ['post_id', 'identity_id', 'emoji'], reactions)
    if (deletedComments.size) {
      await tx.query('UPDATE social_comments SET deleted = true WHERE comment_id = ANY($1::text[])', [[...deletedComments]])
    }
    await writePresence(tx, 'social_follows', ['follower_id', 'followee_id'], follows)
    await writePresence(tx, 'social_blocks', ['blocker_id', 'blocked_id'], blocks)
    if (playlists.length) {
      const v = unnestRows(
        [
          ['owner_id', 'text'],
          ['playlist_id', 'text'],
          ['title', 'text'],
          ['description', 'text'],
          ['post_ids', 'jsonb'],
          ['created_event_id', 'text'],
          ['updated_at', 'text'],
        ],
        playlists.map((row) => row.map((x, i) => (i === 4 ? JSON.stringify(x) : x))),
      )
      await tx.query(
        `INSERT INTO social_playlists (owner_id, playlist_id, title, description, post_ids, created_event_id, updated_at)
         SELECT owner_id, playlist_id, title, description, ARRAY(SELECT jsonb_array_elements_text(post_ids)), created_event_id, updated_at
         FROM ${v.from}`,
        v.params,
      )
    }
    if (playlistUpdates.size) {
      const v = unnestRows(
        [
          ['owner_id', 'text'],
          ['playlist_id', 'text'],
          ['title', 'text'],
          ['description', 'text'],
          ['post_ids', 'jsonb'],
          ['updated_at', 'text'],
        ],
        [...playlistUpdates.values()].map((u) => [u.owner, u.id, u.title, u.description, JSON.stringify(u.postIds), u.at]),
      )
      await tx.query(
        `UPDATE social_playlists p SET title = coalesce(v.title, p.title), description = coalesce(v.description, p.description),
           post_ids = ARRAY(SELECT jsonb_array_elements_text(v.post_ids)), updated_at = v.updated_at
         FROM ${v.from} WHERE p.owner_id = v.owner_id AND p.playlist_id = v.playlist_id`,
        v.params,
      )
    }
    if (reports.length) {
      const v = unnestRows(
        [
          ['report_id', 'text'],
          ['reporter_id', 'text'],
          ['target_kind', 'text'],
          ['target_id', 'text'],
          ['reason', 'text'],
          ['note', 'text'],
          ['position', 'int8'],
          ['created_at', 'text'],
        ],
        reports,
      )
      await tx.query(`INSERT INTO social_reports (${v.names}) SELECT * FROM ${v.from}`, v.params)
    }
    if (resolutions.size) {
      const v = unnestRows(
        [
          ['report_id', 'text'],
          ['resolved_by', 'text'],
          ['resolved_action', 'text'],
          ['resolved_event_id', 'text'],
        ],
        [...resolutions.values()],
      )
      await tx.query(
        `UPDATE social_reports r SET resolved_by = v.resolved_by, resolved_action = v.resolved_action, resolved_event_id = v.resolved_event_id
         FROM ${v.from} WHERE r.report_id = v.report_id`,
        v.params,
      )
    }
    if (moderation.size) {
      const v = unnestRows(
        [
          ['identity_id', 'text'],
          ['trusted', 'bool'],
          ['banned', 'bool'],
          ['banned_until', 'text'],
          ['ban_reason', 'text'],
          ['ban_event_id', 'text'],
        ],
        [...moderation.entries()].map(([id, u]) => [id, u.trusted, u.ban !== undefined, u.ban?.until, u.ban?.reason, u.ban?.eventId]),
      )
      await tx.query(
        `INSERT INTO social_user_moderation (${v.names}) SELECT * FROM ${v.from}
         ON CONFLICT (identity_id) DO UPDATE SET
           trusted = social_user_moderation.trusted OR EXCLUDED.trusted,
           banned = social_user_moderation.banned OR EXCLUDED.banned,
           banned_until = CASE WHEN EXCLUDED.banned THEN EXCLUDED.banned_until ELSE social_user_moderation.banned_until END,
           ban_reason = CASE WHEN EXCLUDED.banned THEN EXCLUDED.ban_reason ELSE social_user_moderation.ban_reason END,
           ban_event_id = CASE WHEN EXCLUDED.banned THEN EXCLUDED.ban_event_id ELSE social_user_moderation.ban_event_id END`,
        v.params,
      )
    }
  },
}

/** A set of relation rows folded to their final presence: removed ones deleted, present ones inserted. */
async function writePresence(tx: Queryable, table: string, columns: readonly string[], changes: readonly Presence[]): Promise<void> {
  if (changes.length === 0) return
  const final = [...lastByKey(changes, (c) => `${c.a} ${c.b} ${c.c ?? ''}`).values()]
  const rows = (present: boolean): unknown[][] =>
    final.filter((c) => c.present === present).map((c) => [c.a, c.b, c.c].slice(0, columns.length))
  const typed = columns.map((name) => [name, 'text'] as const)
  const gone = rows(false)
  if (gone.length) {
    const v = unnestRows(typed, gone)
    await tx.query(`DELETE FROM ${table} t USING ${v.from} WHERE ${columns.map((c) => `t.${c} = v.${c}`).join(' AND ')}`, v.params)
  }
  const added = rows(true)
  if (added.length) {
    const v = unnestRows(typed, added)
    await tx.query(`INSERT INTO ${table} (${v.names}) SELECT * FROM ${v.from} ON CONFLICT DO NOTHING`, v.params)
  }
}
