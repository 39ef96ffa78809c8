/**
 * Device linking (docs/web.md, "Linking a second browser"): a rendezvous where a second browser hands
 * its new public key to the identity's signed-in browser through a short code. The relay only carries the
 * key; it never adds it. The first browser shows the key's fingerprint (the second shows the same), and
 * approving is the first browser signing KEY_ADDED in the identity stream — so a relay that swapped the
 * key is caught by the person comparing fingerprints, and nothing here can add a key on its own.
 *
 * - `POST /v1/identity-links` (session of a person identity): a fresh code (6 characters, 10 minutes),
 *   replacing that identity's earlier unclaimed code.
 * - `POST /v1/identity-links/claim {code, publicKey}` (no session: the second browser has no identity
 *   yet): consumes the code (single use, rate-limited per address) → `{linkId, publicKeyId, expiresAt}`.
 * - `GET /v1/identity-links` (session): the identity's claimed links and whether each key is added.
 * - `GET /v1/identity-links/:linkId` (no session; the linkId is a 128-bit secret of the claimer): the
 *   state, and once the key is in the identity (approved) the identity it joined.
 */
import { randomBytes } from 'node:crypto'
import { jwkThumbprint, PublicJwkSchema, type PublicJwk } from '@pixpax/shared'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { bearerToken, requireSession } from '../auth/request-session.js'
import type { Queryable } from '../db/projection-db.js'
import { issueCode, pairingCodeHash, PAIRING_CODE_ALPHABET, PAIRING_CODE_LENGTH } from '../devices/pairing-codes.js'
import { ApiError } from '../errors.js'
import { parseBody, parseParams } from '../routes/parse.js'

export const LINK_CODE_TTL_MS = 10 * 60 * 1000
/** Codes asked for per session, and claims tried per address, per rate-limit window. */
export const LINK_ATTEMPTS_PER_WINDOW = 10

export interface LinkRoutesOptions {
  now?: () => number
}

const ClaimBody = z.strictObject({ code: z.string().min(1).max(32), publicKey: PublicJwkSchema })
const LinkParams = z.object({ linkId: z.string().regex(/^[A-Za-z0-9_-]{22,64}$/, 'a link id') })

const LinkState = z.enum(['waiting', 'claimed', 'approved', 'expired'])
const LinkJson = z.object({
  linkId: z.string(),
  state: LinkState,
  expiresAt: z.string(),
  publicKeyId: z.string().nullable(),
  identityId: z.string().optional(),
  accountId: z.string().optional(),
  displayName: z.string().nullable().optional(),
})

interface LinkRow {
  link_id: string
  identity_id: string
  account_id: string
  expires_at: Date
  public_key: PublicJwk | null
  public_key_id: string | null
  claimed_at: Date | null
}

function invalidCode(reason: 'LINK_CODE_UNKNOWN' | 'LINK_CODE_EXPIRED' | 'LINK_CODE_USED'): ApiError {
  const why = { LINK_CODE_UNKNOWN: 'mistyped or replaced', LINK_CODE_EXPIRED: 'expired', LINK_CODE_USED: 'already used' }[reason]
  return new ApiError('NOT_FOUND', `no such link code: it is ${why}; ask the other browser for a new one`, { reason })
}

