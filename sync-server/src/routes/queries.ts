import { IdSchema, parseStreamKey, UlidSchema, type PublicJwk } from '@pixpax/shared'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { ApiError } from '../errors.js'
import { readStreamPage } from '../domains/streams/stream-reads.js'

function parseQuery<T extends z.ZodType>(schema: T, request: FastifyRequest): z.infer<T> {
  const parsed = schema.safeParse(request.query)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new ApiError('BAD_REQUEST', `query ${issue.path.join('.') || ''}: ${issue.message}`, { path: issue.path.join('.') })
  }
  return parsed.data
}

function parseParams<T extends z.ZodType>(schema: T, request: FastifyRequest): z.infer<T> {
  const parsed = schema.safeParse(request.params)
  if (!parsed.success) throw new ApiError('NOT_FOUND', `no such resource: ${parsed.error.issues[0]!.message}`)
  return parsed.data
}

const StreamKeyParam = z
  .string()
  .max(300)
  .transform((key, ctx) => {
    try {
      parseStreamKey(key)
      return key
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message })
      return z.NEVER
    }
  })

export async function queryRoutes(app: FastifyInstance): Promise<void> {
  const { db, relaySigner, config, openapi } = app.relay

  const HeadQuery = z.strictObject({ key: StreamKeyParam })
  const HeadResponse = z.object({ stream: z.string(), seq: z.number(), eventId: z.string(), hash: z.string() })
  openapi.add({
    method: 'GET',
    url: '/v1/streams/head',
    summary: "A stream's head",
    tags: ['streams'],
    query: HeadQuery,
    response: HeadResponse,
  })
  app.get('/v1/streams/head', async (request) => {
    const { key } = parseQuery(HeadQuery, request)
    await app.relay.authorizeRead(request, key)
    const rows = await db.query<{ seq: number; head_event_id: string; head_hash: string }>(
      'SELECT seq, head_event_id, head_hash FROM streams WHERE stream_key = $1',
      [key],
    )
    const row = rows.rows[0]
    if (!row) throw new ApiError('NOT_FOUND', `stream ${key} has no receipts`)
    return { stream: key, seq: row.seq, eventId: row.head_event_id, hash: row.head_hash }
  })

  const ReceiptsQuery = z.strictObject({
    stream: StreamKeyParam,
    after: UlidSchema.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  openapi.add({
    method: 'GET',
    url: '/v1/receipts',
    summary:
      'Receipts of a stream in chain order, as stored (canonical bytes), paged by eventId. Accept: application/x-ndjson for one receipt per line.',
    tags: ['receipts'],
    query: ReceiptsQuery,
  })
  app.get('/v1/receipts', async (request, reply) => {
    const { stream, after, limit } = parseQuery(ReceiptsQuery, request)
    await app.relay.authorizeRead(request, stream)
    // Canonical bytes as stored (the projection's copy of each object, byte for byte).
    const rows = await readStreamPage(db, stream, after ?? null, limit)
    const texts = rows.map((r) => r.body)
    const next = rows.length === limit ? rows[rows.length - 1]!.event_id : null
    if (request.headers.accept?.includes('application/x-ndjson')) {
      void reply.header('content-type', 'application/x-ndjson')
      if (next) void reply.header('x-next-after', next)
      return texts.map((t) => t + '\n').join('')
    }
    // The stored canonical bytes are embedded verbatim, so a client can hash exactly what was stored.
    void reply.header('content-type', 'application/json; charset=utf-8')
    return `{"stream":${JSON.stringify(stream)},"receipts":[${texts.join(',')}],"next":${JSON.stringify(next)}}`
  })

  const IdentityParams = z.object({ id: IdSchema })
  openapi.add({ method: 'GET', url: '/v1/identities/:id', summary: 'An identity and its keys (public)', tags: ['identities'] })
  app.get('/v1/identities/:id', async (request) => {
    const { id } = parseParams(IdentityParams, request)
    const rows = await db.query<{
      identity_id: string
      account_id: string
      kind: string
      display_name: string | null
      created_event_id: string
      created_at: string
    }>('SELECT * FROM identities WHERE identity_id = $1', [id])
    const identity = rows.rows[0]
    if (!identity) throw new ApiError('NOT_FOUND', `identity ${id} is not known`)
    const keys = await db.query<{
      public_key_id: string
      public_key: PublicJwk | string
      added_position: number
      revoked_position: number | null
    }>(
      'SELECT public_key_id, public_key, added_position, revoked_position FROM identity_keys WHERE identity_id = $1 ORDER BY added_position',
      [id],
    )
    return {
      identityId: identity.identity_id,
      accountId: identity.account_id,
      kind: identity.kind,
      displayName: identity.display_name,
      createdEventId: identity.created_event_id,
      createdAt: identity.created_at,
      stream: `identity/${id}`,
      keys: keys.rows.map((k) => ({
        publicKeyId: k.public_key_id,
        publicKey: typeof k.public_key === 'string' ? (JSON.parse(k.public_key) as PublicJwk) : k.public_key,
        addedPosition: k.added_position,
        revokedPosition: k.revoked_position,
      })),
    }
  })

  const PixbookParams = z.object({ accountId: IdSchema, bookId: IdSchema })
  openapi.add({
    method: 'GET',
    url: '/v1/pixbooks/:accountId/:bookId',
    summary: 'A pixbook projection: owner, cards, packs, last save',
    tags: ['pixbooks'],
  })
  app.get('/v1/pixbooks/:accountId/:bookId', async (request) => {
    const { accountId, bookId } = parseParams(PixbookParams, request)
    const stream = `pixbook/${accountId}/${bookId}`
    await app.relay.authorizeRead(request, stream)
    const rows = await db.query<Record<string, unknown>>('SELECT * FROM pixbooks WHERE account_id = $1 AND book_id = $2', [
      accountId,
      bookId,
    ])
    const book = rows.rows[0]
    if (!book) throw new ApiError('NOT_FOUND', `pixbook ${accountId}/${bookId} is not known`)
    const [cards, packs, head] = await Promise.all([
      db.query<Record<string, unknown>>(
        'SELECT card_id, art_hash, pack_id, added_event_id FROM pixbook_cards WHERE account_id = $1 AND book_id = $2 ORDER BY card_id',
        [accountId, bookId],
      ),
      db.query<Record<string, unknown>>(
        'SELECT pack_id, series_id, cards, issued_event_id, opened_event_id FROM pixbook_packs WHERE account_id = $1 AND book_id = $2 ORDER BY pack_id',
        [accountId, bookId],
      ),
      db.query<{ seq: number; head_event_id: string; head_hash: string }>(
        'SELECT seq, head_event_id, head_hash FROM streams WHERE stream_key = $1',
        [stream],
      ),
    ])
    return {
      accountId,
      bookId,
      stream,
      ownerIdentityId: book.owner_identity_id,
      title: book.title,
      description: book.description,
      seriesId: book.series_id,
      cardCount: book.card_count,
      lastSave: book.last_saved_event_id
        ? { eventId: book.last_saved_event_id, snapshotHash: book.last_snapshot_hash, documentUrl: book.last_document_url }
        : null,
      createdAt: book.created_at,
      updatedAt: book.updated_at,
      head: head.rows[0] ? { seq: head.rows[0].seq, eventId: head.rows[0].head_event_id, hash: head.rows[0].head_hash } : null,
      cards: cards.rows.map((c) => ({ cardId: c.card_id, artHash: c.art_hash, packId: c.pack_id, addedEventId: c.added_event_id })),
      packs: packs.rows.map((p) => ({
        packId: p.pack_id,
        seriesId: p.series_id,
        cards: (typeof p.cards === 'string' ? JSON.parse(p.cards) : p.cards) as unknown,
        issuedEventId: p.issued_event_id,
        openedEventId: p.opened_event_id,
      })),
    }
  })

  openapi.add({ method: 'GET', url: '/v1/relay', summary: "The relay's identity and ack-signing key", tags: ['relay'] })
  app.get('/v1/relay', async () => ({
    identityId: config.RELAY_IDENTITY_ID,
    publicKey: relaySigner.publicKey,
    publicKeyId: relaySigner.publicKeyId,
  }))
}
