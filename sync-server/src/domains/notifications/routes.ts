/**
 * `GET /v1/notifications` (session): the session's notifications, newest first, paged by a position
 * cursor. The same rows are pushed live over the sync WebSocket (docs/sync-protocol.md, "Notifications").
 */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { requireSession } from '../../auth/request-session.js'
import { awaitTail } from '../../projection/tail-freshness.js'
import { decodeCursor, encodeCursor, PageQuery, PositionCursor } from '../social/cursor.js'
import { parse } from '../social/request.js'
import { readNotifications } from './read.js'

const Page = z.strictObject(PageQuery)

export async function notificationRoutes(app: FastifyInstance): Promise<void> {
  const { db, openapi } = app.relay
  openapi.add({
    method: 'GET',
    url: '/v1/notifications',
    summary:
      "The session's notifications (reaction, comment, reply, follow, promoted, report_resolved), newest first. " +
      'The x-projection-behind header says how many receipts the notifications projection is behind the log.',
    tags: ['social'],
    auth: 'session',
    query: Page,
  })
  app.get('/v1/notifications', async (request, reply) => {
    const { limit, cursor } = parse(Page, request.query, 'query')
    const me = (await requireSession(request)).identityId
    const before = decodeCursor(PositionCursor, cursor)?.p
    await awaitTail(app.relay, reply, 'notifications')
    const items = await readNotifications(db, me, { before, limit })
    return { items, next: items.length === limit ? encodeCursor({ p: items.at(-1)!.position }) : null }
  })
}
