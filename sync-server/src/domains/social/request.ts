/**
 * What every social-family route does with a request: parse its query or params (a bad query is
 * BAD_REQUEST, a bad id NOT_FOUND) and find the viewer (the session's identity, if any).
 */
import type { FastifyRequest } from 'fastify'
import type { z } from 'zod'
import { sessionOf } from '../../auth/request-session.js'
import { ApiError } from '../../errors.js'
import type { Viewer } from './read-model.js'

export function parse<T extends z.ZodType>(schema: T, value: unknown, where: 'query' | 'params'): z.infer<T> {
  const parsed = schema.safeParse(value)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]!
  if (where === 'params') throw new ApiError('NOT_FOUND', `no such resource: ${issue.message}`)
  throw new ApiError('BAD_REQUEST', `query ${issue.path.join('.')}: ${issue.message}`, { path: issue.path.join('.') })
}

export async function viewerOf(request: FastifyRequest): Promise<Viewer> {
  return { identityId: (await sessionOf(request))?.identityId ?? null }
}
