/**
 * A recipient's notifications as the HTTP route and the sync WebSocket serve them: newest first before
 * a position (the route's pages), or oldest first after one (live pushes). A blocked party's
 * notifications and those about a post no longer visible are left out when read, not when written.
 */
import type { Queryable } from '../../db/projection-db.js'
import { notBlocked, Params } from '../social/read-model.js'

export interface NotificationJson {
  eventId: string
  kind: string
  actor: { identityId: string; handle: string | null }
  postId: string | null
  commentId: string | null
  detail: string | null
  createdAt: string
  /** The log position of the receipt that caused it: the cursor of live delivery. */
  position: number
}

export async function readNotifications(
  db: Queryable,
  recipient: string,
  range: { before: number | undefined; limit: number } | { after: number; limit: number },
): Promise<NotificationJson[]> {
  const params = new Params()
  const where =
    'after' in range
      ? `n.position > ${params.add(range.after)}`
      : range.before === undefined
        ? 'true'
        : `n.position < ${params.add(range.before)}`
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
     WHERE n.recipient_id = ${params.add(recipient)}::text AND ${notBlocked(params, recipient, 'n.actor_id')}
       AND (n.post_id IS NULL OR EXISTS (SELECT 1 FROM social_posts p WHERE p.post_id = n.post_id AND NOT p.deleted AND NOT p.hidden AND NOT p.taken_down))
       AND ${where}
     ORDER BY n.position ${'after' in range ? 'ASC' : 'DESC'} LIMIT ${params.add(range.limit)}`,
    params.values,
  )
  return rows.rows.map((n) => ({
    eventId: n.event_id,
    kind: n.kind,
    actor: { identityId: n.actor_id, handle: n.handle },
    postId: n.post_id,
    commentId: n.comment_id,
    detail: n.detail,
    createdAt: n.created_at,
    position: n.position,
  }))
}
