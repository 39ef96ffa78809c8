/**
 * The media routes over a real relay (startTestRelay: real sockets, Postgres and PGlite, fs store): upload
 * with a session (checked before the body), validation refusals with nothing stored, public GET with
 * its type, ETag and immutable caching, 404 / 410, takedown, lookupMedia, and the scrubber.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CountingDb } from '../src/db/counting-db.js'
import { lookupMedia, mediaKey, takeDownMedia, type CorruptMedia } from '../src/media/index.js'
import {
  adminQuery,
  appendOk,
  dropSchemas,
  identityCreated,
  newIdentity,
  openSession,
  removeDir,
  startTestRelay,
  uniqueSchema,
  type DbKind,
  type TestRelay,
} from './support/relay-harness.js'
import { GOOD_FIXTURES, HOSTILE_FIXTURES, largeHostiles } from './support/media-fixtures.js'

const PREFIX = `pixpax_media_${randomBytes(4).toString('hex')}`
const FIXTURES = join(import.meta.dirname, 'fixtures', 'media')
const read = (sub: string, name: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, sub, name)))
const hexOf = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
/** Content types the upload route parses; others are sent as application/octet-stream. */
const UPLOADABLE = new Set(['image/png', 'image/gif', 'image/webp', 'image/bmp'])

interface ErrorJson {
  error: { code: string; message: string; details?: Record<string, unknown> }
}

beforeAll(async () => {
  await adminQuery('SELECT 1') // no skip: an unreachable Postgres fails the file
})
afterAll(async () => {
  await dropSchemas(PREFIX)
})

