/**
 * View counts (docs/player.md "Views"), read from the `device_views` projection:
 *
 * - `GET /v1/devices/:deviceIdentityId/views` (an owner's session of the account the device is paired
 *   with): the device's total, its counts per post (or per artwork, for art from a static list) and its
 *   most recent views.
 * - `GET /v1/posts/:postId/views` (anyone, like reaction counts): how many views the post has across all
 *   players, and on how many players.
 *
 * `GET /v1/devices` (device-routes.ts) carries each device's total as `views`.
 */
import { IdSchema, UlidSchema } from '@pixpax/shared'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { requireSession } from '../../auth/request-session.js'
import { ApiError } from '../../errors.js'
import { parseParams } from '../../routes/parse.js'

/** Recent views returned per device. */
const RECENT_VIEWS = 50
/** Per-post rows returned per device (most viewed first). */
const TOP_POSTS = 500

const DeviceParams = z.object({ deviceIdentityId: IdSchema })
const PostParams = z.object({ postId: UlidSchema })

export async function deviceViewRoutes(app: FastifyInstance): Promise<void> {
  const { db, openapi } = app.relay

  openapi.add({
    method: 'GET',
    url: '/v1/devices/:deviceIdentityId/views',
    summary: "A paired device's view counts: total, per post (or artwork) and its latest views",
    tags: ['devices'],
    auth: 'session',
  })
  app.get('/v1/devices/:deviceIdentityId/views', async (request) => {
    const session = await requireSession(request)
    const { deviceIdentityId } = parseParams(DeviceParams, request)
    const paired = await db.query('SELECT 1 FROM device_pairings WHERE device_identity_id = $1 AND account_id = $2', [
      deviceIdentityId,
      session.accountId,
    ])
    // The same answer for "not yours" and "no such device": an owner learns nothing about other accounts.
    if (paired.rowCount === 0) throw new ApiError('NOT_FOUND', `device ${deviceIdentityId} is not paired with account ${session.accountId}`)
    const [total, posts, recent] = await Promise.all([
      db.query<{ n: number; unsynced: number }>(
        'SELECT count(*)::int AS n, count(*) FILTER (WHERE clock_unsynced)::int AS unsynced FROM device_views WHERE device_identity_id = $1',
        [deviceIdentityId],
      ),
      db.query<{ post_id: string | null; artwork: string; n: number; last: string }>(
        `SELECT post_id, artwork, count(*)::int AS n, max(viewed_at) AS last FROM device_views WHERE device_identity_id = $1
          GROUP BY post_id, artwork ORDER BY count(*) DESC, max(viewed_at_ms) DESC LIMIT ${TOP_POSTS}`,
        [deviceIdentityId],
      ),
      db.query<{ post_id: string | null; artwork: string; viewed_at: string; channel: string | null; clock_unsynced: boolean }>(
        `SELECT post_id, artwork, viewed_at, channel, clock_unsynced FROM device_views WHERE device_identity_id = $1
          ORDER BY viewed_at_ms DESC LIMIT ${RECENT_VIEWS}`,
        [deviceIdentityId],
      ),
    ])
    return {
      deviceIdentityId,
      views: total.rows[0]!.n,
      clockUnsyncedViews: total.rows[0]!.unsynced,
      posts: posts.rows.map((r) => ({ postId: r.post_id, artwork: r.artwork, views: r.n, lastViewedAt: r.last })),
      recent: recent.rows.map((r) => ({
        postId: r.post_id,
        artwork: r.artwork,
        viewedAt: r.viewed_at,
        channel: r.channel,
        clockUnsynced: r.clock_unsynced,
      })),
    }
  })

  openapi.add({
    method: 'GET',
    url: '/v1/posts/:postId/views',
    summary: 'How many times players showed a post, and on how many players',
    tags: ['devices'],
  })
  app.get('/v1/posts/:postId/views', async (request) => {
    const { postId } = parseParams(PostParams, request)
    const post = await db.query('SELECT 1 FROM social_posts WHERE post_id = $1', [postId])
    if (post.rowCount === 0) throw new ApiError('NOT_FOUND', `post ${postId} does not exist`)
    const rows = await db.query<{ n: number; devices: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT device_identity_id)::int AS devices FROM device_views WHERE post_id = $1',
      [postId],
    )
    return { postId, views: rows.rows[0]!.n, devices: rows.rows[0]!.devices }
  })
}
