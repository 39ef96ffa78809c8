/**
 * Custodial commands (the seed's command API): a signed-in user without a local key asks the relay to
 * author a pixbook receipt; the relay builds it, signs it with the identity's custodial key, chains it
 * to the stream head and appends it through the same Ingestor as any posted receipt — same checks, same
 * ack. Commands return `{eventId, seq, hash, ack, receipt}`.
 *
 * The custodial key must first be registered by the identity itself: GET
 * /v1/identities/:id/custodial-key, sign a KEY_ADDED of that key with a key the identity holds, post it
 * to /v1/receipts. Until then commands answer 422 KEY_UNKNOWN.
 */
import { randomUUID } from 'node:crypto'
import {
  buildReceipt,
  canonicalJson,
  IdempotencyKeySchema,
  IdSchema,
  onlyOpensStream,
  parseReceipt,
  PixpaxError,
  STREAM_TYPES,
  utf8DecodeStrict,
  type ChainHead,
  type Receipt,
  type Signer,
} from '@pixpax/shared'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { requireSession } from '../auth/request-session.js'
import { ApiError } from '../errors.js'
import type { AcceptedResult } from '../ingest/ingest.js'
import { openCustodialKeys, type CustodialKeys } from '../signing/custodial-keys.js'
import { parseBody, parseParams } from './parse.js'

/** Command name (URL) → the pixbook receipt type it authors. */
export const PIXBOOK_COMMANDS = {
  create: 'PIXBOOK_CREATED',
  save: 'PIXBOOK_SAVE',
  'add-card': 'CARD_ADDED',
  'remove-card': 'CARD_REMOVED',
  'open-pack': 'PACK_OPENED',
  'offer-trade': 'CARD_TRADE_OFFERED',
  'accept-trade': 'CARD_TRADE_ACCEPTED',
  'decline-trade': 'CARD_TRADE_DECLINED',
  'cancel-trade': 'CARD_TRADE_CANCELLED',
} as const

/** A CHAIN_CONFLICT means someone appended between reading the head and the append: rebuild, retry. */
export const MAX_COMMAND_ATTEMPTS = 5

/** A payload is at most 64 KiB canonical; its JSON text with escapes may be somewhat longer. */
export const COMMAND_BODY_LIMIT = 256 * 1024

export interface CommandRoutesOptions {
  /** Defaults to openCustodialKeys(config): Vault Transit with VAULT_ADDR, else key files. */
  custodialKeys?: CustodialKeys
}

interface CommandResult extends AcceptedResult {
  receipt: Receipt
}

function respond(result: AcceptedResult, receipt: Receipt): Omit<CommandResult, 'ok'> {
  return { eventId: result.eventId, seq: result.seq, position: result.position, hash: result.hash, ack: result.ack, receipt }
}

/** Anything a custodial backend throws that is not ours: Vault down, a key file unreadable. */
function signerUnavailable(request: FastifyRequest, cause: unknown): never {
  if (cause instanceof ApiError || cause instanceof PixpaxError) throw cause
  request.log.error({ err: cause }, 'custodial signing failed')
  throw new ApiError('UNAVAILABLE', 'custodial signing is unavailable; retry later', undefined, { cause })
}

