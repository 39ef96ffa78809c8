/**
 * Sessions by signed challenge (docs/auth.md): POST /v1/auth/challenge → nonce; POST /v1/auth/session
 * with the signed challenge → bearer token; GET /v1/auth/session → who am I; DELETE → log out.
 * Posting receipts needs none of this: a signed receipt is its own authentication.
 */
import { IdSchema, PublicKeyIdSchema } from '@pixpax/shared'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { bearerToken, requireSession } from '../auth/request-session.js'
import { SESSION_PURPOSE } from '../auth/challenge-message.js'
import { TOKEN_PATTERN } from '../auth/sessions.js'
import { parseBody } from './parse.js'

/** Auth bodies are a few hundred bytes; nothing bigger is read. */
export const AUTH_BODY_LIMIT = 4 * 1024

export async function authRoutes(app: FastifyInstance): Promise<void> {
  const { openapi, config } = app.relay
  const sessions = app.sessions

  const ChallengeResponse = z.object({ nonce: z.string(), expiresAt: z.string(), relay: z.string(), purpose: z.literal(SESSION_PURPOSE) })
  openapi.add({
    method: 'POST',
    url: '/v1/auth/challenge',
    summary: 'A single-use nonce (5 minutes) to sign for POST /v1/auth/session; no body',
    tags: ['auth'],
    auth: 'none',
    response: ChallengeResponse,
  })
  app.post('/v1/auth/challenge', { bodyLimit: AUTH_BODY_LIMIT }, async () => {
    const challenge = await sessions.createChallenge()
    return { ...challenge, relay: config.RELAY_IDENTITY_ID, purpose: SESSION_PURPOSE }
  })

  const SessionBody = z.strictObject({
    identityId: IdSchema,
    publicKeyId: PublicKeyIdSchema,
    nonce: z.string().regex(TOKEN_PATTERN, 'the nonce from POST /v1/auth/challenge'),
    signature: z.string().max(256),
  })
  const SessionResponse = z.object({
    token: z.string(),
    expiresAt: z.string(),
    identityId: z.string(),
    accountId: z.string(),
    publicKeyId: z.string(),
  })
  openapi.add({
    method: 'POST',
    url: '/v1/auth/session',
    summary:
      'Open a session: signature = ECDSA P-256 ("ecdsa-p256:" + base64 r‖s, low S) over the JCS bytes of {"purpose":"pixpax-session","nonce","identityId","relay"} by a valid key of the identity',
    tags: ['auth'],
    auth: 'none',
    body: SessionBody,
    response: SessionResponse,
  })
  app.post('/v1/auth/session', { bodyLimit: AUTH_BODY_LIMIT }, async (request) => {
    const body = parseBody(SessionBody, request)
    return sessions.openSession(body)
  })

  const WhoAmI = z.object({
    identityId: z.string(),
    accountId: z.string(),
    publicKeyId: z.string(),
    expiresAt: z.string(),
    admin: z.boolean(),
  })
  openapi.add({ method: 'GET', url: '/v1/auth/session', summary: 'The current session', tags: ['auth'], auth: 'session', response: WhoAmI })
  app.get('/v1/auth/session', async (request) => {
    const session = await requireSession(request)
    return { ...session, admin: config.ADMIN_IDENTITIES.includes(session.identityId) }
  })

  openapi.add({
    method: 'DELETE',
    url: '/v1/auth/session',
    summary: 'Log out: the token stops working at once',
    tags: ['auth'],
    auth: 'session',
  })
  app.delete('/v1/auth/session', { bodyLimit: AUTH_BODY_LIMIT }, async (request) => {
    await requireSession(request)
    await sessions.close(bearerToken(request)!)
    return { ok: true }
  })
}
