/**
 * Printed codes (docs/economy.md, "Printed codes"):
 * - admin: `POST /v1/codes` mints tokens signed by the issuer's custodial key (nothing is stored: the
 *   token is the code), `POST /v1/codes/qr` renders one as a QR SVG for printing,
 *   `POST /v1/collections/:collectionId/codes/:codeId/revoke` signs a CODE_REVOKED;
 * - session: `POST /v1/codes/redeem {token}` checks the token is official and signs the PACK_ISSUED that
 *   redeems it into one of the session identity's books. Once: the code's pack id is issued once across
 *   every book and replica (the pack rule, on the facts API).
 */
import { randomBytes } from 'node:crypto'
import {
  base64UrlEncode,
  CODE_DEFAULT_TTL_MS,
  CODE_MAX_CARDS,
  CODE_MAX_TTL_MS,
  CODE_TOKEN_TYPE,
  codePackId,
  codePackPayload,
  CreatedAtSchema,
  ECONOMY_FACTS,
  IdSchema,
  parseCodeToken,
  PublicJwkSchema,
  signCodeToken,
  verifyCodeSignature,
  type CodeClaims,
  type CollectionFact,
  type ParsedCodeToken,
} from '@pixpax/shared'
import type { FastifyInstance } from 'fastify'
import QRCode from 'qrcode'
import { z } from 'zod'
import { requireAdmin, requireSession } from '../../auth/request-session.js'
import { ApiError } from '../../errors.js'
import { parseBody, parseParams } from '../../routes/parse.js'
import { issuedJson, IssuedResponse, type CustodialIssuer, type IssuedReceipt } from './custodial-issuer.js'
import { loadFacts } from './load-facts.js'

/** The statuses the code contract names for its rules; any other rule refusal is 422. */
const RULE_STATUS: Readonly<Record<string, number>> = { code_already_redeemed: 409, code_revoked: 410, code_expired: 410 }

function codeRefusal(rule: string, message: string, details: Record<string, unknown> = {}): ApiError {
  return new ApiError('DOMAIN_RULE_VIOLATION', message, { rule, ...details }, RULE_STATUS[rule] ? { status: RULE_STATUS[rule] } : {})
}

/** A rule refusal from the ingestor with the code contract's status. */
function withRuleStatus(error: unknown): unknown {
  if (!(error instanceof ApiError) || error.code !== 'DOMAIN_RULE_VIOLATION') return error
  const rule = error.details?.rule as string | undefined
  return rule && RULE_STATUS[rule]
    ? new ApiError(error.code, error.message, error.details, { status: RULE_STATUS[rule], cause: error })
    : error
}

const TokenSchema = z.string().min(1).max(4200)
const QR_OPTIONS = { type: 'svg', errorCorrectionLevel: 'M', margin: 4 } as const

