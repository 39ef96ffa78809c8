/**
 * Authentication infrastructure, shared by every route (fastify-plugin, so it is not encapsulated):
 * the session store (`app.sessions`, also as `app.relay.sessionForToken`), the read-access hook
 * (`app.relay.authorizeRead`) and the rate limits. Register it before any route: the rate limiter hooks the routes defined after it.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { rateLimits } from './rate-limits.js'
import { authorizeRead } from './read-access.js'
import { SessionStore } from './sessions.js'

export const authPlugin = fp(
  async (app: FastifyInstance) => {
    const { db, verifier, config } = app.relay
    const sessions = new SessionStore({ db, verifier, relayIdentityId: config.RELAY_IDENTITY_ID, ttlSeconds: config.SESSION_TTL_SECONDS })
    app.decorate('sessions', sessions)
    app.relay.authorizeRead = authorizeRead(db)
    // For transports that carry the token in a message rather than a header (the sync WebSocket).
    app.relay.sessionForToken = (token) => sessions.resolve(token)
    await app.register(rateLimits)
  },
  { name: 'pixpax-auth' },
)