describe.each<DbKind>(['pg', 'pglite'])('media routes (%s + fs, real socket)', (db) => {
  let relay: TestRelay
  let token: string
  let uploader: string

  const put = (hex: string, body: Uint8Array, type = 'application/octet-stream', auth: string | null = token) =>
    fetch(`${relay.url}/v1/media/sha256/${hex}`, {
      method: 'PUT',
      headers: { 'content-type': type, ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
      body: body as BodyInit,
    })
  const get = (hex: string, headers: Record<string, string> = {}) => fetch(`${relay.url}/v1/media/sha256/${hex}`, { headers })
  const upload = async (bytes: Uint8Array, type = 'application/octet-stream') => {
    const res = await put(hexOf(bytes), bytes, type)
    if (res.status !== 201 && res.status !== 200) throw new Error(`upload ${res.status}: ${await res.text()}`)
    return hexOf(bytes)
  }
  const rowOf = async (hex: string) =>
    (
      await relay.deps.db.query<{ status: string; uploaded_by: string }>('SELECT status, uploaded_by FROM media_blobs WHERE hash = $1', [
        `sha256:${hex}`,
      ])
    ).rows[0]
  const storedBytes = (hex: string) => relay.deps.store.get(mediaKey(`sha256:${hex}`))

  beforeAll(async () => {
    relay = await startTestRelay({ db, store: 'fs', schema: uniqueSchema(PREFIX) })
    const alice = newIdentity('acc-media')
    uploader = alice.identityId
    await appendOk(relay.url, [await identityCreated(alice)])
    token = await openSession(relay.url, alice)
  })
  afterAll(async () => {
    await relay?.close()
    if (relay) await removeDir(relay.options.dataDir)
  })

  it('refuses an upload without a session before reading its body: 401, nothing stored', async () => {
    const bytes = read('good', 'still-64x64.png')
    const res = await put(hexOf(bytes), bytes, 'image/png', null)
    expect(res.status).toBe(401)
    expect(((await res.json()) as ErrorJson).error.code).toBe('UNAUTHENTICATED')
    expect(await rowOf(hexOf(bytes))).toBeUndefined()
    expect(await storedBytes(hexOf(bytes))).toBeUndefined()
    // The session is checked first: an anonymous 6 MiB body is 401, not 413.
    const big = new Uint8Array(6 * 1024 * 1024)
    const anonymousBig = await put(hexOf(big), big, 'image/png', null)
    expect(anonymousBig.status).toBe(401)
    const signedInBig = await put(hexOf(big), big, 'image/png')
    expect(signedInBig.status).toBe(413)
    expect(((await signedInBig.json()) as ErrorJson).error.code).toBe('MEDIA_TOO_LARGE')
  })

  it.each(Object.entries(GOOD_FIXTURES))(
    'stores %s, serves it publicly with its type, etag and immutable caching',
    async (name, expected) => {
      const bytes = read('good', name)
      const hex = hexOf(bytes)
      const created = await put(hex, bytes, expected.mime)
      expect(created.status).toBe(201)
      expect(await created.json()).toEqual({ ...expected, hash: `sha256:${hex}`, bytes: bytes.length })
      expect(Buffer.from((await storedBytes(hex))!)).toEqual(Buffer.from(bytes))
      expect(await rowOf(hex)).toEqual({ status: 'ok', uploaded_by: uploader })

      const again = await put(hex, bytes)
      expect(again.status).toBe(200)
      expect(await again.json()).toEqual({ ...expected, hash: `sha256:${hex}`, bytes: bytes.length })

      const res = await get(hex) // no session: media is public
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe(expected.mime)
      expect(res.headers.get('etag')).toBe(`"sha256:${hex}"`)
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
      expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.from(bytes))
      const cached = await get(hex, { 'if-none-match': `"sha256:${hex}"` })
      expect(cached.status).toBe(304)
    },
  )

  it('refuses a body that is not at its address: 400 HASH_MISMATCH, nothing stored', async () => {
    const bytes = read('good', 'still-16x16.gif')
    const wrong = hexOf(randomBytes(8))
    const res = await put(wrong, bytes, 'image/gif')
    expect(res.status).toBe(400)
    expect(((await res.json()) as ErrorJson).error.code).toBe('HASH_MISMATCH')
    expect(await rowOf(wrong)).toBeUndefined()
    expect(await storedBytes(wrong)).toBeUndefined()
  })

  const hostiles = [
    ...Object.entries(HOSTILE_FIXTURES).map(([name, h]) => ({ name, bytes: read('hostile', name), ...h })),
    ...largeHostiles(),
  ]
  it.each(hostiles.map((h) => [h.name, h] as const))('refuses %s with its reason, nothing stored', async (_name, hostile) => {
    const hex = hexOf(hostile.bytes)
    const res = await put(hex, hostile.bytes, UPLOADABLE.has(hostile.declaredMime) ? hostile.declaredMime : 'application/octet-stream')
    const body = (await res.json()) as ErrorJson
    expect(res.status).toBe(hostile.code === 'MEDIA_TOO_LARGE' ? 413 : 422)
    expect(body.error.code).toBe(hostile.code)
    if ('reason' in hostile) expect(body.error.details?.reason).toBe(hostile.reason)
    expect(await rowOf(hex)).toBeUndefined()
    expect(await storedBytes(hex)).toBeUndefined()
    expect((await get(hex)).status).toBe(404)
  })

  it('GET: 404 for a hash never validated here (even if a draft blob has those bytes), 404 for a malformed address', async () => {
    const unknown = await get(hexOf(randomBytes(16)))
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as ErrorJson).error.code).toBe('NOT_FOUND')
    const draft = randomBytes(64)
    const blob = await fetch(`${relay.url}/v1/blobs/sha256/${hexOf(draft)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${token}` },
      body: draft,
    })
    expect(blob.status).toBe(201)
    expect((await get(hexOf(draft))).status).toBe(404)
    expect((await get('ABC')).status).toBe(404)
  })

  it('takeDownMedia: bytes deleted, row kept; GET 410, re-upload 410 on both routes', async () => {
    const bytes = read('good', 'lossless-32x64.webp')
    const hex = await upload(bytes)
    expect(await takeDownMedia(relay.deps.db, relay.deps.store, `sha256:${hex}`)).toBe(true)
    expect(await storedBytes(hex)).toBeUndefined()
    expect((await rowOf(hex))?.status).toBe('taken_down')

    const res = await get(hex)
    expect(res.status).toBe(410)
    expect(((await res.json()) as ErrorJson).error).toMatchObject({ code: 'MEDIA_GONE', details: { status: 'taken_down' } })
    const again = await put(hex, bytes, 'image/webp')
    expect(again.status).toBe(410)
    const viaBlobs = await fetch(`${relay.url}/v1/blobs/sha256/${hex}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${token}` },
      body: bytes as BodyInit,
    })
    expect(viaBlobs.status).toBe(410)
    expect(await storedBytes(hex)).toBeUndefined()
    // Idempotent; a hash the relay never validated is not "taken down".
    expect(await takeDownMedia(relay.deps.db, relay.deps.store, `sha256:${hex}`)).toBe(true)
    expect(await takeDownMedia(relay.deps.db, relay.deps.store, `sha256:${hexOf(randomBytes(4))}`)).toBe(false)
  })

  it('lookupMedia answers for many hashes in one query, with each status', async () => {
    const ok = await upload(read('good', 'still-256x128.png'))
    const down = await upload(read('good', 'alpha-palette-32x32.png'))
    await takeDownMedia(relay.deps.db, relay.deps.store, `sha256:${down}`)
    const counting = new CountingDb(relay.deps.db)
    const unknown = `sha256:${hexOf(randomBytes(4))}`
    const found = await lookupMedia(counting, [`sha256:${ok}`, `sha256:${down}`, unknown, 'not-a-hash'])
    expect(counting.counts().queries).toBe(1)
    expect([...found.keys()].sort()).toEqual([`sha256:${ok}`, `sha256:${down}`].sort())
    expect(found.get(`sha256:${ok}`)).toMatchObject({ ...GOOD_FIXTURES['still-256x128.png'], status: 'ok', uploadedBy: uploader })
    expect(found.get(`sha256:${down}`)?.status).toBe('taken_down')
    expect((await relay.app.media.lookup([`sha256:${ok}`])).get(`sha256:${ok}`)?.status).toBe('ok')
  })

  it('scrubber: re-hashes stored media, marks damaged or missing bytes corrupt once, tells listeners; a re-upload repairs', async () => {
    const damaged = await upload(read('good', 'anim-transparent-64x64.gif'))
    const missing = await upload(read('good', 'bgra32-16x16.bmp'))
    const healthy = await upload(read('good', 'still-64x64.png'))
    const resurrected = await upload(read('good', 'anim-128x128.webp'))
    await takeDownMedia(relay.deps.db, relay.deps.store, `sha256:${resurrected}`)
    // The store changes behind the relay's back: flipped bytes, a lost object, taken-down bytes back.
    const store = relay.deps.store
    const original = (await store.get(mediaKey(`sha256:${damaged}`)))!
    const flipped = Uint8Array.from(original)
    flipped[20] = flipped[20]! ^ 0x01
    await store.put(mediaKey(`sha256:${damaged}`), flipped)
    await store.delete(mediaKey(`sha256:${missing}`))
    await store.put(mediaKey(`sha256:${resurrected}`), read('good', 'anim-128x128.webp'))

    const heard: CorruptMedia[] = []
    const unsubscribe = relay.app.media.scrubber.onCorrupt((c) => {
      heard.push(c)
    })
    const report = await relay.app.media.scrubber.runOnce()
    unsubscribe()
    const expected = [
      { hash: `sha256:${damaged}`, reason: 'mismatch' },
      { hash: `sha256:${missing}`, reason: 'missing' },
    ].sort((a, b) => a.hash.localeCompare(b.hash))
    expect([...report.corrupt].sort((a, b) => a.hash.localeCompare(b.hash))).toEqual(expected)
    expect([...heard].sort((a, b) => a.hash.localeCompare(b.hash))).toEqual(expected)
    expect(report.purged).toBeGreaterThanOrEqual(1)
    expect(await storedBytes(resurrected)).toBeUndefined()
    expect((await rowOf(damaged))?.status).toBe('corrupt')
    expect((await rowOf(healthy))?.status).toBe('ok')
    const res = await get(damaged)
    expect(res.status).toBe(410)
    expect(((await res.json()) as ErrorJson).error.details?.status).toBe('corrupt')
    expect((await get(healthy)).status).toBe(200)

    // A second run finds nothing new: each blob turns corrupt once.
    expect((await relay.app.media.scrubber.runOnce()).corrupt).toEqual([])

    // Uploading the right bytes again repairs it.
    const repaired = await put(damaged, read('good', 'anim-transparent-64x64.gif'), 'image/gif')
    expect(repaired.status).toBe(200)
    expect((await rowOf(damaged))?.status).toBe('ok')
    expect(Buffer.from(await (await get(damaged)).arrayBuffer())).toEqual(Buffer.from(read('good', 'anim-transparent-64x64.gif')))
  })

  it('documents both routes in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${relay.url}/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> }
    expect(Object.keys(doc.paths['/v1/media/sha256/{hex}'] ?? {}).sort()).toEqual(['get', 'put'])
  })
})

