/**
 * The economy's routes (docs/economy.md):
 * - public: the catalog (`GET /v1/collections`, `/v1/collections/:collectionId`), card art as SVG, drops;
 * - admin (ADMIN_IDENTITIES): collection commands and drops signed by a platform issuer's custodial key
 *   (`POST /v1/collections/:collectionId/commands/:command`, `POST /v1/drops`, `POST /v1/drops/:dropId/reveal`);
 * - session: `POST /v1/drops/:dropId/claim` (one pack per collector per drop, a retry gets the same
 *   pack), a book's collection view (`GET /v1/pixbooks/:accountId/:bookId/collection`) and its counterpart
 *   receipts (`GET /v1/pixbooks/:accountId/:bookId/counterparts`, for the offline book view).
 */
import { randomBytes } from 'node:crypto'
import {
  base64UrlEncode,
  cardArtSvg,
  CARD_ART_BYTES,
  CollectionCreatedPayload,
  CollectionVersionPublishedPayload,
  CreatedAtSchema,
  dropPackId,
  dropPackPayload,
  ECONOMY_FACTS,
  IdSchema,
  isoWeekDropId,
  seedCommitment,
  SeriesRetiredPayload,
  sha256Ref,
  type CollectionFact,
  type DropFact,
} from '@pixpax/shared'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { requireAdmin, requireSession } from '../../auth/request-session.js'
import { ApiError } from '../../errors.js'
import { blobKey } from '../../routes/blobs.js'
import { parseBody, parseParams } from '../../routes/parse.js'
import { openCustodialKeys, type CustodialKeys } from '../../signing/custodial-keys.js'
import { CustodialIssuer, issuedJson, IssuedResponse, type IssuedReceipt } from './custodial-issuer.js'
import { codeRoutes } from './code-routes.js'
import { loadFacts } from './load-facts.js'
import { bookView } from './book-view.js'
import { counterpartReceipts } from './counterparts.js'

export interface EconomyRoutesOptions {
  custodialKeys?: CustodialKeys
}

const WEEK_MS = 7 * 24 * 3600 * 1000

