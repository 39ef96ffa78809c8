import websocket from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'
import { upgradeRequired } from '../errors.js'
import { LogProofs } from '../log/log-proofs.js'
import { CheckpointFeed } from './checkpoint-feed.js'
import { NoticeRouter } from './notice-router.js'
import { SYNC_LIMITS, SyncSession } from './sync-session.js'

/** `GET /v1/sync`: the sync protocol over WebSocket (docs/sync-protocol.md). */
export async function syncRoutes(app: FastifyInstance): Promise<void> {
  // Frames over maxPayload are refused by ws itself with close code 1009 ("message too big").
  await app.register(websocket, { options: { maxPayload: SYNC_LIMITS.maxMessageBytes } })
  app.relay.openapi.add({
    method: 'GET',
    url: '/v1/sync',
    summary: 'WebSocket upgrade: the sync protocol (docs/sync-protocol.md)',
    tags: ['sync'],
  })
  // One proof source and one checkpoint watcher for every session of this relay.
  const proofs = new LogProofs(app.relay)
  const feed = new CheckpointFeed(
    proofs,
    app.relay.notifier,
    (error) => app.log.error({ err: error }, 'reading the checkpoint failed'),
    app.relay.config.SYNC_CHECKPOINT_INTERVAL_MS,
  )
  const notices = new NoticeRouter(app.relay.notifier)
  app.addHook('onClose', async () => {
    feed.close()
    notices.close()
  })
  app.route({
    method: 'GET',
    url: '/v1/sync',
    handler: async () => {
      throw upgradeRequired('/v1/sync')
    },
    wsHandler: (socket, request) => {
      new SyncSession(socket, request, app.relay, { proofs, feed, notices })
    },
  })
}
