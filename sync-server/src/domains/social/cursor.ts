/**
 * Opaque page cursors for the social query routes: base64url of a small JSON object the route defines
 * (a log position for feeds, an offset for ranked search). Clients pass `next` back unchanged; anything
 * else is BAD_REQUEST.
 */
import { z } from 'zod'
import { ApiError } from '../../errors.js'

export function encodeCursor(value: Record<string, number>): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url')
}

export function decodeCursor<T extends z.ZodType>(schema: T, cursor: string | undefined): z.infer<T> | undefined {
  if (cursor === undefined) return undefined
  try {
    const parsed = schema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')))
    if (parsed.success) return parsed.data
  } catch {
    // fall through: not base64url JSON
  }
  throw new ApiError('BAD_REQUEST', 'cursor is not one this relay gave out (pass `next` back unchanged)', { path: 'cursor' })
}

/** A feed position cursor: items strictly older than log position `p`. */
export const PositionCursor = z.strictObject({ p: z.number().int().min(0) })
/**
 * A ranked-list cursor: the next `o` items are skipped; `t: 1` for a page of typo matches (search), `w`
 * the exclusive log-position top of the search window the offset counts in (posts search).
 */
export const OffsetCursor = z.strictObject({
  o: z.number().int().min(0).max(100_000),
  t: z.literal(1).optional(),
  w: z.number().int().min(0).optional(),
})

/** The page query every list route takes. */
export const PageQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
}