export function codeRoutes(app: FastifyInstance, issuer: CustodialIssuer): void {
  const { db, openapi, verifier, policy } = app.relay

  async function collectionOf(collectionId: string): Promise<CollectionFact> {
    const collection = (await loadFacts<CollectionFact>(db, ECONOMY_FACTS.collection, [collectionId])).get(collectionId)
    if (!collection) throw new ApiError('NOT_FOUND', `no collection ${collectionId}`)
    return collection
  }

  // ---- minting ------------------------------------------------------------------------------------

  const MintBody = z.strictObject({
    issuerId: IdSchema,
    collectionId: IdSchema,
    kind: z.enum(['pack', 'fixed-card']).default('pack'),
    /** pack: how many cards (default 5). */
    cards: z.number().int().min(1).max(CODE_MAX_CARDS).optional(),
    /** pack: the collection version whose cards it draws from (default the latest). */
    version: z.number().int().min(1).optional(),
    /** fixed-card: the card it gives. */
    cardId: IdSchema.optional(),
    /** Default 14 days from now; at most 10 years. */
    expiresAt: CreatedAtSchema.optional(),
    count: z.number().int().min(1).max(1000).default(1),
  })
  const MintResponse = z.object({
    codes: z.array(z.object({ codeId: z.string(), packId: z.string(), token: z.string(), expiresAt: z.string() })),
  })
  openapi.add({
    method: 'POST',
    url: '/v1/codes',
    summary:
      'Admin: mint printed codes (kind pack with 1–50 cards, or fixed-card), each a token signed by the issuer custodial key; expiry default 14 days, at most 10 years. Nothing is stored: keep the tokens',
    tags: ['economy', 'admin'],
    auth: 'admin',
    body: MintBody,
    response: MintResponse,
  })
  app.post('/v1/codes', async (request) => {
    await requireAdmin(request)
    const body = parseBody(MintBody, request)
    const collection = await collectionOf(body.collectionId)
    if (collection.owner !== body.issuerId)
      throw codeRefusal('collection_not_owned', `collection ${body.collectionId} belongs to ${collection.owner}`, {
        owner: collection.owner,
      })
    const now = Date.now()
    const issuedAt = new Date(now).toISOString()
    const expiresAt = body.expiresAt ?? new Date(now + CODE_DEFAULT_TTL_MS).toISOString()
    const ttl = Date.parse(expiresAt) - now
    if (ttl <= 0 || ttl > CODE_MAX_TTL_MS)
      throw new ApiError('BAD_REQUEST', 'expiresAt must be in the future and at most 10 years from now')
    let what: Pick<CodeClaims, 'kind' | 'cards' | 'version' | 'cardId'>
    if (body.kind === 'pack') {
      if (body.cardId !== undefined) throw new ApiError('BAD_REQUEST', 'a pack code draws its cards: no cardId')
      const version = body.version ?? collection.version
      if (version < 1 || version > collection.version)
        throw codeRefusal(
          'collection_version_unknown',
          `collection ${body.collectionId} has no version ${version} (latest ${collection.version})`,
        )
      what = { kind: 'pack', cards: body.cards ?? 5, version }
    } else {
      if (body.cards !== undefined || body.version !== undefined) throw new ApiError('BAD_REQUEST', 'a fixed-card code gives one cardId')
      if (!body.cardId) throw new ApiError('BAD_REQUEST', 'a fixed-card code needs cardId')
      if (!collection.cards[body.cardId]) throw codeRefusal('card_unknown', `card ${body.cardId} is not in collection ${body.collectionId}`)
      what = { kind: 'fixed-card', cardId: body.cardId }
    }
    const signer = await issuer.signer(body.issuerId)
    const codes = await Promise.all(
      Array.from({ length: body.count }, async () => {
        const claims: CodeClaims = {
          type: CODE_TOKEN_TYPE,
          codeId: base64UrlEncode(randomBytes(16)),
          issuer: { identityId: body.issuerId, publicKeyId: signer.publicKeyId },
          collectionId: body.collectionId,
          ...what,
          issuedAt,
          expiresAt,
        }
        const token = await signCodeToken(claims, signer)
        return { codeId: claims.codeId, packId: codePackId(claims.collectionId, claims.codeId), token, expiresAt }
      }),
    )
    return { codes }
  })

  openapi.add({
    method: 'POST',
    url: '/v1/codes/qr',
    summary: 'Admin: a code token as a QR code (image/svg+xml, error correction M) for printing; the QR holds the token text',
    tags: ['economy', 'admin'],
    auth: 'admin',
    body: z.strictObject({ token: TokenSchema }),
  })
  app.post('/v1/codes/qr', async (request, reply) => {
    await requireAdmin(request)
    const { token } = parseBody(z.strictObject({ token: TokenSchema }), request)
    if (!parseCodeToken(token)) throw codeRefusal('code_not_official', 'the token is not a PixPax code')
    const svg = await QRCode.toString(token, QR_OPTIONS)
    return reply.type('image/svg+xml').send(svg)
  })

  // ---- revocation ---------------------------------------------------------------------------------

  const RevokeParams = z.object({ collectionId: IdSchema, codeId: IdSchema })
  const RevokeBody = z.strictObject({ reason: z.string().min(1).max(500).optional() })
  openapi.add({
    method: 'POST',
    url: '/v1/collections/:collectionId/codes/:codeId/revoke',
    summary:
      "Admin: revoke a printed code (CODE_REVOKED in the collection's stream, signed by its owner's custodial key); a retry answers the same receipt; 409 code_already_redeemed once redeemed",
    tags: ['economy', 'admin'],
    auth: 'admin',
    body: RevokeBody,
    response: IssuedResponse,
  })
  app.post('/v1/collections/:collectionId/codes/:codeId/revoke', async (request) => {
    await requireAdmin(request)
    const { collectionId, codeId } = parseParams(RevokeParams, request)
    const { reason } = request.body === undefined ? {} : parseBody(RevokeBody, request)
    const collection = await collectionOf(collectionId)
    const idempotencyKey = `revoke-${codePackId(collectionId, codeId)}`
    const earlier = await issuer.previous(collection.owner, idempotencyKey)
    if (earlier) return issuedJson(earlier)
    try {
      const result = await issuer.issue({
        identityId: collection.owner,
        stream: { type: 'collection', collectionId },
        streamKey: `collection/${collectionId}`,
        type: 'CODE_REVOKED',
        genesis: false,
        idempotencyKey,
        payload: async () => ({ codeId, ...(reason ? { reason } : {}) }),
      })
      return issuedJson(result)
    } catch (error) {
      const first =
        error instanceof ApiError && error.code === 'IDEMPOTENCY_CONFLICT' && (await issuer.previous(collection.owner, idempotencyKey))
      if (first) return issuedJson(first)
      throw withRuleStatus(error)
    }
  })

  // ---- redemption ---------------------------------------------------------------------------------

  /** The token if it is an official code: a platform issuer's, under one of its valid keys, signature verified. */
  async function official(token: string): Promise<ParsedCodeToken> {
    const parsed = parseCodeToken(token)
    if (!parsed) throw codeRefusal('code_not_official', 'the token is not a PixPax code')
    const { identityId, publicKeyId } = parsed.claims.issuer
    const notOfficial = () => codeRefusal('code_not_official', `the token is not signed by a key of issuer ${identityId}`)
    if (!policy.platformIssuers?.has(identityId)) throw notOfficial()
    const { rows } = await db.query<{ public_key: unknown; revoked_position: string | null }>(
      'SELECT public_key, revoked_position FROM identity_keys WHERE identity_id = $1 AND public_key_id = $2',
      [identityId, publicKeyId],
    )
    const key = rows[0] && rows[0].revoked_position === null ? PublicJwkSchema.safeParse(jsonValue(rows[0].public_key)) : undefined
    if (!key?.success || !(await verifyCodeSignature(parsed, key.data, verifier))) throw notOfficial()
    return parsed
  }

  /** The book a redemption goes into: the one named (the session identity's), else its only pixbook. */
  async function redeemBook(identityId: string, named: { accountId?: string | undefined; bookId?: string | undefined }) {
    if (named.accountId && named.bookId) {
      const streamKey = `pixbook/${named.accountId}/${named.bookId}`
      const { rows } = await db.query<{ owner_identity_id: string }>('SELECT owner_identity_id FROM streams WHERE stream_key = $1', [
        streamKey,
      ])
      if (!rows[0]) throw new ApiError('NOT_FOUND', `no pixbook ${named.accountId}/${named.bookId}`)
      if (rows[0].owner_identity_id !== identityId)
        throw new ApiError('FORBIDDEN', `${identityId} does not own pixbook ${named.accountId}/${named.bookId}`)
      return { accountId: named.accountId, bookId: named.bookId, streamKey }
    }
    const { rows } = await db.query<{ stream_key: string }>(
      "SELECT stream_key FROM streams WHERE owner_identity_id = $1 AND stream_type = 'pixbook' ORDER BY head_position LIMIT 2",
      [identityId],
    )
    if (rows.length === 0) throw new ApiError('NOT_FOUND', `${identityId} has no pixbook to redeem into`)
    if (rows.length > 1) throw new ApiError('BAD_REQUEST', `${identityId} has several pixbooks: name one with accountId and bookId`)
    const [, accountId, bookId] = rows[0]!.stream_key.split('/') as [string, string, string]
    return { accountId, bookId, streamKey: rows[0]!.stream_key }
  }

  const RedeemBody = z.strictObject({ token: TokenSchema, accountId: IdSchema.optional(), bookId: IdSchema.optional() })
  const RedeemResponse = IssuedResponse.extend({
    pack: z.object({
      packId: z.string(),
      codeId: z.string(),
      cards: z.array(z.object({ instanceId: z.string(), cardId: z.string(), artHash: z.string() })),
    }),
  })
  openapi.add({
    method: 'POST',
    url: '/v1/codes/redeem',
    summary:
      "Redeem a printed code into one of the session identity's books (accountId and bookId, or its only pixbook): the relay signs PACK_ISSUED with the issuer's custodial key. Once: 409 code_already_redeemed (details name where it went), 410 code_revoked / code_expired, 422 code_not_official for a token that is not an issuer's",
    tags: ['economy'],
    auth: 'session',
    body: RedeemBody,
    response: RedeemResponse,
  })
  app.post('/v1/codes/redeem', async (request) => {
    const session = await requireSession(request)
    const body = parseBody(RedeemBody, request)
    if ((body.accountId === undefined) !== (body.bookId === undefined))
      throw new ApiError('BAD_REQUEST', 'name both accountId and bookId, or neither')
    const { claims } = await official(body.token)
    const book = await redeemBook(session.identityId, body)
    const issuerId = claims.issuer.identityId
    const packId = codePackId(claims.collectionId, claims.codeId)
    const idempotencyKey = `code-${packId}`
    const redeemed = (r: IssuedReceipt | undefined) =>
      codeRefusal('code_already_redeemed', `code ${claims.codeId} was already redeemed`, {
        codeId: claims.codeId,
        packId,
        ...(r ? { stream: r.ack.stream, eventId: r.eventId } : {}),
      })
    const earlier = await issuer.previous(issuerId, idempotencyKey)
    if (earlier) throw redeemed(earlier)
    if (Date.now() >= Date.parse(claims.expiresAt))
      throw codeRefusal('code_expired', `code ${claims.codeId} expired at ${claims.expiresAt}`, { expiresAt: claims.expiresAt })
    try {
      const result = await issuer.issue({
        identityId: issuerId,
        stream: { type: 'pixbook', accountId: book.accountId, bookId: book.bookId },
        streamKey: book.streamKey,
        type: 'PACK_ISSUED',
        genesis: false,
        idempotencyKey,
        // Derived on every attempt from the supply as it is now (a lost race for a last copy derives again).
        payload: async () => {
          const collection = await collectionOf(claims.collectionId)
          const keys = Object.keys(collection.cards).map((id) => `${claims.collectionId} ${id}`)
          const issued = await loadFacts<number>(db, ECONOMY_FACTS.issued, keys)
          const payload = codePackPayload({
            token: body.token,
            claims,
            collection,
            issued: (id) => issued.get(`${claims.collectionId} ${id}`) ?? 0,
          })
          if (payload.cards.length === 0)
            throw codeRefusal('supply_exhausted', `no card code ${claims.codeId} gives is left in supply`, { codeId: claims.codeId })
          return payload
        },
        retry: (e) => e.code === 'DOMAIN_RULE_VIOLATION' && e.details?.rule === 'pack_not_derived',
      })
      const p = result.receipt.payload as { cards: Array<{ cardId: string; artHash: string }> }
      return {
        ...issuedJson(result),
        pack: { packId, codeId: claims.codeId, cards: p.cards.map((c, i) => ({ instanceId: `${packId}-${i}`, ...c })) },
      }
    } catch (error) {
      // A concurrent redemption of the same code won (same issuer, same idempotency key, another body).
      const lost =
        error instanceof ApiError &&
        (error.code === 'IDEMPOTENCY_CONFLICT' ||
          (error.code === 'DOMAIN_RULE_VIOLATION' && error.details?.rule === 'code_already_redeemed'))
      if (lost) throw redeemed(await issuer.previous(issuerId, idempotencyKey))
      throw withRuleStatus(error)
    }
  })
}

const jsonValue = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v)