export async function commandRoutes(app: FastifyInstance, options: CommandRoutesOptions): Promise<void> {
  const { db, store, ingestor, openapi, sha256, config } = app.relay
  const custodialKeys = options.custodialKeys ?? openCustodialKeys(config)

  const IdentityParams = z.object({ id: IdSchema })
  const CustodialKeyResponse = z.object({
    identityId: z.string(),
    publicKey: z.object({ kty: z.string(), crv: z.string(), x: z.string(), y: z.string() }),
    publicKeyId: z.string(),
    status: z.enum(['unregistered', 'active', 'revoked']),
  })
  openapi.add({
    method: 'GET',
    url: '/v1/identities/:id/custodial-key',
    summary:
      "The identity's custodial public key (created on first request). Register it by posting a KEY_ADDED of it, signed by one of the identity's keys, to /v1/receipts",
    tags: ['commands', 'identities'],
    auth: 'session',
    response: CustodialKeyResponse,
  })
  app.get('/v1/identities/:id/custodial-key', async (request) => {
    const session = await requireSession(request)
    const { id } = parseParams(IdentityParams, request)
    if (session.identityId !== id)
      throw new ApiError('FORBIDDEN', `a session of ${session.identityId} may not manage the custodial key of ${id}`)
    const signer = await custodialKeys.getOrCreate(id).catch((cause: unknown) => signerUnavailable(request, cause))
    return { identityId: id, publicKey: signer.publicKey, publicKeyId: signer.publicKeyId, status: await keyStatus(id, signer.publicKeyId) }
  })

  async function keyStatus(identityId: string, publicKeyId: string): Promise<'unregistered' | 'active' | 'revoked'> {
    const rows = await db.query<{ revoked_position: number | null }>(
      'SELECT revoked_position FROM identity_keys WHERE identity_id = $1 AND public_key_id = $2',
      [identityId, publicKeyId],
    )
    const row = rows.rows[0]
    return !row ? 'unregistered' : row.revoked_position === null ? 'active' : 'revoked'
  }

  /** The custodial signer of an identity whose key is registered and not revoked: else KEY_UNKNOWN / KEY_REVOKED. */
  async function registeredSigner(request: FastifyRequest, identityId: string): Promise<Signer> {
    const signer = await custodialKeys.get(identityId).catch((cause: unknown) => signerUnavailable(request, cause))
    const status = signer ? await keyStatus(identityId, signer.publicKeyId) : 'unregistered'
    if (!signer || status === 'unregistered') {
      throw new ApiError(
        'KEY_UNKNOWN',
        `identity ${identityId} has no registered custodial key: GET /v1/identities/${identityId}/custodial-key, sign a KEY_ADDED of that key with one of your keys and POST it to /v1/receipts`,
        { identityId, ...(signer ? { publicKeyId: signer.publicKeyId } : {}) },
      )
    }
    if (status === 'revoked') {
      throw new ApiError('KEY_REVOKED', `the custodial key ${signer.publicKeyId} of ${identityId} is revoked`, {
        identityId,
        publicKeyId: signer.publicKeyId,
      })
    }
    return signer
  }

  async function head(streamKey: string): Promise<ChainHead | null> {
    const rows = await db.query<{ head_event_id: string; head_hash: string }>(
      'SELECT head_event_id, head_hash FROM streams WHERE stream_key = $1',
      [streamKey],
    )
    const row = rows.rows[0]
    return row ? { eventId: row.head_event_id, hash: row.head_hash } : null
  }

  async function storedReceipt(streamKey: string, seq: number): Promise<Receipt | undefined> {
    const rows = await db.query<{ object_key: string }>('SELECT object_key FROM receipts WHERE stream_key = $1 AND seq = $2', [
      streamKey,
      seq,
    ])
    const key = rows.rows[0]?.object_key
    const bytes = key ? await store.get(key) : undefined
    return bytes ? parseReceipt(utf8DecodeStrict(bytes), sha256).receipt : undefined
  }

  /**
   * The first result for (identity, idempotencyKey), if the key was used: the same command again gets it
   * (the receipt is not rebuilt — a new one would differ in eventId and createdAt); another command with
   * that key is IDEMPOTENCY_CONFLICT.
   */
  async function previousResult(
    identityId: string,
    idempotencyKey: string,
    streamKey: string,
    type: string,
    payload: Record<string, unknown>,
  ) {
    const first = await ingestor.lookupIdempotent(identityId, idempotencyKey)
    if (!first) return undefined
    const receipt = await storedReceipt(first.ack.stream, first.seq)
    if (!receipt) throw new ApiError('UNAVAILABLE', `receipt ${first.eventId} is missing from the object store`)
    if (first.ack.stream !== streamKey || receipt.type !== type || canonicalJson(receipt.payload) !== canonicalJson(payload)) {
      throw new ApiError(
        'IDEMPOTENCY_CONFLICT',
        `idempotencyKey ${idempotencyKey} was already used by ${identityId} for another command (${receipt.type} on ${first.ack.stream})`,
        {
          eventId: first.eventId,
        },
      )
    }
    return respond(first, receipt)
  }

  function idempotencyKeyOf(request: FastifyRequest, fromBody: string | undefined): string | undefined {
    const header = request.headers['idempotency-key']
    if (header === undefined) return fromBody
    if (typeof header !== 'string' || !IdempotencyKeySchema.safeParse(header).success) {
      throw new ApiError('BAD_REQUEST', 'the Idempotency-Key header must be 1–128 of A–Z a–z 0–9 _ . : -')
    }
    if (fromBody !== undefined && fromBody !== header)
      throw new ApiError('BAD_REQUEST', 'idempotencyKey in the body and the Idempotency-Key header differ')
    return header
  }

  const spec = STREAM_TYPES.pixbook!
  const BookParams = z.object({ accountId: IdSchema, bookId: IdSchema })
  const CommandResponse = z.object({
    eventId: z.string(),
    seq: z.number(),
    hash: z.string(),
    ack: z.object({
      stream: z.string(),
      seq: z.number(),
      eventId: z.string(),
      hash: z.string(),
      relayKeyId: z.string(),
      signature: z.string(),
    }),
    receipt: z.record(z.string(), z.unknown()),
  })

  for (const [command, type] of Object.entries(PIXBOOK_COMMANDS)) {
    const Body = z.strictObject({ payload: spec.receipts[type]!.payload, idempotencyKey: IdempotencyKeySchema.optional() })
    const url = `/v1/pixbooks/:accountId/:bookId/commands/${command}`
    openapi.add({
      method: 'POST',
      url,
      summary: `Custodial command: the relay signs a ${type} with the session identity's custodial key and appends it. Idempotency-Key header or body idempotencyKey makes a retry return the first result`,
      tags: ['commands'],
      auth: 'session',
      body: Body,
      response: CommandResponse,
    })
    app.post(url, { bodyLimit: COMMAND_BODY_LIMIT }, async (request) => {
      const session = await requireSession(request)
      const { accountId, bookId } = parseParams(BookParams, request)
      const body = parseBody(Body, request)
      const payload: Record<string, unknown> = body.payload
      const { identityId } = session
      const stream = { type: 'pixbook', accountId, bookId }
      const streamKey = `pixbook/${accountId}/${bookId}`
      const clientKey = idempotencyKeyOf(request, body.idempotencyKey)
      if (clientKey) {
        const previous = await previousResult(identityId, clientKey, streamKey, type, payload)
        if (previous) return previous
      }
      const signer = await registeredSigner(request, identityId)
      const idempotencyKey = clientKey ?? randomUUID()
      for (let attempt = 1; ; attempt++) {
        const prev = onlyOpensStream(spec, type) ? null : await head(streamKey)
        const receipt = await buildReceipt({ stream, type, payload, identityId, signer, prev, idempotencyKey, sha256 }).catch(
          (cause: unknown) => signerUnavailable(request, cause),
        )
        const [result] = await ingestor.ingest([receipt])
        if (result!.ok) return respond(result!, receipt)
        const { code, message, details } = result!.error
        if (code === 'CHAIN_CONFLICT' && !onlyOpensStream(spec, type) && attempt < MAX_COMMAND_ATTEMPTS) continue
        if (code === 'IDEMPOTENCY_CONFLICT' && clientKey) {
          // A concurrent request with the same key won the race: answer with its result.
          const previous = await previousResult(identityId, clientKey, streamKey, type, payload)
          if (previous) return previous
        }
        throw new ApiError(code, message, details)
      }
    })
  }
}