export async function economyRoutes(app: FastifyInstance, options: EconomyRoutesOptions): Promise<void> {
  const { db, store, ingestor, openapi, sha256, config } = app.relay
  const issuer = new CustodialIssuer({ db, store, ingestor, sha256, keys: options.custodialKeys ?? openCustodialKeys(config) })
  const respond = (r: IssuedReceipt) => issuedJson(r)
  codeRoutes(app, issuer)

  // ---- catalog ------------------------------------------------------------------------------------

  const CollectionParams = z.object({ collectionId: IdSchema })
  openapi.add({
    method: 'GET',
    url: '/v1/collections',
    summary: 'Every collection: id, issuer, name, latest version, card count',
    tags: ['economy'],
  })
  app.get('/v1/collections', async () => {
    const { rows } = await db.query<{ collection_id: string; owner_identity_id: string; name: string; version: number; cards: number }>(
      `SELECT c.collection_id, c.owner_identity_id, c.name, c.version, (SELECT count(*)::int FROM economy_cards d WHERE d.collection_id = c.collection_id) AS cards
       FROM economy_collections c ORDER BY c.collection_id LIMIT 1000`,
    )
    return {
      collections: rows.map((r) => ({
        collectionId: r.collection_id,
        issuer: r.owner_identity_id,
        name: r.name,
        version: r.version,
        cardCount: r.cards,
      })),
    }
  })

  openapi.add({
    method: 'GET',
    url: '/v1/collections/:collectionId',
    summary:
      'A collection: palette, series (retired or not), cards with art hash, supply, how many were issued and how many of those were burned',
    tags: ['economy'],
  })
  app.get('/v1/collections/:collectionId', async (request) => {
    const { collectionId } = parseParams(CollectionParams, request)
    const c = await collectionRow(collectionId)
    const series = await db.query<{ series_id: string; name: string; version: number; retired_event_id: string | null }>(
      'SELECT series_id, name, version, retired_event_id FROM economy_series WHERE collection_id = $1 ORDER BY series_id',
      [collectionId],
    )
    const cards = await db.query<{
      card_id: string
      series_id: string
      name: string
      art: string
      supply: string | null
      version: number
      issued: string
      burned: string
    }>(
      'SELECT card_id, series_id, name, art, supply, version, issued, burned FROM economy_cards WHERE collection_id = $1 ORDER BY card_id',
      [collectionId],
    )
    return {
      collectionId,
      issuer: c.owner_identity_id,
      name: c.name,
      description: c.description,
      palette: c.palette,
      version: c.version,
      series: series.rows.map((s) => ({ seriesId: s.series_id, name: s.name, version: s.version, retired: s.retired_event_id !== null })),
      cards: cards.rows.map((d) => ({
        cardId: d.card_id,
        seriesId: d.series_id,
        name: d.name,
        art: d.art,
        supply: d.supply === null ? null : Number(d.supply),
        issued: Number(d.issued),
        burned: Number(d.burned),
        version: d.version,
        artUrl: `/v1/collections/${collectionId}/cards/${d.card_id}/art.svg`,
      })),
    }
  })

  async function collectionRow(collectionId: string) {
    const { rows } = await db.query<{
      owner_identity_id: string
      name: string
      description: string | null
      palette: string[] | string
      version: number
    }>('SELECT owner_identity_id, name, description, palette, version FROM economy_collections WHERE collection_id = $1', [collectionId])
    const row = rows[0]
    if (!row) throw new ApiError('NOT_FOUND', `no collection ${collectionId}`)
    return { ...row, palette: typeof row.palette === 'string' ? (JSON.parse(row.palette) as string[]) : row.palette }
  }

  const CardParams = z.object({ collectionId: IdSchema, cardId: IdSchema })
  openapi.add({
    method: 'GET',
    url: '/v1/collections/:collectionId/cards/:cardId/art.svg',
    summary: "A card's 16×16 art in its collection's palette, as SVG (404 until the relay holds the art blob)",
    tags: ['economy'],
  })
  app.get('/v1/collections/:collectionId/cards/:cardId/art.svg', async (request, reply) => {
    const { collectionId, cardId } = parseParams(CardParams, request)
    const c = await collectionRow(collectionId)
    const { rows } = await db.query<{ art: string }>('SELECT art FROM economy_cards WHERE collection_id = $1 AND card_id = $2', [
      collectionId,
      cardId,
    ])
    const art = rows[0]?.art
    if (!art) throw new ApiError('NOT_FOUND', `no card ${cardId} in collection ${collectionId}`)
    const bytes = await store.get(blobKey(art.slice('sha256:'.length)))
    // The address fixes the content, but a blob of another shape under it is not card art.
    if (!bytes || bytes.length !== CARD_ART_BYTES || sha256Ref(bytes, sha256) !== art)
      throw new ApiError('NOT_FOUND', `the relay does not hold the art blob ${art} (PUT /v1/blobs/sha256/…)`)
    void reply.header('etag', `"${art}"`).header('cache-control', 'public, max-age=31536000, immutable')
    return reply.type('image/svg+xml').send(cardArtSvg(bytes, c.palette, Number((request.query as { scale?: string }).scale) || 16))
  })

  const CollectionCommands = {
    create: { type: 'COLLECTION_CREATED', payload: CollectionCreatedPayload },
    'publish-version': { type: 'COLLECTION_VERSION_PUBLISHED', payload: CollectionVersionPublishedPayload },
    'retire-series': { type: 'SERIES_RETIRED', payload: SeriesRetiredPayload },
  } as const
  for (const [command, { type, payload }] of Object.entries(CollectionCommands)) {
    const Body = z.strictObject({ issuerId: IdSchema, payload })
    const url = `/v1/collections/:collectionId/commands/${command}`
    openapi.add({
      method: 'POST',
      url,
      summary: `Admin: the relay signs a ${type} with the platform issuer's custodial key`,
      tags: ['economy', 'admin'],
      auth: 'admin',
      body: Body,
      response: IssuedResponse,
    })
    app.post(url, async (request) => {
      await requireAdmin(request)
      const { collectionId } = parseParams(CollectionParams, request)
      const body = parseBody(Body, request)
      const result = await issuer.issue({
        identityId: body.issuerId,
        stream: { type: 'collection', collectionId },
        streamKey: `collection/${collectionId}`,
        type,
        genesis: type === 'COLLECTION_CREATED',
        idempotencyKey: `collection-${collectionId}-${base64UrlEncode(randomBytes(9))}`,
        payload: async () => body.payload,
      })
      return respond(result)
    })
  }

  // ---- drops --------------------------------------------------------------------------------------

  const DropParams = z.object({ dropId: IdSchema })
  async function dropRow(dropId: string): Promise<DropFact> {
    const drop = (await loadFacts<DropFact>(db, ECONOMY_FACTS.drop, [dropId])).get(dropId)
    if (!drop) throw new ApiError('NOT_FOUND', `no drop ${dropId}`)
    return drop
  }

  openapi.add({
    method: 'GET',
    url: '/v1/drops/:dropId',
    summary: 'A drop: its catalog (collection, version, series), pack size, commitment, window, the seed once revealed, packs issued',
    tags: ['economy'],
  })
  app.get('/v1/drops/:dropId', async (request) => {
    const { dropId } = parseParams(DropParams, request)
    const drop = await dropRow(dropId)
    const { rows } = await db.query<{ seed: string | null; n: number }>(
      'SELECT d.seed, (SELECT count(*)::int FROM economy_packs p WHERE p.drop_id = d.drop_id) AS n FROM economy_drops d WHERE d.drop_id = $1',
      [dropId],
    )
    const { owner, revealed: _revealed, ...rest } = drop
    return { dropId, issuer: owner, ...rest, seed: rows[0]?.seed ?? null, packs: rows[0]?.n ?? 0 }
  })

  const ScheduleBody = z.strictObject({
    issuerId: IdSchema,
    collectionId: IdSchema,
    dropId: IdSchema.optional(),
    version: z.number().int().min(1).optional(),
    series: z.array(IdSchema).min(1).max(64).optional(),
    packSize: z.number().int().min(1).max(20).default(5),
    opensAt: CreatedAtSchema.optional(),
    closesAt: CreatedAtSchema.optional(),
  })
  openapi.add({
    method: 'POST',
    url: '/v1/drops',
    summary:
      'Admin: schedule a drop. The relay draws a secret seed and signs DROP_SCHEDULED (commitment sha256(seed)) with the issuer custodial key; defaults: dropId = ISO week of opensAt (week-YYYY-Www), the latest version, every series not retired, 5 cards, open now for 7 days',
    tags: ['economy', 'admin'],
    auth: 'admin',
    body: ScheduleBody,
    response: IssuedResponse,
  })
  app.post('/v1/drops', async (request) => {
    await requireAdmin(request)
    const body = parseBody(ScheduleBody, request)
    const collection = (await loadFacts<CollectionFact>(db, ECONOMY_FACTS.collection, [body.collectionId])).get(body.collectionId)
    if (!collection) throw new ApiError('NOT_FOUND', `no collection ${body.collectionId}`)
    const opensAt = body.opensAt ?? new Date().toISOString()
    const closesAt = body.closesAt ?? new Date(Date.parse(opensAt) + WEEK_MS).toISOString()
    const dropId = body.dropId ?? isoWeekDropId(new Date(opensAt))
    if ((await loadFacts<DropFact>(db, ECONOMY_FACTS.drop, [dropId])).has(dropId))
      throw new ApiError('CHAIN_CONFLICT', `drop ${dropId} is already scheduled`, { dropId })
    // The seed is kept before the receipt exists: a retry after a failure reuses it (one commitment).
    await db.query('INSERT INTO economy_drop_secrets (drop_id, seed) VALUES ($1, $2) ON CONFLICT (drop_id) DO NOTHING', [
      dropId,
      base64UrlEncode(randomBytes(32)),
    ])
    const seed = await dropSeed(dropId)
    const payload = {
      collectionId: body.collectionId,
      version: body.version ?? collection.version,
      series:
        body.series ??
        Object.keys(collection.series)
          .filter((s) => !collection.series[s]!.retired)
          .sort(),
      packSize: body.packSize,
      commitment: seedCommitment(seed, sha256),
      opensAt,
      closesAt,
    }
    const result = await issuer.issue({
      identityId: body.issuerId,
      stream: { type: 'drop', dropId },
      streamKey: `drop/${dropId}`,
      type: 'DROP_SCHEDULED',
      genesis: true,
      idempotencyKey: `drop-${dropId}`,
      payload: async () => payload,
    })
    return respond(result)
  })

  async function dropSeed(dropId: string): Promise<string> {
    const { rows } = await db.query<{ seed: string }>('SELECT seed FROM economy_drop_secrets WHERE drop_id = $1', [dropId])
    if (!rows[0])
      throw new ApiError('UNAVAILABLE', `this relay does not hold the seed of drop ${dropId}, so it cannot issue or reveal its packs`)
    return rows[0].seed
  }

  openapi.add({
    method: 'POST',
    url: '/v1/drops/:dropId/reveal',
    summary: "Admin: close the drop by revealing its seed (DROP_REVEALED, signed with the issuer's custodial key). No body",
    tags: ['economy', 'admin'],
    auth: 'admin',
    response: IssuedResponse,
  })
  app.post('/v1/drops/:dropId/reveal', async (request) => {
    await requireAdmin(request)
    const { dropId } = parseParams(DropParams, request)
    const drop = await dropRow(dropId)
    const seed = await dropSeed(dropId)
    const result = await issuer.issue({
      identityId: drop.owner,
      stream: { type: 'drop', dropId },
      streamKey: `drop/${dropId}`,
      type: 'DROP_REVEALED',
      genesis: false,
      idempotencyKey: `reveal-${dropId}`,
      payload: async () => ({ seed }),
    })
    return respond(result)
  })

  const ClaimBody = z.strictObject({ accountId: IdSchema, bookId: IdSchema })
  const ClaimResponse = IssuedResponse.extend({
    pack: z.object({
      packId: z.string(),
      dropId: z.string(),
      cards: z.array(z.object({ instanceId: z.string(), cardId: z.string(), artHash: z.string() })),
    }),
  })
  openapi.add({
    method: 'POST',
    url: '/v1/drops/:dropId/claim',
    summary:
      "Claim the session identity's pack of a drop into one of its books: the relay derives it (docs/economy.md) and signs PACK_ISSUED with the issuer's custodial key. One pack per collector per drop: a retry answers the same pack; another book gets 422 drop_already_claimed",
    tags: ['economy'],
    auth: 'session',
    body: ClaimBody,
    response: ClaimResponse,
  })
  app.post('/v1/drops/:dropId/claim', async (request) => {
    const session = await requireSession(request)
    const { dropId } = parseParams(DropParams, request)
    const { accountId, bookId } = parseBody(ClaimBody, request)
    const collector = session.identityId
    const streamKey = `pixbook/${accountId}/${bookId}`
    const owner = await db.query<{ owner_identity_id: string }>('SELECT owner_identity_id FROM streams WHERE stream_key = $1', [streamKey])
    if (!owner.rows[0]) throw new ApiError('NOT_FOUND', `no pixbook ${accountId}/${bookId}`)
    if (owner.rows[0].owner_identity_id !== collector)
      throw new ApiError('FORBIDDEN', `${collector} does not own pixbook ${accountId}/${bookId}`)
    const drop = await dropRow(dropId)
    const packId = dropPackId(dropId, collector, sha256)
    const idempotencyKey = `claim-${packId}`
    const withPack = (r: IssuedReceipt) => {
      const p = r.receipt.payload as { cards: Array<{ cardId: string; artHash: string }> }
      return { ...respond(r), pack: { packId, dropId, cards: p.cards.map((c, i) => ({ instanceId: `${packId}-${i}`, ...c })) } }
    }
    const sameBook = (r: IssuedReceipt | undefined) => r && r.ack.stream === streamKey
    const earlier = await issuer.previous(drop.owner, idempotencyKey)
    if (sameBook(earlier)) return withPack(earlier!)
    if (earlier) throw alreadyClaimed(dropId, packId, earlier.ack.stream)
    const seed = await dropSeed(dropId)
    try {
      const result = await issuer.issue({
        identityId: drop.owner,
        stream: { type: 'pixbook', accountId, bookId },
        streamKey,
        type: 'PACK_ISSUED',
        genesis: false,
        idempotencyKey,
        // Derived on every attempt from the supply as it is now; the rule checks it at the pack's
        // position, so a claim that lost a race for a card's last copy derives again.
        payload: async () => {
          const collection = (await loadFacts<CollectionFact>(db, ECONOMY_FACTS.collection, [drop.collectionId])).get(drop.collectionId)!
          const keys = Object.keys(collection.cards).map((id) => `${drop.collectionId} ${id}`)
          const issued = await loadFacts<number>(db, ECONOMY_FACTS.issued, keys)
          return dropPackPayload({
            seed,
            dropId,
            collector,
            drop,
            collection,
            issued: (id) => issued.get(`${drop.collectionId} ${id}`) ?? 0,
          })
        },
        retry: (e) => e.code === 'DOMAIN_RULE_VIOLATION' && e.details?.rule === 'pack_not_derived',
      })
      return withPack(result)
    } catch (error) {
      // A concurrent claim of the same collector won: answer with its pack (or say where it went).
      const lost =
        error instanceof ApiError &&
        (error.code === 'IDEMPOTENCY_CONFLICT' ||
          (error.code === 'DOMAIN_RULE_VIOLATION' && error.details?.rule === 'drop_already_claimed'))
      if (!lost) throw error
      const first = await issuer.previous(drop.owner, idempotencyKey)
      if (sameBook(first)) return withPack(first!)
      throw alreadyClaimed(dropId, packId, first?.ack.stream)
    }
  })

  function alreadyClaimed(dropId: string, packId: string, stream: string | undefined): ApiError {
    return new ApiError(
      'DOMAIN_RULE_VIOLATION',
      `this collector already claimed its pack of drop ${dropId}${stream ? ` into ${stream}` : ''}`,
      {
        rule: 'drop_already_claimed',
        packId,
        ...(stream ? { stream } : {}),
      },
    )
  }

  // ---- a book's collection -----------------------------------------------------------------------

  const BookParams = z.object({ accountId: IdSchema, bookId: IdSchema })
  openapi.add({
    method: 'GET',
    url: '/v1/pixbooks/:accountId/:bookId/collection',
    summary: 'The card instances a book holds, duplicates per card, completion per collection and series, pack history, trades in and out',
    tags: ['economy', 'pixbooks'],
    auth: 'session',
  })
  app.get('/v1/pixbooks/:accountId/:bookId/collection', async (request) => {
    const { accountId, bookId } = parseParams(BookParams, request)
    await app.relay.authorizeRead(request, `pixbook/${accountId}/${bookId}`)
    return bookView(db, accountId, bookId)
  })

  openapi.add({
    method: 'GET',
    url: '/v1/pixbooks/:accountId/:bookId/counterparts',
    summary:
      "The receipts of other books that decide this book's trades (offers to it and their cancels, acceptances and declines of its offers, the packs of instances it received), each with the relay's ack, in log order: what a client keeps to compute its book offline",
    tags: ['economy', 'pixbooks'],
    auth: 'session',
  })
  app.get('/v1/pixbooks/:accountId/:bookId/counterparts', async (request) => {
    const { accountId, bookId } = parseParams(BookParams, request)
    await app.relay.authorizeRead(request, `pixbook/${accountId}/${bookId}`)
    return { accountId, bookId, receipts: await counterpartReceipts(db, app.relay.relaySigner, accountId, bookId) }
  })
}
