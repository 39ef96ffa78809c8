/**
 * The relay's error envelope (ARCHITECTURE §6): every error, from a route, a parser, Fastify itself or
 * an unexpected throw, leaves as `{"error": {code, message, requestId, details?}}` with the status its
 * code maps to. 5xx details are never sent; the requestId finds the log line.
 */
import { PixpaxError, type ErrorCode } from '@pixpax/shared'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'

export const HTTP_STATUS: Record<ErrorCode, number> = {
  JSON_INVALID: 400,
  DUPLICATE_KEY: 400,
  SCHEMA_INVALID: 400,
  SCHEMA_VERSION_UNSUPPORTED: 400,
  RECEIPT_TOO_LARGE: 413,
  HASH_MISMATCH: 422,
  SIGNATURE_INVALID: 422,
  SIGNATURE_NOT_CANONICAL: 422,
  KEY_UNKNOWN: 422,
  KEY_REVOKED: 422,
  NOT_AUTHORIZED: 403,
  STREAM_RULE_VIOLATION: 422,
  DOMAIN_RULE_VIOLATION: 422,
  CHAIN_BROKEN: 409,
  CHAIN_CONFLICT: 409,
  EVENT_ID_ORDER: 422,
  IDEMPOTENCY_CONFLICT: 409,
  BAD_REQUEST: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  SLOW_CONSUMER: 400,
  PROTOCOL_ERROR: 400,
  UNAVAILABLE: 503,
  LOG_INCONSISTENT: 502,
  MEDIA_INVALID: 422,
  MEDIA_TOO_LARGE: 413,
  MEDIA_GONE: 410,
  INTERNAL: 500,
}

export class ApiError extends Error {
  override name = 'ApiError'
  /** Set where a route's contract names another status for one rule (a code already redeemed: 409). */
  private readonly statusOverride?: number
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: ErrorOptions & { status?: number },
  ) {
    super(message, options)
    if (options?.status) this.statusOverride = options.status
  }
  get status(): number {
    return this.statusOverride ?? HTTP_STATUS[this.code]
  }

  /** Normalizes anything thrown into an ApiError. */
  static from(cause: unknown): ApiError {
    if (cause instanceof ApiError) return cause
    if (cause instanceof PixpaxError) return new ApiError(cause.code, cause.message, cause.details, { cause })
    const fe = cause as Partial<FastifyError> & { statusCode?: number }
    switch (fe?.code) {
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return new ApiError('UNSUPPORTED_MEDIA_TYPE', 'the request body must be application/json', undefined, { cause })
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return new ApiError('PAYLOAD_TOO_LARGE', 'the request body is over the size limit', undefined, { cause })
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return new ApiError('JSON_INVALID', 'the request body is empty', undefined, { cause })
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return new ApiError('BAD_REQUEST', 'content-length does not match the body', undefined, { cause })
      case 'FST_ERR_RATE_LIMIT_EXCEEDED':
        return new ApiError('RATE_LIMITED', fe.message ?? 'rate limit exceeded', undefined, { cause })
    }
    if (fe?.statusCode === 429) return new ApiError('RATE_LIMITED', fe.message ?? 'rate limit exceeded', undefined, { cause })
    if (fe?.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return new ApiError('BAD_REQUEST', fe.message ?? 'bad request', undefined, { cause })
    }
    return new ApiError('INTERNAL', 'internal error', undefined, { cause })
  }
}

export function envelope(error: ApiError, requestId: string): { error: Record<string, unknown> } {
  const body: Record<string, unknown> = { code: error.code, message: error.status >= 500 ? 'internal error' : error.message, requestId }
  if (error.details && error.status < 500) body.details = error.details
  if (error.code === 'UNAVAILABLE') body.message = error.message
  return { error: body }
}

export function sendError(request: FastifyRequest, reply: FastifyReply, cause: unknown): FastifyReply {
  const error = ApiError.from(cause)
  if (error.status >= 500) request.log.error({ err: cause }, 'request failed')
  if (error.code === 'RATE_LIMITED' && error.details?.retryAfterMs) {
    void reply.header('retry-after', Math.ceil(Number(error.details.retryAfterMs) / 1000))
  }
  return reply.status(error.status).send(envelope(error, request.id))
}

/** A plain HTTP request to a WebSocket route: say what the route is, in the envelope (not a bare 404). */
export function upgradeRequired(route: string): ApiError {
  return new ApiError('BAD_REQUEST', `GET ${route} is a WebSocket endpoint: connect with Upgrade: websocket`)
}
