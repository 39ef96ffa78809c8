/** Request parsing with the route's zod schemas, failing with the relay's codes. */
import type { FastifyRequest } from 'fastify'
import type { z } from 'zod'
import { ApiError } from '../errors.js'

/** The body, validated: SCHEMA_INVALID (400) naming the first bad path otherwise. */
export function parseBody<T extends z.ZodType>(schema: T, request: FastifyRequest): z.infer<T> {
  if (request.body === undefined) throw new ApiError('BAD_REQUEST', 'this route needs a JSON body')
  const parsed = schema.safeParse(request.body)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const path = issue.path.map(String).join('.') || '(root)'
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} at ${path}`
        : `${path}: ${issue.message}`
    throw new ApiError('SCHEMA_INVALID', `body: ${message}`, { path })
  }
  return parsed.data
}

/** Path parameters, validated: NOT_FOUND otherwise (a malformed id names no resource). */
export function parseParams<T extends z.ZodType>(schema: T, request: FastifyRequest): z.infer<T> {
  const parsed = schema.safeParse(request.params)
  if (!parsed.success) throw new ApiError('NOT_FOUND', `no such resource: ${parsed.error.issues[0]!.message}`)
  return parsed.data
}
