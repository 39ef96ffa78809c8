/**
 * Read-only routes of the acceptance log (docs/log.md): the signed checkpoint, the tiles and entry
 * bundles exactly as stored, and RFC 9162 inclusion and consistency proofs computed from the tiles.
 * The log is public (it names streams and hashes, never payloads), like identity streams.
 */
import {
  consistencyProof,
  hashAtFromTiles,
  inclusionProof,
  parseTilePath,
  proofToJson,
  tileReaderFromStore,
  TILE_WIDTH,
  type TileReader,
} from '@pixpax/shared'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { ApiError } from '../errors.js'
import { parseBody } from '../routes/parse.js'
import { formatNotice } from '../sync/notifier.js'
import { acceptCosignature, CosignatureBodySchema } from './cosignature-intake.js'
import { COSIGNED_NOTICE, cosignaturesOf } from './cosignature-store.js'

const IMMUTABLE = 'public, max-age=31536000, immutable'

/** Full tiles never change: a small LRU in front of the store serves proofs without refetching them. */
function cachedReader(get: (path: string) => Promise<Uint8Array | undefined>, capacity = 4096): TileReader {
  const cache = new Map<string, Uint8Array>()
  const cachedGet = async (path: string): Promise<Uint8Array | undefined> => {
    const hit = cache.get(path)
    if (hit) return hit
    const bytes = await get(path)
    // Only full tiles (no `.p/`) are cached: a partial one may be replaced by its full tile later.
    if (bytes && !path.includes('.p/')) {
      cache.set(path, bytes)
      if (cache.size > capacity) cache.delete(cache.keys().next().value!)
    }
    return bytes
  }
  return tileReaderFromStore(cachedGet)
}

const Index = z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)

export async function logRoutes(app: FastifyInstance): Promise<void> {
  const { db, store, sha256, openapi, verifier, notifier } = app.relay
  const reader = cachedReader((path) => store.get(path))
  const cosignatures = cosignaturesOf(store)

  async function currentSize(): Promise<number> {
    const { rows } = await db.query<{ size: number; note: string }>('SELECT size, note FROM log_checkpoint')
    if (!rows[0]?.note) throw new ApiError('UNAVAILABLE', 'the log has no checkpoint yet')
    return rows[0].size
  }

  openapi.add({
    method: 'GET',
    url: '/v1/log/checkpoint',
    summary: 'The newest signed checkpoint (C2SP signed note, text/plain), with the witness cosignatures it has',
    tags: ['log'],
  })
  app.get('/v1/log/checkpoint', async (_request, reply) => {
    const { rows } = await db.query<{ size: number; note: string }>('SELECT size, note FROM log_checkpoint')
    if (!rows[0]?.note) throw new ApiError('UNAVAILABLE', 'the log has no checkpoint yet')
    const note = await cosignatures.withCosignatures(Number(rows[0].size), rows[0].note)
    return reply.header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-cache').send(note)
  })

  openapi.add({
    method: 'POST',
    url: '/v1/log/cosignatures',
    summary:
      "A witness's cosignature of a checkpoint (C2SP tlog-cosignature line, docs/log.md §11). No session: the signature authenticates.",
    tags: ['log'],
    body: CosignatureBodySchema,
    response: z.object({ size: z.number(), witness: z.string(), stored: z.enum(['created', 'exists']) }),
  })
  app.post('/v1/log/cosignatures', async (request) => {
    const body = parseBody(CosignatureBodySchema, request)
    const result = await acceptCosignature({ db, sha256, verifier, reader, cosignatures }, body)
    // Every replica's sessions send the newest checkpoint again, now with this cosignature.
    if (result.stored === 'created') {
      if (notifier.channel) await db.query('SELECT pg_notify($1, $2)', [notifier.channel, formatNotice(COSIGNED_NOTICE)])
      else notifier.publish(COSIGNED_NOTICE)
    }
    return result
  })

  openapi.add({
    method: 'GET',
    url: '/v1/log/tile/*',
    summary: 'A hash tile or entry bundle, at its C2SP tlog-tiles path (the store path without pixpax/log/)',
    tags: ['log'],
  })
  app.get('/v1/log/tile/*', async (request, reply) => {
    const rest = (request.params as { '*': string })['*']
    const tile = parseTilePath(`tile/${rest}`)
    if (!tile) throw new ApiError('NOT_FOUND', `no log tile tile/${rest}`)
    const bytes = await store.get(tile.path)
    if (!bytes) throw new ApiError('NOT_FOUND', `log tile tile/${rest} does not exist (yet)`)
    // A tile's bytes at a given width never change; a partial one may later be deleted in favour of the full one.
    return reply
      .header('content-type', 'application/octet-stream')
      .header('cache-control', tile.width === TILE_WIDTH ? IMMUTABLE : 'public, max-age=3600')
      .send(Buffer.from(bytes))
  })

  openapi.add({
    method: 'GET',
    url: '/v1/log/proof/inclusion',
    summary: 'RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves: {"hashes": [base64…]}',
    tags: ['log'],
  })
  app.get('/v1/log/proof/inclusion', async (request) => {
    const q = z.object({ index: Index, size: Index }).safeParse(request.query)
    if (!q.success) throw new ApiError('BAD_REQUEST', 'index and size must be non-negative integers')
    const { index, size } = q.data
    const stored = await currentSize()
    if (size > stored)
      throw new ApiError('BAD_REQUEST', `size ${size} is beyond the newest checkpoint (${stored})`, { checkpointSize: stored })
    if (index >= size) throw new ApiError('BAD_REQUEST', `index ${index} is not below size ${size}`)
    return proofToJson(await inclusionProof(sha256, index, size, hashAtFromTiles(sha256, stored, reader)))
  })

  openapi.add({
    method: 'GET',
    url: '/v1/log/proof/consistency',
    summary: 'RFC 9162 consistency proof from the tree of `from` leaves to the tree of `to` leaves: {"hashes": [base64…]}',
    tags: ['log'],
  })
  app.get('/v1/log/proof/consistency', async (request) => {
    const q = z.object({ from: Index, to: Index }).safeParse(request.query)
    if (!q.success) throw new ApiError('BAD_REQUEST', 'from and to must be non-negative integers')
    const { from, to } = q.data
    const stored = await currentSize()
    if (to > stored) throw new ApiError('BAD_REQUEST', `to ${to} is beyond the newest checkpoint (${stored})`, { checkpointSize: stored })
    if (from < 1 || from > to) throw new ApiError('BAD_REQUEST', 'a consistency proof needs 1 ≤ from ≤ to')
    return proofToJson(await consistencyProof(sha256, from, to, hashAtFromTiles(sha256, stored, reader)))
  })
}
