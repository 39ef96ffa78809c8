/**
 * Rate limits (docs/auth.md), with @fastify/rate-limit's in-memory store, so each replica counts on its
 * own (a client spread over N replicas by the load balancer gets up to N times the limit):
 *
 * - per client IP, on every route but the probes (/healthz, /readyz, /metrics): RATE_LIMIT_PER_IP
 *   requests per RATE_LIMIT_WINDOW_MS, counted in onRequest, before anything is parsed;
 * - per identity, RATE_LIMIT_PER_IDENTITY per window, counted in preHandler: for POST /v1/receipts the
 *   issuer of the first receipt in the body, for any request with a live session the session's identity.
 *
 * Over a limit: 429 RATE_LIMITED in the relay's envelope, `retry-after` (seconds) and
 * `details.retryAfterMs`.
 */
import rateLimit from '@fastify/rate-limit'
import { IdSchema } from '@pixpax/shared'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { ApiError } from '../errors.js'
import { bearerToken, sessionOf } from './request-session.js'

/** Probes must answer however busy the relay is. */
export const RATE_LIMIT_EXEMPT: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics'])

function rateLimited(scope: 'ip' | 'identity', max: number, windowMs: number, retryAfterMs: number): ApiError {
  return new ApiError(
    'RATE_LIMITED',
    `rate limit exceeded: at most ${max} requests per ${windowMs} ms per ${scope === 'ip' ? 'client address' : 'identity'}`,
    {
      retryAfterMs,
      limit: max,
      windowMs,
      scope,
    },
  )
}

/** The identity a request is counted against, if any. */
async function identityOf(request: FastifyRequest): Promise<string | undefined> {
  if (request.method === 'POST' && request.routeOptions.url === '/v1/receipts') {
    const first = (request.body as { receipts?: Array<{ issuer?: { identityId?: unknown } }> } | undefined)?.receipts?.[0]
    const id = first?.issuer?.identityId
    if (IdSchema.safeParse(id).success) return id as string
  }
  if (bearerToken(request)) return (await sessionOf(request))?.identityId
  return undefined
}

export const rateLimits = fp(
  async (app: FastifyInstance) => {
    const { RATE_LIMIT_PER_IP, RATE_LIMIT_PER_IDENTITY, RATE_LIMIT_WINDOW_MS } = app.relay.config
    const exempt = (request: FastifyRequest): boolean => RATE_LIMIT_EXEMPT.has(request.routeOptions.url ?? '')

    await app.register(rateLimit, {
      global: true,
      max: RATE_LIMIT_PER_IP,
      timeWindow: RATE_LIMIT_WINDOW_MS,
      allowList: exempt,
      // The plugin throws what this returns; it is an ApiError, so the error handler sends our envelope.
      errorResponseBuilder: (_request, context) => rateLimited('ip', context.max, RATE_LIMIT_WINDOW_MS, context.ttl),
    })

    // createRateLimit, not rateLimit(): the plugin's request handlers share one "already ran" flag per
    // request, so a second handler after the global one would be skipped.
    const identityKeys = new WeakMap<FastifyRequest, string>()
    const perIdentity = app.createRateLimit({
      max: RATE_LIMIT_PER_IDENTITY,
      timeWindow: RATE_LIMIT_WINDOW_MS,
      keyGenerator: (request) => `identity:${identityKeys.get(request) ?? ''}`,
    })
    app.addHook('preHandler', async (request, reply) => {
      if (exempt(request)) return
      const identityId = await identityOf(request)
      if (!identityId) return
      identityKeys.set(request, identityId)
      const result = await perIdentity(request)
      if (result.isAllowed || !result.isExceeded) return
      void reply.header('retry-after', result.ttlInSeconds)
      throw rateLimited('identity', result.max, RATE_LIMIT_WINDOW_MS, result.ttl)
    })
  },
  { name: 'pixpax-rate-limits' },
)