describe('the scrubber runs on its own timer (MEDIA_SCRUB_INTERVAL_MS) and stops with the relay', () => {
  it('finds a damaged blob without being called', async () => {
    const relay = await startTestRelay({ db: 'pglite', store: 'fs', env: { MEDIA_SCRUB_INTERVAL_MS: '50' } })
    try {
      const alice = newIdentity('acc-media-timer')
      await appendOk(relay.url, [await identityCreated(alice)])
      const token = await openSession(relay.url, alice)
      const bytes = read('good', 'still-64x64.png')
      const hex = hexOf(bytes)
      const res = await fetch(`${relay.url}/v1/media/sha256/${hex}`, {
        method: 'PUT',
        headers: { 'content-type': 'image/png', authorization: `Bearer ${token}` },
        body: bytes as BodyInit,
      })
      expect(res.status).toBe(201)
      const heard = new Promise<CorruptMedia>((resolve) => relay.app.media.scrubber.onCorrupt(resolve))
      await relay.deps.store.delete(mediaKey(`sha256:${hex}`))
      relay.app.media.scrubber.start()
      expect(await heard).toEqual({ hash: `sha256:${hex}`, reason: 'missing' })
    } finally {
      await relay.close()
      await removeDir(relay.options.dataDir)
    }
  })
})
