/**
 * Sessions by signed challenge (docs/auth.md). The relay hands out a single-use nonce; the client signs
 * the challenge message (challenge-message.ts) with a currently valid key of its identity; the relay
 * answers with a random bearer token and keeps only its SHA-256. A session lives SESSION_TTL_SECONDS and
 * dies early on logout or when the key that opened it is revoked (checked on every use).
 *
 * All state is in the database (auth_challenges, sessions), so any replica can serve any step.
 */
import { createHash, randomBytes } from 'node:crypto'
import { parseSignature, PixpaxError, type PublicJwk, type SignatureVerifier } from '@pixpax/shared'
import type { Queryable } from '../db/projection-db.js'
import { ApiError } from '../errors.js'
import { sessionChallengeBytes } from './challenge-message.js'

/** How long a challenge nonce may be used. */
export const CHALLENGE_TTL_MS = 5 * 60_000

/** A bearer token: 32 random bytes, base64url (43 characters). */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

export interface Session {
  readonly identityId: string
  /** The accountId the identity declared in its IDENTITY_CREATED (not a membership). */
  readonly accountId: string
  /** The key that signed the challenge; revoking it ends the session. */
  readonly publicKeyId: string
  readonly expiresAt: string
}

export interface OpenSessionInput {
  identityId: string
  publicKeyId: string
  nonce: string
  signature: string
}

export interface OpenedSession extends Session {
  readonly token: string
}

export interface SessionStoreDeps {
  db: Queryable
  verifier: SignatureVerifier
  /** The relay's identityId (GET /v1/relay), part of the signed message. */
  relayIdentityId: string
  ttlSeconds: number
  now?: () => number
}

/** Only this is stored: a leaked sessions table opens no session. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

function unauthenticated(message: string, reason: string): ApiError {
  return new ApiError('UNAUTHENTICATED', message, { reason })
}

const iso = (ms: number): string => new Date(ms).toISOString()

export class SessionStore {
  constructor(private readonly deps: SessionStoreDeps) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now()
  }

  /** A fresh single-use nonce, valid CHALLENGE_TTL_MS. Expired ones are swept on the way. */
  async createChallenge(): Promise<{ nonce: string; expiresAt: string }> {
    const now = this.now()
    const nonce = randomBytes(32).toString('base64url')
    const expiresAt = iso(now + CHALLENGE_TTL_MS)
    await this.deps.db.query('DELETE FROM auth_challenges WHERE expires_at <= $1::timestamptz', [iso(now)])
    await this.deps.db.query('INSERT INTO auth_challenges (nonce, expires_at) VALUES ($1, $2::timestamptz)', [nonce, expiresAt])
    return { nonce, expiresAt }
  }

  /**
   * Checks a signed challenge and opens a session. The nonce is consumed first, whatever follows, so
   * each nonce gets exactly one try; every failure is UNAUTHENTICATED with `details.reason`.
   */
  async openSession(input: OpenSessionInput): Promise<OpenedSession> {
    const { db, verifier } = this.deps
    const now = this.now()
    // DELETE … RETURNING is atomic: of two requests racing on one nonce, exactly one gets the row.
    const consumed = await db.query<{ expires_at: Date | string }>('DELETE FROM auth_challenges WHERE nonce = $1 RETURNING expires_at', [
      input.nonce,
    ])
    const challenge = consumed.rows[0]
    if (!challenge)
      throw unauthenticated('unknown or already used challenge nonce; get a new one from POST /v1/auth/challenge', 'NONCE_UNKNOWN')
    if (new Date(challenge.expires_at).getTime() <= now) throw unauthenticated('the challenge nonce has expired', 'NONCE_EXPIRED')

    const keys = await db.query<{ public_key: PublicJwk | string; revoked_position: number | null; account_id: string }>(
      `SELECT k.public_key, k.revoked_position, i.account_id FROM identity_keys k JOIN identities i ON i.identity_id = k.identity_id
       WHERE k.identity_id = $1 AND k.public_key_id = $2`,
      [input.identityId, input.publicKeyId],
    )
    const key = keys.rows[0]
    if (!key) throw unauthenticated(`identity ${input.identityId} has no key ${input.publicKeyId}`, 'KEY_UNKNOWN')
    if (key.revoked_position !== null) throw unauthenticated(`key ${input.publicKeyId} of ${input.identityId} is revoked`, 'KEY_REVOKED')

    let signature: Uint8Array
    try {
      signature = parseSignature(input.signature)
    } catch (error) {
      if (error instanceof PixpaxError) throw unauthenticated(`signature: ${error.message}`, error.code)
      throw error
    }
    const publicKey = typeof key.public_key === 'string' ? (JSON.parse(key.public_key) as PublicJwk) : key.public_key
    const message = sessionChallengeBytes({ nonce: input.nonce, identityId: input.identityId, relay: this.deps.relayIdentityId })
    if (!(await verifier.verify(publicKey, message, signature))) {
      throw unauthenticated('the signature does not verify over the challenge message (see docs/auth.md)', 'SIGNATURE_INVALID')
    }

    const token = randomBytes(32).toString('base64url')
    const expiresAt = iso(now + this.deps.ttlSeconds * 1000)
    await db.query('DELETE FROM sessions WHERE expires_at <= $1::timestamptz', [iso(now)])
    await db.query(
      `INSERT INTO sessions (token_hash, identity_id, account_id, public_key_id, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5::timestamptz, $6::timestamptz)`,
      [hashToken(token), input.identityId, key.account_id, input.publicKeyId, iso(now), expiresAt],
    )
    return { token, identityId: input.identityId, accountId: key.account_id, publicKeyId: input.publicKeyId, expiresAt }
  }

  /** The live session of a token: unknown, expired, or opened by a since-revoked key → undefined. */
  async resolve(token: string): Promise<Session | undefined> {
    if (!TOKEN_PATTERN.test(token)) return undefined
    const rows = await this.deps.db.query<{ identity_id: string; account_id: string; public_key_id: string; expires_at: Date | string }>(
      `SELECT s.identity_id, s.account_id, s.public_key_id, s.expires_at FROM sessions s
       JOIN identity_keys k ON k.identity_id = s.identity_id AND k.public_key_id = s.public_key_id AND k.revoked_position IS NULL
       WHERE s.token_hash = $1 AND s.expires_at > $2::timestamptz`,
      [hashToken(token), iso(this.now())],
    )
    const row = rows.rows[0]
    if (!row) return undefined
    return {
      identityId: row.identity_id,
      accountId: row.account_id,
      publicKeyId: row.public_key_id,
      expiresAt: new Date(row.expires_at).toISOString(),
    }
  }

  /** Ends a session (logout). True if there was one. */
  async close(token: string): Promise<boolean> {
    const result = await this.deps.db.query('DELETE FROM sessions WHERE token_hash = $1', [hashToken(token)])
    return result.rowCount > 0
  }
}
