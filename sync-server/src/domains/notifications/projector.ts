/**
 * The notifications projector (tail, ARCHITECTURE §7): one row per (recipient, receipt) for reactions
 * and comments on a person's posts, replies to their comments, new followers, promotions of their posts
 * and resolutions of their reports. Nobody is notified of their own act.
 *
 * The authors it notifies are read from the inline social tables (post author, comment author and
 * depth, reporter): columns no later receipt changes, written in the append transaction of a position
 * this projector has not passed yet, so they read the same whenever the batch runs — live, in a
 * rebuild of this projector alone, or of everything. After each batch it announces
 * `notifications/{recipient}` so the recipient's sync sessions on every replica push the new rows.
 */
import type { Queryable } from '../../db/projection-db.js'
import { unnestRows, type ProjectedReceipt, type Projector } from '../../projection/projector.js'
import type { ReceiptNotice } from '../../sync/notifier.js'

type Payload = Record<string, unknown>
const s = (pl: Payload, field: string): string => pl[field] as string

/** The notice stream of a recipient's notifications (never a real stream type). */
export const notificationNoticeStream = (identityId: string): string => `notifications/${identityId}`

interface Notification {
  recipient: string
  eventId: string
  kind: string
  actor: string
  postId: string | null
  commentId: string | null
  detail: string | null
  position: number
  createdAt: string
}

const NOTIFYING = new Set(['REACTION_ADDED', 'COMMENT_ADDED', 'FOLLOWED', 'POST_PROMOTED', 'REPORT_RESOLVED'])

async function authors(tx: Queryable, sql: string, ids: Set<string>): Promise<Map<string, string>> {
  if (ids.size === 0) return new Map()
  const rows = await tx.query<{ id: string; author: string }>(sql, [[...ids]])
  return new Map(rows.rows.map((r) => [r.id, r.author]))
}

/** The notifications a batch makes, in log order. */
async function notificationsOf(tx: Queryable, batch: readonly ProjectedReceipt[]): Promise<Notification[]> {
  const acts = batch.filter((p) => NOTIFYING.has(p.receipt.type))
  if (acts.length === 0) return []
  const posts = new Set<string>()
  const comments = new Set<string>()
  const reports = new Set<string>()
  for (const { receipt: r } of acts) {
    const pl = r.payload as Payload
    if (r.type === 'REACTION_ADDED' || r.type === 'COMMENT_ADDED' || r.type === 'POST_PROMOTED') posts.add(s(pl, 'postId'))
    if (r.type === 'COMMENT_ADDED' && pl.parentId !== undefined) comments.add(s(pl, 'parentId'))
    if (r.type === 'REPORT_RESOLVED') reports.add(s(pl, 'reportId'))
  }
  const postAuthors = await authors(
    tx,
    'SELECT post_id AS id, author_id AS author FROM social_posts WHERE post_id = ANY($1::text[])',
    posts,
  )
  const commentAuthors = await authors(
    tx,
    'SELECT comment_id AS id, author_id AS author FROM social_comments WHERE comment_id = ANY($1::text[])',
    comments,
  )
  const reporters = await authors(
    tx,
    'SELECT report_id AS id, reporter_id AS author FROM social_reports WHERE report_id = ANY($1::text[])',
    reports,
  )

  const out: Notification[] = []
  const seen = new Set<string>()
  const notify = (p: ProjectedReceipt, recipient: string | undefined, kind: string, extra: Partial<Notification> = {}): void => {
    const actor = p.receipt.issuer.identityId
    if (recipient === undefined || recipient === actor) return
    const key = `${recipient} ${p.receipt.eventId}`
    if (seen.has(key)) return // a reply to one's own comment on one's own post: one notification
    seen.add(key)
    out.push({
      recipient,
      eventId: p.receipt.eventId,
      kind,
      actor,
      postId: null,
      commentId: null,
      detail: null,
      position: p.position,
      createdAt: p.receipt.createdAt,
      ...extra,
    })
  }
  for (const p of acts) {
    const pl = p.receipt.payload as Payload
    switch (p.receipt.type) {
      case 'REACTION_ADDED':
        notify(p, postAuthors.get(s(pl, 'postId')), 'reaction', { postId: s(pl, 'postId'), detail: s(pl, 'emoji') })
        break
      case 'COMMENT_ADDED': {
        const at = { postId: s(pl, 'postId'), commentId: p.receipt.eventId }
        if (pl.parentId !== undefined) notify(p, commentAuthors.get(s(pl, 'parentId')), 'reply', at)
        notify(p, postAuthors.get(s(pl, 'postId')), 'comment', at)
        break
      }
      case 'FOLLOWED':
        notify(p, s(pl, 'identityId'), 'follow')
        break
      case 'POST_PROMOTED':
        notify(p, postAuthors.get(s(pl, 'postId')), 'promoted', { postId: s(pl, 'postId'), detail: s(pl, 'category') })
        break
      case 'REPORT_RESOLVED':
        notify(p, reporters.get(s(pl, 'reportId')), 'report_resolved', { detail: s(pl, 'action') })
        break
    }
  }
  return out
}

export const notificationsProjector: Projector = {
  name: 'notifications',
  mode: 'tail',
  streamTypes: ['profile', 'moderation'],
  tables: [{ name: 'social_notifications', orderBy: 'recipient_id, event_id' }],
  async apply(tx: Queryable, batch: readonly ProjectedReceipt[]): Promise<ReceiptNotice[]> {
    const rows = await notificationsOf(tx, batch)
    if (rows.length === 0) return []
    const v = unnestRows(
      [
        ['recipient_id', 'text'],
        ['event_id', 'text'],
        ['kind', 'text'],
        ['actor_id', 'text'],
        ['post_id', 'text'],
        ['comment_id', 'text'],
        ['detail', 'text'],
        ['position', 'int8'],
        ['created_at', 'text'],
      ],
      rows.map((n) => [n.recipient, n.eventId, n.kind, n.actor, n.postId, n.commentId, n.detail, n.position, n.createdAt]),
    )
    await tx.query(`INSERT INTO social_notifications (${v.names}) SELECT * FROM ${v.from}`, v.params)
    // One notice per recipient, with its newest row's size (position + 1: a notice's seq is ≥ 1).
    const last = new Map<string, number>()
    for (const n of rows) last.set(n.recipient, n.position + 1)
    return [...last].map(([recipient, seq]) => ({ stream: notificationNoticeStream(recipient), seq }))
  },
}
