/**
 * Who may read which stream (ARCHITECTURE §3, docs/auth.md). Identity and account streams are public:
 * anyone must be able to resolve keys and memberships to verify receipts. Every other stream is private
 * to the members of its account (account_members, i.e. MEMBER_ADDED by an account owner) and to its
 * owner (streams.owner_identity_id, e.g. the identity that created a pixbook), and to the players paired
 * with the account (device_pairings: unpairing ends it at once); a paired player's own stream
 * (`device/{id}`: its status and its answers to commands) is readable by the identities of the account
 * it is paired with. Unknown stream types are
 * private too: a new type is never public by accident.
 */
import { parseStreamKey } from '@pixpax/shared'
import type { FastifyRequest } from 'fastify'
import type { Queryable } from '../db/projection-db.js'
import { ApiError } from '../errors.js'
import { sessionOf } from './request-session.js'

export const PUBLIC_STREAM_TYPES: ReadonlySet<string> = new Set(['identity', 'account', 'profile', 'moderation'])

export type AuthorizeRead = (request: FastifyRequest, streamKey: string) => Promise<void>

export function isPublicStream(streamKey: string): boolean {
  return PUBLIC_STREAM_TYPES.has(streamKey.split('/', 1)[0]!)
}

/** Whether `identityId` may read the private stream `streamKey`. */
export async function mayRead(db: Queryable, identityId: string, streamKey: string): Promise<boolean> {
  const accountId = parseStreamKey(streamKey).accountId ?? null
  const rows = await db.query<{ ok: boolean }>(
    `SELECT (EXISTS (SELECT 1 FROM account_members WHERE account_id = $1::text AND identity_id = $3)
          OR EXISTS (SELECT 1 FROM streams WHERE stream_key = $2 AND owner_identity_id = $3)
          OR EXISTS (SELECT 1 FROM device_pairings WHERE account_id = $1::text AND device_identity_id = $3)
          OR EXISTS (SELECT 1 FROM device_pairings p JOIN identities i ON i.account_id = p.account_id
                      WHERE left($2, 7) = 'device/' AND p.device_identity_id = substr($2, 8) AND i.identity_id = $3)) AS ok`,
    [accountId, streamKey, identityId],
  )
  return rows.rows[0]?.ok === true
}

/** The relay's `authorizeRead` hook: 401 without a session, 403 for a session that may not read. */
export function authorizeRead(db: Queryable): AuthorizeRead {
  return async (request, streamKey) => {
    if (isPublicStream(streamKey)) return
    const session = await sessionOf(request)
    if (!session)
      throw new ApiError('UNAUTHENTICATED', `stream ${streamKey} is private: reading it needs a session (POST /v1/auth/session)`)
    // Same answer whether the stream exists or not: a 403 must not reveal which private streams exist.
    if (!(await mayRead(db, session.identityId, streamKey))) {
      throw new ApiError('FORBIDDEN', `identity ${session.identityId} is neither a member of the stream's account nor its owner`)
    }
  }
}