export async function linkRoutes(app: FastifyInstance, options: LinkRoutesOptions = {}): Promise<void> {
  const { db, openapi, config } = app.relay
  const now = options.now ?? Date.now
  // Codes are counted per session; claims (no session) per address only — keyed by a bearer token, a
  // claimer could send a new made-up token with each guess and never be limited.
  const limit = (scope: 'link-code' | 'link-claim') => ({
    rateLimit: {
      max: LINK_ATTEMPTS_PER_WINDOW,
      timeWindow: config.RATE_LIMIT_WINDOW_MS,
      keyGenerator: (request: FastifyRequest) =>
        scope === 'link-code' ? `${scope}:${bearerToken(request) ?? request.ip}` : `${scope}:${request.ip}`,
    },
  })

  /** Whether the key is an unrevoked key of the identity: the first browser's KEY_ADDED is the approval. */
  async function added(identityId: string, publicKeyId: string | null, q: Queryable = db): Promise<boolean> {
    if (!publicKeyId) return false
    const rows = await q.query('SELECT 1 FROM identity_keys WHERE identity_id = $1 AND public_key_id = $2 AND revoked_position IS NULL', [
      identityId,
      publicKeyId,
    ])
    return rows.rowCount > 0
  }

  async function stateOf(row: LinkRow): Promise<z.infer<typeof LinkState>> {
    if (await added(row.identity_id, row.public_key_id)) return 'approved'
    if (row.expires_at.getTime() <= now()) return 'expired'
    return row.claimed_at ? 'claimed' : 'waiting'
  }

  openapi.add({
    method: 'POST',
    url: '/v1/identity-links',
    summary: `A link code for the session's identity (${PAIRING_CODE_LENGTH} of ${PAIRING_CODE_ALPHABET}, valid 10 minutes, single use): a second browser submits its key with it`,
    tags: ['identity'],
    auth: 'session',
    response: z.object({ code: z.string(), expiresAt: z.string() }),
  })
  app.post('/v1/identity-links', { config: limit('link-code') }, async (request) => {
    const session = await requireSession(request)
    const kind = await db.query<{ kind: string }>('SELECT kind FROM identities WHERE identity_id = $1', [session.identityId])
    if (kind.rows[0]?.kind === 'device') throw new ApiError('FORBIDDEN', 'a device identity cannot link browsers')
    const createdAt = new Date(now())
    const expiresAt = new Date(now() + LINK_CODE_TTL_MS)
    const code = await issueCode((codeHash) =>
      db.transaction(async (tx) => {
        // The identity's unclaimed codes are replaced; claimed links stay until they expire (the list shows them).
        await tx.query('DELETE FROM identity_links WHERE (identity_id = $1 AND claimed_at IS NULL) OR expires_at <= $2', [
          session.identityId,
          new Date(now() - LINK_CODE_TTL_MS),
        ])
        const rows = await tx.query(
          `INSERT INTO identity_links (link_id, code_hash, identity_id, account_id, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code_hash) DO NOTHING RETURNING link_id`,
          [randomBytes(16).toString('base64url'), codeHash, session.identityId, session.accountId, createdAt, expiresAt],
        )
        return rows.rowCount > 0
      }),
    )
    return { code, expiresAt: expiresAt.toISOString() }
  })

  openapi.add({
    method: 'POST',
    url: '/v1/identity-links/claim',
    summary: 'Submit a new browser key with a link code (no session); the code is used up',
    tags: ['identity'],
    auth: 'none',
    body: ClaimBody,
    response: z.object({ linkId: z.string(), publicKeyId: z.string(), expiresAt: z.string() }),
  })
  app.post('/v1/identity-links/claim', { config: limit('link-claim') }, async (request) => {
    const body = parseBody(ClaimBody, request)
    const publicKeyId = jwkThumbprint(body.publicKey)
    const claimedAt = new Date(now())
    return db.transaction(async (tx) => {
      // UPDATE … WHERE claimed_at IS NULL: of two browsers racing on one code exactly one gets it.
      const claimed = await tx.query<{ link_id: string; identity_id: string; expires_at: Date }>(
        `UPDATE identity_links SET public_key = $2, public_key_id = $3, claimed_at = $4
          WHERE code_hash = $1 AND claimed_at IS NULL AND expires_at > $4 RETURNING link_id, identity_id, expires_at`,
        [pairingCodeHash(body.code), JSON.stringify(body.publicKey), publicKeyId, claimedAt],
      )
      const row = claimed.rows[0]
      // A key the identity already holds (public, in its stream) would read as "approved" at once, and
      // the code would be spent: refused, and the code stays usable (the transaction is rolled back).
      if (row && (await added(row.identity_id, publicKeyId, tx)))
        throw new ApiError('STREAM_RULE_VIOLATION', 'this key already belongs to the identity: make a new key to link', {
          rule: 'link_key_known',
        })
      if (row) return { linkId: row.link_id, publicKeyId, expiresAt: row.expires_at.toISOString() }
      const existing = await tx.query<{ claimed_at: Date | null }>('SELECT claimed_at FROM identity_links WHERE code_hash = $1', [
        pairingCodeHash(body.code),
      ])
      const found = existing.rows[0]
      throw invalidCode(!found ? 'LINK_CODE_UNKNOWN' : found.claimed_at ? 'LINK_CODE_USED' : 'LINK_CODE_EXPIRED')
    })
  })

  openapi.add({
    method: 'GET',
    url: '/v1/identity-links',
    summary: "The session identity's claimed links: the submitted keys, and whether each is added (approved)",
    tags: ['identity'],
    auth: 'session',
  })
  app.get('/v1/identity-links', async (request) => {
    const session = await requireSession(request)
    const rows = await db.query<LinkRow>(
      'SELECT * FROM identity_links WHERE identity_id = $1 AND claimed_at IS NOT NULL ORDER BY claimed_at DESC',
      [session.identityId],
    )
    const links = []
    for (const row of rows.rows) {
      links.push({
        linkId: row.link_id,
        state: await stateOf(row),
        expiresAt: row.expires_at.toISOString(),
        publicKeyId: row.public_key_id,
        publicKey: row.public_key,
        claimedAt: row.claimed_at!.toISOString(),
      })
    }
    return { identityId: session.identityId, links }
  })

  openapi.add({
    method: 'GET',
    url: '/v1/identity-links/:linkId',
    summary: 'A claimed link: waiting, claimed, approved (then the identity and account it joined) or expired',
    tags: ['identity'],
    auth: 'none',
    response: LinkJson,
  })
  app.get('/v1/identity-links/:linkId', async (request) => {
    const { linkId } = parseParams(LinkParams, request)
    const rows = await db.query<LinkRow>('SELECT * FROM identity_links WHERE link_id = $1 AND claimed_at IS NOT NULL', [linkId])
    const row = rows.rows[0]
    if (!row) throw new ApiError('NOT_FOUND', `no claimed link ${linkId}`)
    const state = await stateOf(row)
    const base = { linkId, state, expiresAt: row.expires_at.toISOString(), publicKeyId: row.public_key_id }
    if (state !== 'approved') return base
    const who = await db.query<{ display_name: string | null }>('SELECT display_name FROM identities WHERE identity_id = $1', [
      row.identity_id,
    ])
    return { ...base, identityId: row.identity_id, accountId: row.account_id, displayName: who.rows[0]?.display_name ?? null }
  })
}
