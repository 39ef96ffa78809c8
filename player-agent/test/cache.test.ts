/** The verified cache: only bytes that hash to their name are kept, LRU under a budget, the playlist pinned. */
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BlobCache, BlobHashMismatchError } from '../src/cache/blob-cache.js'

const blob = (n: number, size = 100) => new Uint8Array(size).fill(n)
const ref = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`

describe('BlobCache', () => {
  let dir: string
  let clock = 1_000_000
  const now = () => clock
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pixpax-cache-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('stores bytes that hash to their name and refuses others, keeping nothing of them', async () => {
    const cache = await BlobCache.open(dir, 10_000, now)
    const good = blob(1)
    await cache.put(ref(good), good)
    expect(Array.from((await cache.get(ref(good)))!)).toEqual(Array.from(good))
    const claimed = ref(blob(2))
    await expect(cache.put(claimed, blob(3))).rejects.toBeInstanceOf(BlobHashMismatchError)
    expect(cache.has(claimed)).toBe(false)
    expect(await readdir(dir)).toEqual([ref(good).slice(7)])
  })

  it('re-verifies on read: a file altered on disk is deleted and reported, never returned', async () => {
    const cache = await BlobCache.open(dir, 10_000, now)
    const good = blob(4)
    await cache.put(ref(good), good)
    await writeFile(join(dir, ref(good).slice(7)), blob(5))
    await expect(cache.get(ref(good))).rejects.toBeInstanceOf(BlobHashMismatchError)
    expect(cache.has(ref(good))).toBe(false)
    expect(await readdir(dir)).toEqual([])
  })

  it('evicts the least recently used blobs over budget, never a pinned one, and remembers use across restarts', async () => {
    const cache = await BlobCache.open(dir, 300, now)
    const [a, b, c, d] = [blob(10), blob(11), blob(12), blob(13)]
    for (const x of [a, b, c]) {
      clock += 1000
      await cache.put(ref(x), x)
    }
    clock += 1000
    await cache.get(ref(a)) // a is now the most recently used
    cache.pin([ref(b)])
    clock += 1000
    await cache.put(ref(d), d) // over budget by one: c (oldest unpinned) goes
    expect([a, b, c, d].map((x) => cache.has(ref(x)))).toEqual([true, true, false, true])
    expect(cache.totalBytes).toBe(300)

    const reopened = await BlobCache.open(dir, 200, now)
    expect(reopened.size).toBe(3)
    reopened.pin([])
    const e = blob(14)
    clock += 1000
    await reopened.put(ref(e), e) // 400 > 200: the two least recently used (by mtime) go: b, then a
    expect([a, b, d, e].map((x) => reopened.has(ref(x)))).toEqual([false, false, true, true])
  })

  it('sweeps temp files a crash left behind when it opens', async () => {
    await writeFile(join(dir, `.${'ab'.repeat(32)}.0000.tmp`), 'half a download')
    const cache = await BlobCache.open(dir, 1000, now)
    expect(cache.size).toBe(0)
    expect(await readdir(dir)).toEqual([])
  })
})
