import websocket from '@fastify/websocket'
import { SYNC_CLOSE } from '@pixpax/shared'
import type { FastifyInstance } from 'fastify'
import { upgradeRequired } from '../errors.js'
import { LogProofs } from '../log/log-proofs.js'
import { CheckpointFeed } from './checkpoint-feed.js'
import { NoticeRouter } from './notice-router.js'
import { SYNC_LIMITS, SyncSession } from './sync-session.js'

/**
 * How long a closing relay waits for a sync client to answer its close frame before dropping the socket.
 * ws waits for the answer without limit when the close frame itself cannot be written (a client that
 * stopped reading with the socket's buffer full), and the HTTP server's close waits for every socket, so
 * one such client held a relay's shutdown (SIGTERM, a test's close) for good.
 */
/** How long a closing relay waits for HTTP requests under way before it drops their connections. */
export const HTTP_SHUTDOWN_GRACE_MS = 5_000
export const SYNC_SHUTDOWN_GRACE_MS = 1_000

/** `GET /v1/sync`: the sync protocol over WebSocket (docs/sync-protocol.md). */
export async function syncRoutes(app: FastifyInstance): Promise<void> {
  // Registered before @fastify/websocket's own preClose (which closes every client without a code), so the
  // clients learn it is a shutdown (1001 "going away"); whoever has not answered within the grace is dropped.
  app.addHook('preClose', async () => {
    const clients = [...app.websocketServer.clients]
    if (clients.length > 0) app.log.info({ clients: clients.length }, 'closing sync connections')
    for (const client of clients) {
      client.close(SYNC_CLOSE.SHUTDOWN, 'relay shutting down')
      setTimeout(() => client.terminate(), SYNC_SHUTDOWN_GRACE_MS).unref()
    }
    // Any other connection still open after HTTP_SHUTDOWN_GRACE_MS (a request that never finishes, a peer
    // that stopped reading) is dropped too: the server's close waits for every socket, and one such
    // connection held a test relay's close past its 60 s hook timeout (seen at stops 18 and 20).
    setTimeout(() => app.server.closeAllConnections(), HTTP_SHUTDOWN_GRACE_MS).unref()
  })
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
