/**
 * Content-addressed blobs over a real socket (PGlite + fs store, real sessions): PUT/GET round trip,
 * idempotent re-upload, 400 HASH_MISMATCH, 401 without a session, 413 over BLOB_MAX_BYTES (a limit of
 * its own, independent of BODY_LIMIT_BYTES), 415 for other content types.
 */
import { createHash, randomBytes } from 'node:crypto'
import { buildReceipt, canonicalBytes, formatSignature, generatePrivateJwk, type Receipt, type Signer } from '@pixpax/shared'
import { nodeSha256, nodeSigner } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ObjectStore } from '../src/stores/object-store.js'
import { startTestRelay, type TestRelay } from '../src/testing.js'

const BLOB_MAX = 64 * 1024
const BODY_LIMIT = 16 * 1024

describe('blobs: PUT/GET /v1/blobs/sha256/:hex (PGlite + fs, real socket)', () => {
  let base: string
  let relay: TestRelay
  let store: ObjectStore
  let token: string
  const identityId = 'blob-alice'

  const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
  const put = (hex: string, body: Uint8Array | string, headers: Record<string, string> = {}) =>
    fetch(`${base}/v1/blobs/sha256/${hex}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${token}`, ...headers },
      body: body as BodyInit,
    })
  const get = (hex: string, headers: Record<string, string> = {}) =>
    fetch(`${base}/v1/blobs/sha256/${hex}`, { headers: { authorization: `Bearer ${token}`, ...headers } })
  const errorOf = async (res: Response) =>
    ((await res.json()) as { error: { code: string; message: string; details?: Record<string, unknown> } }).error

  async function login(signer: Signer): Promise<string> {
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const { nonce } = (await (await post('/v1/auth/challenge', {})).json()) as { nonce: string }
    const relay = (await (await fetch(`${base}/v1/relay`)).json()) as { identityId: string }
    const signature = formatSignature(
      await signer.sign(canonicalBytes({ purpose: 'pixpax-session', nonce, identityId, relay: relay.identityId })),
    )
    const res = await post('/v1/auth/session', { identityId, publicKeyId: signer.publicKeyId, nonce, signature })
    expect(res.status).toBe(200)
    return ((await res.json()) as { token: string }).token
  }

  beforeAll(async () => {
    relay = await startTestRelay({ env: { BLOB_MAX_BYTES: String(BLOB_MAX), BODY_LIMIT_BYTES: String(BODY_LIMIT) } })
    ;({ store, url: base } = relay)
    const signer = nodeSigner(generatePrivateJwk())
    const identity: Receipt = await buildReceipt({
      stream: { type: 'identity', identityId },
      type: 'IDENTITY_CREATED',
      payload: { publicKey: signer.publicKey, accountId: 'acc-blob', kind: 'person' },
      identityId,
      signer,
      prev: null,
      sha256: nodeSha256,
    })
    const res = await fetch(`${base}/v1/receipts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ receipts: [identity] }),
    })
    expect(res.status).toBe(200)
    token = await login(signer)
  })
  afterAll(async () => {
    await relay.close()
  })

  it('stores a blob at pixpax/blobs/sha256/{hex} and serves it back with its etag', async () => {
    const bytes = randomBytes(40_000) // over BODY_LIMIT_BYTES: blobs have their own limit
    const hex = sha(bytes)
    const created = await put(hex, bytes)
    expect(created.status).toBe(201)
    expect(await created.json()).toEqual({ hash: `sha256:${hex}`, size: bytes.length })
    expect(Buffer.from((await store.get(`pixpax/blobs/sha256/${hex}`))!)).toEqual(bytes)

    const again = await put(hex, bytes)
    expect(again.status).toBe(200)

    const res = await get(hex)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/octet-stream')
    expect(res.headers.get('etag')).toBe(`"sha256:${hex}"`)
    const body = new Uint8Array(await res.arrayBuffer())
    expect(sha(body)).toBe(hex)
    expect(Buffer.from(body)).toEqual(bytes)

    const cached = await get(hex, { 'if-none-match': `"sha256:${hex}"` })
    expect(cached.status).toBe(304)
  })

  it('refuses a body whose SHA-256 is not the address: 400 HASH_MISMATCH, nothing stored', async () => {
    const bytes = randomBytes(100)
    const wrong = sha(randomBytes(100))
    const res = await put(wrong, bytes)
    expect(res.status).toBe(400)
    const error = await errorOf(res)
    expect(error.code).toBe('HASH_MISMATCH')
    expect(error.details).toEqual({ expected: `sha256:${wrong}`, actual: `sha256:${sha(bytes)}` })
    expect(await store.get(`pixpax/blobs/sha256/${wrong}`)).toBeUndefined()
    expect((await get(wrong)).status).toBe(404)
  })

  it('needs a session to upload and to read: 401 UNAUTHENTICATED', async () => {
    const bytes = randomBytes(64)
    const hex = sha(bytes)
    const anonymous = await fetch(`${base}/v1/blobs/sha256/${hex}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    })
    expect(anonymous.status).toBe(401)
    expect((await errorOf(anonymous)).code).toBe('UNAUTHENTICATED')
    const badToken = await put(hex, bytes, { authorization: `Bearer ${'x'.repeat(43)}` })
    expect(badToken.status).toBe(401)
    expect(await store.get(`pixpax/blobs/sha256/${hex}`)).toBeUndefined()

    expect((await put(hex, bytes)).status).toBe(201)
    const read = await fetch(`${base}/v1/blobs/sha256/${hex}`)
    expect(read.status).toBe(401)
    expect((await errorOf(read)).code).toBe('UNAUTHENTICATED')
  })

  it('refuses a blob over BLOB_MAX_BYTES with 413 PAYLOAD_TOO_LARGE', async () => {
    const bytes = randomBytes(BLOB_MAX + 1)
    const res = await put(sha(bytes), bytes)
    expect(res.status).toBe(413)
    expect((await errorOf(res)).code).toBe('PAYLOAD_TOO_LARGE')
    const exact = randomBytes(BLOB_MAX)
    expect((await put(sha(exact), exact)).status).toBe(201)
  })

  it('takes only application/octet-stream, and only well-formed addresses', async () => {
    const json = await put(sha(Buffer.from('{}')), '{}', { 'content-type': 'application/json' })
    expect(json.status).toBe(415)
    expect((await errorOf(json)).code).toBe('UNSUPPORTED_MEDIA_TYPE')
    const text = await put(sha(Buffer.from('hi')), 'hi', { 'content-type': 'text/plain' })
    expect(text.status).toBe(415)
    const upper = randomBytes(10)
    expect((await put(sha(upper).toUpperCase(), upper)).status).toBe(404)
    expect((await get('abc')).status).toBe(404)
    expect((await get(sha(randomBytes(8)))).status).toBe(404)
  })

  it('lists the blob routes in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${base}/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> }
    expect(Object.keys(doc.paths['/v1/blobs/sha256/{hex}'] ?? {}).sort()).toEqual(['get', 'put'])
  })
})
