/**
 * The session of a request: `Authorization: Bearer <token>`, resolved once per request (the rate limiter,
 * read access and the route may all ask) and cached for the request's lifetime.
 */
import type { FastifyRequest } from 'fastify'
import { ApiError } from '../errors.js'
import type { Session, SessionStore } from './sessions.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Set by the auth plugin (auth-plugin.ts). */
    sessions: SessionStore
  }
}

const resolved = new WeakMap<FastifyRequest, Promise<Session | undefined>>()

/**
 * The bearer token of a request: undefined without an Authorization header, null when the header is
 * there but is not `Bearer <token>`.
 */
export function bearerToken(request: FastifyRequest): string | undefined | null {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  const match = /^Bearer +([^\s]+) *$/i.exec(header)
  return match ? match[1]! : null
}

/** The request's live session, if it presents one (an invalid token counts as none). */
export function sessionOf(request: FastifyRequest): Promise<Session | undefined> {
  let session = resolved.get(request)
  if (!session) {
    const token = bearerToken(request)
    session = token ? request.server.sessions.resolve(token) : Promise.resolve(undefined)
    resolved.set(request, session)
  }
  return session
}

/** The request's session, or 401 UNAUTHENTICATED. */
export async function requireSession(request: FastifyRequest): Promise<Session> {
  const session = await sessionOf(request)
  if (session) return session
  const token = bearerToken(request)
  if (token === undefined)
    throw new ApiError('UNAUTHENTICATED', 'this needs a session: Authorization: Bearer <token> from POST /v1/auth/session')
  if (token === null) throw new ApiError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <token>"')
  throw new ApiError('UNAUTHENTICATED', 'the session is unknown, expired, logged out, or its key was revoked; open a new one')
}

/** The request's session if its identity is listed in ADMIN_IDENTITIES: else 401 / 403. */
export async function requireAdmin(request: FastifyRequest): Promise<Session> {
  const session = await requireSession(request)
  if (!request.server.relay.config.ADMIN_IDENTITIES.includes(session.identityId)) {
    throw new ApiError('FORBIDDEN', `identity ${session.identityId} is not an administrator of this relay`)
  }
  return session
}
