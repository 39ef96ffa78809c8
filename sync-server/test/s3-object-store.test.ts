import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { S3ObjectStore } from '../src/stores/s3-object-store.js'
import { runObjectStoreContract } from './support/object-store-contract.js'
import { startS3rver, type RunningS3rver } from './support/s3rver.js'

// No skip: if s3rver cannot start, beforeAll throws and every test here fails.
let s3: RunningS3rver
beforeAll(async () => {
  s3 = await startS3rver()
})
afterAll(async () => {
  await s3?.stop()
})

function storeOn(server: RunningS3rver, prefix = `t-${randomBytes(4).toString('hex')}/`): S3ObjectStore {
  return new S3ObjectStore({
    endpoint: server.endpoint,
    region: server.region,
    bucket: server.bucket,
    forcePathStyle: true,
    credentials: server.credentials,
    prefix,
  })
}

// Each test gets its own key prefix in the one bucket, which also exercises the `prefix` option.
runObjectStoreContract('s3 (s3rver)', async () => ({ store: storeOn(s3) }))

describe('S3ObjectStore specifics', () => {
  it('sends If-None-Match on putIfAbsent and no flexible-checksum headers (Spaces compatibility)', async () => {
    const store = storeOn(s3, 'headers/')
    try {
      const before = s3.requests.length
      expect(await store.putIfAbsent('k.json', new TextEncoder().encode('{}'), 'application/json')).toBe('created')
      await store.put('snapshot.json', new TextEncoder().encode('{}'))
      await store.get('k.json')
      const sent = s3.requests.slice(before)
      const puts = sent.filter((r) => r.method === 'PUT')
      expect(puts).toHaveLength(2)
      expect(puts[0]!.headers['if-none-match']).toBe('*')
      expect(puts[0]!.headers['content-type']).toBe('application/json')
      expect(puts[1]!.headers['if-none-match']).toBeUndefined()
      for (const request of sent) {
        const names = Object.keys(request.headers)
        expect(names.filter((h) => h.startsWith('x-amz-checksum-') || h === 'x-amz-sdk-checksum-algorithm')).toEqual([])
        expect(request.headers['content-encoding'] ?? '').not.toContain('aws-chunked')
        expect(request.headers['x-amz-checksum-mode']).toBeUndefined()
      }
      // keep-alive: these sequential requests reused one connection
      expect(new Set(sent.map((r) => r.remotePort)).size).toBe(1)
    } finally {
      await store.close()
    }
  })

  it('stores under its prefix and lists keys without it', async () => {
    const a = storeOn(s3, 'tenant-a')
    const b = storeOn(s3, 'tenant-b/')
    try {
      await a.putIfAbsent('x/1', new Uint8Array([1]))
      await b.putIfAbsent('x/1', new Uint8Array([2]))
      expect(await a.list('x/')).toEqual(['x/1'])
      expect(await a.get('x/1')).toEqual(new Uint8Array([1]))
      expect(await b.get('x/1')).toEqual(new Uint8Array([2]))
      const whole = storeOn(s3, '')
      expect(await whole.list('tenant-')).toEqual(['tenant-a/x/1', 'tenant-b/x/1'])
      await whole.close()
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('ping fails for a missing bucket; get does not mistake it for a missing object', async () => {
    const store = new S3ObjectStore({
      endpoint: s3.endpoint,
      region: s3.region,
      bucket: 'no-such-bucket-here',
      forcePathStyle: true,
      credentials: s3.credentials,
    })
    try {
      await expect(store.ping()).rejects.toThrow()
      await expect(store.get('k')).rejects.toThrow()
    } finally {
      await store.close()
    }
  })
})

describe('S3ObjectStore on a server that ignores If-None-Match (plain s3rver)', () => {
  let raw: RunningS3rver
  beforeAll(async () => {
    raw = await startS3rver({ raw: true })
  })
  afterAll(async () => {
    await raw?.stop()
  })

  it('still reports exists and keeps the first bytes (HEAD before PUT)', async () => {
    const store = storeOn(raw)
    try {
      expect(await store.putIfAbsent('k', new Uint8Array([1]))).toBe('created')
      expect(await store.putIfAbsent('k', new Uint8Array([2]))).toBe('exists')
      expect(await store.get('k')).toEqual(new Uint8Array([1]))
    } finally {
      await store.close()
    }
  })
})
