/**
 * The media module's routes (docs/media.md):
 *
 * - `PUT /v1/media/sha256/:hex` — session required, checked before the body is read. Body: the image
 *   (application/octet-stream or its image/* type, which must then match), at most 5 MiB (413
 *   MEDIA_TOO_LARGE). 400 HASH_MISMATCH unless its SHA-256 is `hex`; 422 MEDIA_INVALID with
 *   details.reason when validation refuses it; 410 MEDIA_GONE for a taken-down hash. Stores the bytes at
 *   `pixpax/blobs/sha256/{hex}` and the measurements in media_blobs; 201 with the MediaInfo, 200 when
 *   already stored (idempotent).
 * - `GET /v1/media/sha256/:hex` — public: the bytes with their Content-Type, an ETag and immutable
 *   caching (If-None-Match → 304); 404 for a hash never validated here, 410 MEDIA_GONE once taken down
 *   or found corrupt.
 *
 * `app.media` gives other modules the lookups (lookupMedia, takeDownMedia) and the scrubber.
 */
import { createHash } from 'node:crypto'
import type { FastifyError, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { z } from 'zod'
import { requireSession } from '../auth/request-session.js'
import type { Queryable } from '../db/projection-db.js'
import { ApiError, envelope, sendError } from '../errors.js'
import { MEDIA_MAX_BYTES, MEDIA_MIMES } from './limits.js'
import { isTakenDown, lookupMedia, markMediaRepaired, mediaKey, recordMedia, takeDownMedia, type MediaRecord } from './media-store.js'
import { MediaScrubber } from './media-scrubber.js'
import { validateMedia, type MediaInfo } from './validate-media.js'

export interface MediaModule {
  scrubber: MediaScrubber
  lookup(hashes: readonly string[], db?: Queryable): Promise<Map<string, MediaRecord>>
  takeDown(hash: string): Promise<boolean>
}

declare module 'fastify' {
  interface FastifyInstance {
    media: MediaModule
  }
}

const HexParams = z.strictObject({ hex: z.string().regex(/^[0-9a-f]{64}$/) })
export const MediaInfoSchema = z.object({
  hash: z.string(),
  mime: z.enum(MEDIA_MIMES),
  width: z.number().int(),
  height: z.number().int(),
  frames: z.number().int(),
  uniqueColors: z.number().int(),
  transparent: z.boolean(),
  bytes: z.number().int(),
})
const UPLOAD_TYPES = ['application/octet-stream', ...MEDIA_MIMES, 'image/x-ms-bmp']
const CACHE_IMMUTABLE = 'public, max-age=31536000, immutable'

function parseHex(params: unknown): string {
  const parsed = HexParams.safeParse(params)
  if (!parsed.success) throw new ApiError('NOT_FOUND', 'a media address is sha256/ + 64 lowercase hex digits')
  return parsed.data.hex
}

const infoOf = (r: MediaRecord): MediaInfo => ({
  hash: r.hash,
  mime: r.mime,
  width: r.width,
  height: r.height,
  frames: r.frames,
  uniqueColors: r.uniqueColors,
  transparent: r.transparent,
  bytes: r.bytes,
})

const gone = (hash: string, status: string): ApiError =>
  new ApiError(
    'MEDIA_GONE',
    status === 'taken_down' ? `${hash} was taken down` : `the stored bytes of ${hash} no longer match their hash`,
    { hash, status },
  )

async function mediaRoutes(app: FastifyInstance): Promise<void> {
  const { db, store, openapi } = app.relay

  // Scoped to this plugin, like the blob routes' parser; the limit is the media limit, and going over
  // it is MEDIA_TOO_LARGE here (Fastify checks Content-Length before reading a byte).
  app.addContentTypeParser(UPLOAD_TYPES, { parseAs: 'buffer', bodyLimit: MEDIA_MAX_BYTES }, (_request, body, done) => done(null, body))
  app.setErrorHandler((error, request, reply) =>
    sendError(
      request,
      reply,
      (error as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? new ApiError('MEDIA_TOO_LARGE', `an image is at most ${MEDIA_MAX_BYTES} bytes (5 MiB)`, { maxBytes: MEDIA_MAX_BYTES })
        : error,
    ),
  )

  openapi.add({
    method: 'PUT',
    url: '/v1/media/sha256/:hex',
    summary:
      'Upload an image (PNG, GIF, WebP, BMP; ≤ 5 MiB; Makapix canvas sizes) as application/octet-stream or its image/* type; ' +
      'validated, then stored. 201 created, 200 already stored; 422 MEDIA_INVALID, 413 MEDIA_TOO_LARGE, 410 MEDIA_GONE',
    tags: ['media'],
    auth: 'session',
    response: MediaInfoSchema,
  })
  app.put(
    '/v1/media/sha256/:hex',
    {
      bodyLimit: MEDIA_MAX_BYTES,
      // Before the body is read: an anonymous upload costs the relay nothing.
      onRequest: async (request) => {
        await requireSession(request)
      },
    },
    async (request, reply) => {
      const session = await requireSession(request)
      const hex = parseHex(request.params)
      const hash = `sha256:${hex}`
      const body = request.body
      if (!Buffer.isBuffer(body)) throw new ApiError('UNSUPPORTED_MEDIA_TYPE', `an image body must be one of ${UPLOAD_TYPES.join(', ')}`)
      const actual = createHash('sha256').update(body).digest('hex')
      if (actual !== hex) {
        const error = new ApiError('HASH_MISMATCH', `the body's SHA-256 is ${actual}, not ${hex}`, {
          expected: hash,
          actual: `sha256:${actual}`,
        })
        return reply.status(400).send(envelope(error, request.id))
      }
      const bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
      const existing = (await lookupMedia(db, [hash])).get(hash)
      if (existing?.status === 'taken_down') throw gone(hash, existing.status)
      void reply.header('etag', `"${hash}"`).header('location', `/v1/media/sha256/${hex}`)
      if (existing?.status === 'ok') {
        await store.putIfAbsent(mediaKey(hash), bytes, existing.mime)
        return reply.status(200).send(infoOf(existing))
      }

      const info = await validateMedia(bytes, { declaredMime: request.headers['content-type'] })
      if (existing?.status === 'corrupt') {
        // The address proves these are the right bytes: they replace the damaged copy.
        await store.put(mediaKey(hash), bytes, info.mime)
        await markMediaRepaired(db, hash)
        return reply.status(200).send(infoOf(existing))
      }
      await store.putIfAbsent(mediaKey(hash), bytes, info.mime)
      const created = await recordMedia(db, info, session.identityId)
      // A takedown that landed while we validated: it wins, and the bytes we just wrote go.
      if (!created && (await isTakenDown(db, hash))) {
        await store.delete(mediaKey(hash))
        throw gone(hash, 'taken_down')
      }
      return reply.status(created ? 201 : 200).send(info)
    },
  )

  openapi.add({
    method: 'GET',
    url: '/v1/media/sha256/:hex',
    summary: 'A validated image by its SHA-256: its bytes and Content-Type, ETag, immutable caching; 404 unknown, 410 MEDIA_GONE',
    tags: ['media'],
    auth: 'none',
  })
  app.get('/v1/media/sha256/:hex', async (request, reply) => {
    const hex = parseHex(request.params)
    const hash = `sha256:${hex}`
    const record = (await lookupMedia(db, [hash])).get(hash)
    if (!record) throw new ApiError('NOT_FOUND', `no media ${hash} on this relay`)
    if (record.status !== 'ok') throw gone(hash, record.status)
    const etag = `"${hash}"`
    void reply
      .header('etag', etag)
      .header('cache-control', CACHE_IMMUTABLE)
      .header('x-content-type-options', 'nosniff')
      // Opened directly, the bytes are an image and nothing else: no script, no plugin, no navigation.
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('cross-origin-resource-policy', 'cross-origin')
      .header('access-control-allow-origin', '*')
    const inm = request.headers['if-none-match']
    if (typeof inm === 'string' && inm.split(',').some((t) => t.trim() === etag || t.trim() === '*')) return reply.status(304).send()
    const bytes = await store.get(mediaKey(hash))
    if (!bytes) {
      request.log.warn({ hash }, 'validated media has no bytes in the store (the scrubber will mark it corrupt)')
      void reply.removeHeader('cache-control').removeHeader('etag')
      throw new ApiError('NOT_FOUND', `the bytes of ${hash} are missing from the store`)
    }
    return reply.type(record.mime).send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  })
}

/** Registers the media routes and decorates `app.media` (shared with every plugin: fastify-plugin). */
export const mediaPlugin = fp(
  async (app: FastifyInstance) => {
    const { db, store, config } = app.relay
    const scrubber = new MediaScrubber({ db, store, intervalMs: config.MEDIA_SCRUB_INTERVAL_MS, log: app.log })
    app.decorate('media', {
      scrubber,
      lookup: (hashes: readonly string[], on: Queryable = db) => lookupMedia(on, hashes),
      takeDown: (hash: string) => takeDownMedia(db, store, hash),
    } satisfies MediaModule)
    app.addHook('onClose', async () => {
      await scrubber.stop()
    })
    await app.register(mediaRoutes)
  },
  { name: 'pixpax-media' },
)
