/**
 * Content-addressed blobs (docs/drafts.md, "Blobs"): draft snapshots and media, referenced from receipts
 * by `sha256:{hex}` and stored at `pixpax/blobs/sha256/{hex}` (ARCHITECTURE §4).
 *
 * - `PUT /v1/blobs/sha256/:hex` — session required (checked before the body is read); body
 *   `application/octet-stream`, at most BLOB_MAX_BYTES (413 PAYLOAD_TOO_LARGE); the relay hashes the
 *   body and refuses it with 400 HASH_MISMATCH unless it is exactly `hex`. 201 when stored, 200 when the
 *   same blob was already there (idempotent: the address fixes the content). Body `{hash, size}`.
 * - `GET /v1/blobs/sha256/:hex` — session required too (any identity's), the bytes as
 *   `application/octet-stream` with `etag: "sha256:{hex}"` (If-None-Match → 304). A blob is readable by
 *   whoever has a session and knows its hash: hashes of private content are only found in private
 *   streams, and a SHA-256 cannot be guessed.
 */
import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { requireSession } from '../auth/request-session.js'
import { ApiError, envelope } from '../errors.js'
import { isTakenDown } from '../media/media-store.js'

export const blobKey = (hex: string): string => `pixpax/blobs/sha256/${hex}`

const HexParams = z.strictObject({ hex: z.string().regex(/^[0-9a-f]{64}$/) })
const PutResponse = z.object({ hash: z.string(), size: z.number() })

function parseHex(params: unknown): string {
  const parsed = HexParams.safeParse(params)
  if (!parsed.success) throw new ApiError('NOT_FOUND', 'a blob address is sha256/ + 64 lowercase hex digits')
  return parsed.data.hex
}

export async function blobRoutes(app: FastifyInstance): Promise<void> {
  const { config, db, store, openapi } = app.relay
  const maxBytes = config.BLOB_MAX_BYTES

  // Scoped to this plugin: elsewhere a non-JSON body stays 415 UNSUPPORTED_MEDIA_TYPE.
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: maxBytes }, (_request, body, done) =>
    done(null, body),
  )

  openapi.add({
    method: 'PUT',
    url: '/v1/blobs/sha256/:hex',
    summary: `Store a content-addressed blob (application/octet-stream, ≤ ${maxBytes} bytes); 201 created, 200 already stored`,
    tags: ['blobs'],
    auth: 'session',
    response: PutResponse,
  })
  app.put(
    '/v1/blobs/sha256/:hex',
    {
      bodyLimit: maxBytes,
      // Before the body is read: an anonymous upload costs the relay nothing.
      onRequest: async (request) => {
        await requireSession(request)
      },
    },
    async (request, reply) => {
      const hex = parseHex(request.params)
      const body = request.body
      if (!Buffer.isBuffer(body)) throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'a blob body must be application/octet-stream')
      const actual = createHash('sha256').update(body).digest('hex')
      if (actual !== hex) {
        const error = new ApiError('HASH_MISMATCH', `the body's SHA-256 is ${actual}, not ${hex}`, {
          expected: `sha256:${hex}`,
          actual: `sha256:${actual}`,
        })
        // 400: the upload itself is malformed (its content is not at the address it names).
        return reply.status(400).send(envelope(error, request.id))
      }
      // Media a moderator took down must not come back through the draft route (docs/media.md).
      if (await isTakenDown(db, `sha256:${hex}`)) {
        throw new ApiError('MEDIA_GONE', `sha256:${hex} was taken down`, { hash: `sha256:${hex}`, status: 'taken_down' })
      }
      const outcome = await store.putIfAbsent(
        blobKey(hex),
        new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
        'application/octet-stream',
      )
      void reply.header('etag', `"sha256:${hex}"`)
      return reply.status(outcome === 'created' ? 201 : 200).send({ hash: `sha256:${hex}`, size: body.byteLength })
    },
  )

  openapi.add({
    method: 'GET',
    url: '/v1/blobs/sha256/:hex',
    summary: 'A blob by its SHA-256 (application/octet-stream, etag)',
    tags: ['blobs'],
    auth: 'session',
  })
  app.get('/v1/blobs/sha256/:hex', async (request, reply) => {
    await requireSession(request)
    const hex = parseHex(request.params)
    const etag = `"sha256:${hex}"`
    const inm = request.headers['if-none-match']
    const bytes = await store.get(blobKey(hex))
    if (!bytes) throw new ApiError('NOT_FOUND', `no blob sha256:${hex}`)
    void reply.header('etag', etag).header('cache-control', 'private, max-age=31536000, immutable')
    if (typeof inm === 'string' && inm.split(',').some((t) => t.trim() === etag || t.trim() === '*')) return reply.status(304).send()
    return reply.type('application/octet-stream').send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  })
}
