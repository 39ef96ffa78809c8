/**
 * The tiled log: tlog-tiles paths and entry bundles, and property tests of the integrator and of proofs
 * served from tiles against independent references — the RFC recursion (`merkleRoot`) and a table of every
 * complete subtree built by pairwise hashing.
 */
import { hash } from 'node:crypto'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  consistencyProof,
  decodeEntryBundle,
  EMPTY_TREE,
  encodeEntryBundle,
  entryBundlePath,
  hashAtFromTiles,
  hashTilePath,
  inclusionProof,
  integrate,
  leafHash,
  merkleRoot,
  nodeHash,
  parseTilePath,
  PixpaxError,
  rootFromState,
  tileIndexPath,
  tileReaderFromStore,
  treeStateFromTiles,
  verifyConsistency,
  verifyInclusion,
  type NodeHashSource,
  type Sha256,
  type TreeState,
} from '../src/index.js'
import { nodeSha256 } from '../src/node/index.js'

/**
 * This file hashes some 600,000 times; one-shot `crypto.hash` costs half of `createHash` (what nodeSha256
 * uses), and the first test pins the two together.
 */
const sha256: Sha256 = (bytes) => hash('sha256', bytes, 'buffer')

const MAX = 70_000

/** Deterministic, varied leaf data (lengths 1..40, so bundles are not uniform). */
function leafDataAt(i: number): Uint8Array {
  const length = 1 + (i % 40)
  const out = new Uint8Array(length)
  for (let j = 0; j < length; j++) out[j] = (i * 31 + j * 7 + (i >> 8)) & 0xff
  return out
}

class MemoryStore {
  readonly objects = new Map<string, Uint8Array>()
  get = (path: string) => Promise.resolve(this.objects.get(path))
}

const data: Uint8Array[] = []
/** nodes[h][i]: the root of leaves [i·2^h, (i+1)·2^h), built by pairwise hashing (no MTH recursion). */
const nodes: Uint8Array[][] = []

beforeAll(() => {
  for (let i = 0; i < MAX; i++) data.push(leafDataAt(i))
  nodes.push(data.map((d) => leafHash(sha256, d)))
  for (let row = nodes[0]!; row.length > 1;) {
    const next: Uint8Array[] = []
    for (let i = 0; i + 1 < row.length; i += 2) next.push(nodeHash(sha256, row[i]!, row[i + 1]!))
    nodes.push(next)
    row = next
  }
})

/**
 * The 70,000-leaf tree grown in chunks whose boundaries land exactly on the sizes where tiles fill and new
 * levels appear (every step checked by `grow`), and its store.
 */
const BIG_CHUNKS = [1, 254, 1, 1, 254, 1, 1, 65_022, 1, 1, 2_463, 2_000]
let big: ReturnType<typeof grow>
beforeAll(() => {
  big = grow(MAX, BIG_CHUNKS)
})

const memoryHashAt: NodeHashSource = (level, index) => {
  const h = nodes[level]?.[index]
  return h ? Promise.resolve(h) : Promise.reject(new RangeError(`no node (${level}, ${index})`))
}

/** The root of the first `size` leaves from the complete-node table: fold the binary digits of size. */
function referenceRoot(size: number): Uint8Array {
  const parts: Uint8Array[] = []
  let at = 0
  for (let level = 20; level >= 0; level--) {
    if (size - at >= 2 ** level) {
      parts.push(nodes[level]![at / 2 ** level]!)
      at += 2 ** level
    }
  }
  if (parts.length === 0) return sha256(new Uint8Array(0))
  let acc = parts[parts.length - 1]!
  for (let i = parts.length - 2; i >= 0; i--) acc = nodeHash(sha256, parts[i]!, acc)
  return acc
}

const concat = (hashes: Uint8Array[]) => Buffer.concat(hashes)

/** The tiles tlog-tiles says to publish when a tree grows from oldSize to newSize, as paths. */
function expectedTilePaths(oldSize: number, newSize: number): string[] {
  const paths: string[] = []
  for (let level = 0; Math.floor(newSize / 256 ** level) > 0; level++) {
    const oldN = Math.floor(oldSize / 256 ** level)
    const newN = Math.floor(newSize / 256 ** level)
    if (oldN === newN) continue
    for (let n = Math.floor(oldN / 256); n < Math.floor(newN / 256); n++) paths.push(hashTilePath(level, n))
    if (newN % 256 > 0) paths.push(hashTilePath(level, Math.floor(newN / 256), newN % 256))
  }
  return paths
}

/** Grows a tree to `size` in the given chunk sizes, checking every step; returns the store and the roots seen. */
function grow(size: number, chunks: number[]) {
  const store = new MemoryStore()
  let state: TreeState = EMPTY_TREE
  const checkpoints: number[] = []
  let at = 0
  let i = 0
  while (at < size) {
    const n = Math.min(size - at, Math.max(1, chunks[i++ % chunks.length]!))
    const step = integrate(sha256, state, data.slice(at, at + n))
    expect(step.tiles.map((t) => t.path)).toEqual(expectedTilePaths(at, at + n))
    expect(Buffer.from(step.root).equals(referenceRoot(at + n)), `root at ${at + n}`).toBe(true)
    for (const o of [...step.tiles, ...step.entryBundles]) store.objects.set(o.path, o.bytes)
    state = step.state
    at += n
    checkpoints.push(at)
  }
  return { store, state, checkpoints }
}

/** Every stored object must be the from-scratch tile (or bundle) of its path. */
function checkStore(store: MemoryStore, size: number): void {
  for (const [path, bytes] of store.objects) {
    const c = parseTilePath(path.slice('pixpax/log/'.length))
    expect(c, path).toBeDefined()
    if (c!.kind === 'hash') {
      // Level-L entries are nodes of height 8L; the table has them as nodes[8L].
      const first = c!.index * 256
      expect(first + c!.width <= Math.floor(size / 256 ** c!.level), path).toBe(true)
      const want = concat(nodes[8 * c!.level]!.slice(first, first + c!.width))
      expect(Buffer.from(bytes).equals(want), path).toBe(true)
    } else {
      const first = c!.index * 256
      expect(Buffer.from(bytes).equals(encodeEntryBundle(data.slice(first, first + c!.width))), path).toBe(true)
    }
  }
}

describe('the test hash', () => {
  it('is nodeSha256', () => {
    for (const bytes of [new Uint8Array(0), Uint8Array.of(1), data[7]!])
      expect(Buffer.from(sha256(bytes)).equals(nodeSha256(bytes))).toBe(true)
  })
})

describe('tile paths (C2SP tlog-tiles)', () => {
  it('encode the index in 3-digit elements, all but the last prefixed with x', () => {
    expect(tileIndexPath(0)).toBe('000')
    expect(tileIndexPath(5)).toBe('005')
    expect(tileIndexPath(999)).toBe('999')
    expect(tileIndexPath(1000)).toBe('x001/000')
    expect(tileIndexPath(1234067)).toBe('x001/x234/067')
    expect(tileIndexPath(Number.MAX_SAFE_INTEGER)).toBe('x009/x007/x199/x254/x740/991')
  })

  it('name full and partial hash tiles and entry bundles under pixpax/log/', () => {
    expect(hashTilePath(0, 0)).toBe('pixpax/log/tile/0/000')
    expect(hashTilePath(4, 1234067, 1)).toBe('pixpax/log/tile/4/x001/x234/067.p/1')
    expect(hashTilePath(4, 1234067, 256)).toBe('pixpax/log/tile/4/x001/x234/067')
    expect(entryBundlePath(1)).toBe('pixpax/log/tile/entries/001')
    expect(entryBundlePath(273, 112)).toBe('pixpax/log/tile/entries/273.p/112')
    expect(() => hashTilePath(64, 0)).toThrow(RangeError)
    expect(() => hashTilePath(0, 0, 0)).toThrow(RangeError)
    expect(() => hashTilePath(0, 0, 257)).toThrow(RangeError)
    expect(() => hashTilePath(0, -1)).toThrow(RangeError)
  })

  it('parse back exactly the canonical spellings', () => {
    expect(parseTilePath('tile/0/000')).toEqual({ kind: 'hash', level: 0, index: 0, width: 256, path: 'pixpax/log/tile/0/000' })
    expect(parseTilePath('tile/63/x001/x234/067.p/255')).toEqual({
      kind: 'hash',
      level: 63,
      index: 1234067,
      width: 255,
      path: 'pixpax/log/tile/63/x001/x234/067.p/255',
    })
    expect(parseTilePath('tile/entries/x001/000.p/1')).toEqual({
      kind: 'entries',
      index: 1000,
      width: 1,
      path: 'pixpax/log/tile/entries/x001/000.p/1',
    })
    for (const bad of [
      '',
      'tile/0/0',
      'tile/0/0000',
      'tile/00/000',
      'tile/01/000',
      'tile/64/000',
      'tile/-1/000',
      'tile/0/x000/001',
      'tile/0/001/x002',
      'tile/0/x1/000',
      'tile/0/000.p/0',
      'tile/0/000.p/256',
      'tile/0/000.p/010',
      'tile/0/000.p/',
      'tile/0/000/',
      '/tile/0/000',
      'pixpax/log/tile/0/000',
      'tile/data/000',
      'tile/entries/000.p/1/2',
      'tile/0/x001/x002/x003/x004/x005/x006/007',
      'tile/0/x009/x007/x199/x254/x740/992',
      'tile/0/000?x=1',
      'tile/0/000\n',
      'checkpoint',
    ]) {
      expect(parseTilePath(bad), JSON.stringify(bad)).toBeUndefined()
    }
  })
})

describe('entry bundles', () => {
  it('are uint16 big-endian length-prefixed entries', () => {
    const bytes = encodeEntryBundle([Uint8Array.of(0xaa), new Uint8Array(0), new Uint8Array(300).fill(7)])
    expect(Buffer.from(bytes.subarray(0, 5)).toString('hex')).toBe('0001aa0000')
    expect(Buffer.from(bytes.subarray(5, 7)).toString('hex')).toBe('012c')
    expect(bytes.length).toBe(3 + 2 + 302)
  })

  it('round-trip', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 256 }), (entries) => {
        const decoded = decodeEntryBundle(encodeEntryBundle(entries), entries.length)
        expect(decoded.map((e) => Buffer.from(e).toString('hex'))).toEqual(entries.map((e) => Buffer.from(e).toString('hex')))
      }),
      { numRuns: 50 },
    )
  })

  it('decode strictly: truncation, trailing bytes, wrong count and more than 256 entries throw LOG_INCONSISTENT', () => {
    const good = encodeEntryBundle([Uint8Array.of(1, 2, 3), Uint8Array.of(4)])
    const cases: Array<[Uint8Array, number | undefined]> = [
      [good.subarray(0, good.length - 1), undefined], // inside an entry
      [good.subarray(0, 6), undefined], // inside the second length prefix
      [Uint8Array.of(...good, 0), undefined], // a trailing byte
      [good, 3], // fewer entries than expected
      [good, 1], // more
      [encodeEntryBundle(Array.from({ length: 256 }, () => new Uint8Array(0))).slice(0), 255],
      [Uint8Array.of(...encodeEntryBundle(Array.from({ length: 256 }, () => new Uint8Array(0))), 0, 0), undefined],
    ]
    for (const [bytes, count] of cases) {
      let error: unknown
      try {
        decodeEntryBundle(bytes, count)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(PixpaxError)
      expect((error as PixpaxError).code).toBe('LOG_INCONSISTENT')
    }
    expect(() => encodeEntryBundle([new Uint8Array(65536)])).toThrow(RangeError)
    expect(() => encodeEntryBundle(Array.from({ length: 257 }, () => new Uint8Array(0)))).toThrow(RangeError)
  })
})

describe('the integrator', () => {
  it('publishes the tiles of the tlog-tiles examples (sizes 256 and 70,000)', () => {
    expect(integrate(sha256, EMPTY_TREE, data.slice(0, 256)).tiles.map((t) => t.path)).toEqual([
      'pixpax/log/tile/0/000',
      'pixpax/log/tile/1/000.p/1',
    ])
    // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0 tile of width
    // 112, one full level 1 tile, one partial level 1 tile of width 17, and one partial level 2 tile of width 1"
    const paths = expectedTilePaths(0, MAX)
    expect(paths.filter((p) => /^pixpax\/log\/tile\/0\/[x0-9/]+$/.test(p))).toHaveLength(273)
    expect(paths.filter((p) => p.startsWith('pixpax/log/tile/0/') && p.includes('.p/'))).toEqual(['pixpax/log/tile/0/273.p/112'])
    expect(paths.filter((p) => p.startsWith('pixpax/log/tile/1/'))).toEqual(['pixpax/log/tile/1/000', 'pixpax/log/tile/1/001.p/17'])
    expect(paths.filter((p) => p.startsWith('pixpax/log/tile/2/'))).toEqual(['pixpax/log/tile/2/000.p/1'])
    expect(paths).toHaveLength(273 + 1 + 2 + 1)
    for (const path of [...paths, entryBundlePath(272), entryBundlePath(273, 112)]) expect(big.store.objects.has(path), path).toBe(true)
    checkStore(big.store, MAX)
  })

  it('does nothing for no leaves, and refuses a state that does not match its size', () => {
    const one = integrate(sha256, EMPTY_TREE, data.slice(0, 1))
    const none = integrate(sha256, one.state, [])
    expect(none.tiles).toEqual([])
    expect(none.entryBundles).toEqual([])
    expect(Buffer.from(none.root).equals(one.root)).toBe(true)
    expect(Buffer.from(integrate(sha256, EMPTY_TREE, []).root).equals(sha256(new Uint8Array(0)))).toBe(true)
    expect(() => integrate(sha256, { ...one.state, size: 2 }, [])).toThrow(RangeError)
    expect(() => integrate(sha256, { ...one.state, entries: [] }, [])).toThrow(RangeError)
    expect(() => integrate(sha256, one.state, [new Uint8Array(65536)])).toThrow(RangeError)
  })

  it('does not modify the state it is given', () => {
    const a = integrate(sha256, EMPTY_TREE, data.slice(0, 300))
    const snapshot = JSON.stringify({ ...a.state, levels: a.state.levels.map((r) => r.length), entries: a.state.entries.length })
    integrate(sha256, a.state, data.slice(300, 700))
    expect(JSON.stringify({ ...a.state, levels: a.state.levels.map((r) => r.length), entries: a.state.entries.length })).toBe(snapshot)
  })

  it('grows through small sizes one leaf at a time, every step checked', async () => {
    const { store, checkpoints } = grow(300, [1])
    checkStore(store, 300)
    const reader = tileReaderFromStore(store.get)
    for (const at of checkpoints.filter((n) => n < 4 || n % 37 === 0 || (n >= 254 && n <= 258))) {
      const rebuilt = await treeStateFromTiles(sha256, at, reader)
      expect(Buffer.from(rootFromState(sha256, rebuilt)).equals(referenceRoot(at)), `state at ${at}`).toBe(true)
    }
  })

  it('grows in chunks through 1, 255, 256, 257, 511–513, 65535, 65536, 65537, 70000: roots, tiles and rebuilt states', async () => {
    expect(big.checkpoints).toEqual([1, 255, 256, 257, 511, 512, 513, 65_535, 65_536, 65_537, 68_000, MAX])
    expect(Buffer.from(rootFromState(sha256, big.state)).equals(merkleRoot(sha256, nodes[0]!))).toBe(true)
    const reader = tileReaderFromStore(big.store.get)
    for (const at of [0, ...big.checkpoints]) {
      const rebuilt = await treeStateFromTiles(sha256, at, reader)
      expect(Buffer.from(rootFromState(sha256, rebuilt)).equals(referenceRoot(at)), `state at ${at}`).toBe(true)
    }
  })

  it('matches the references for random sizes and random chunkings (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.oneof({ arbitrary: fc.integer({ min: 0, max: 3000 }), weight: 5 }, { arbitrary: fc.integer({ min: 0, max: MAX }), weight: 1 }),
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 8 }),
        (size, chunks) => {
          const { store } = grow(size, chunks)
          checkStore(store, size)
        },
      ),
      { numRuns: 8 },
    )
  })
})

describe('proofs from tiles', () => {
  const size = MAX
  it('read node hashes equal to the complete-node table, at every height', async () => {
    const hashAt = hashAtFromTiles(sha256, size, tileReaderFromStore(big.store.get))
    for (let height = 0; 2 ** height <= size; height++) {
      const count = Math.floor(size / 2 ** height)
      for (const index of new Set([0, 1, count >> 1, count - 2, count - 1].filter((i) => i >= 0 && i < count))) {
        expect(Buffer.from(await hashAt(height, index)).equals(nodes[height]![index]!), `node (${height}, ${index})`).toBe(true)
      }
    }
    await expect(hashAt(0, size)).rejects.toThrow(RangeError)
    await expect(hashAt(17, 0)).rejects.toThrow(RangeError)
  })

  it('fall back to the full tile when a partial one has been deleted', async () => {
    // A store with full tiles and only the partial tiles of size 70,000 — every older partial deleted —
    // still yields the state at older sizes, from prefixes of full tiles.
    const store = new MemoryStore()
    const keep = new Set([...expectedTilePaths(0, MAX), entryBundlePath(273, 112)])
    for (const [path, bytes] of big.store.objects) if (!path.includes('.p/') || keep.has(path)) store.objects.set(path, bytes)
    expect([...store.objects.keys()].filter((p) => p.includes('.p/')).sort()).toEqual(
      [
        'pixpax/log/tile/0/273.p/112',
        'pixpax/log/tile/1/001.p/17',
        'pixpax/log/tile/2/000.p/1',
        'pixpax/log/tile/entries/273.p/112',
      ].sort(),
    )
    const reader = tileReaderFromStore(store.get)
    for (const at of [1, 300, 65_537, 65_737]) {
      const state = await treeStateFromTiles(sha256, at, reader)
      expect(Buffer.from(rootFromState(sha256, state)).equals(referenceRoot(at))).toBe(true)
    }
    // A partial tile with no full tile behind it is simply missing.
    store.objects.delete('pixpax/log/tile/2/000.p/1')
    await expect(treeStateFromTiles(sha256, 70_000, reader)).rejects.toMatchObject({
      code: 'LOG_INCONSISTENT',
      details: { reason: 'missing-tile' },
    })
    // And a tile of the wrong length is refused.
    store.objects.set('pixpax/log/tile/2/000.p/1', new Uint8Array(31))
    await expect(treeStateFromTiles(sha256, 70_000, reader)).rejects.toMatchObject({
      code: 'LOG_INCONSISTENT',
      details: { reason: 'malformed-tile' },
    })
  })

  it('rebuilding a state refuses entries that do not hash to the level-0 tile', async () => {
    const copy = new MemoryStore()
    for (const [path, bytes] of big.store.objects) copy.objects.set(path, bytes)
    const bundle = decodeEntryBundle(copy.objects.get('pixpax/log/tile/entries/273.p/112')!)
    bundle[5] = Uint8Array.of(1, 2, 3)
    copy.objects.set('pixpax/log/tile/entries/273.p/112', encodeEntryBundle(bundle))
    await expect(treeStateFromTiles(sha256, 70_000, tileReaderFromStore(copy.get))).rejects.toMatchObject({
      code: 'LOG_INCONSISTENT',
      details: { reason: 'entry-mismatch', index: 273 * 256 + 5 },
    })
  })

  it('verify, match the in-memory proofs, and fail when tampered (fast-check)', async () => {
    const hashAt = hashAtFromTiles(sha256, size, tileReaderFromStore(big.store.get))
    const flip = (h: Uint8Array, bit: number) => {
      const out = Uint8Array.from(h)
      out[(bit >> 3) % 32]! ^= 1 << (bit & 7)
      return out
    }
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: size }),
        fc.integer({ min: 1, max: size }),
        fc.nat(),
        fc.nat(255),
        async (a, b, pick, bit) => {
          const [oldSize, newSize] = a <= b ? [a, b] : [b, a]
          const index = pick % newSize
          const root = referenceRoot(newSize)
          const leaf = nodes[0]![index]!
          const proof = await inclusionProof(sha256, index, newSize, hashAt)
          expect((await inclusionProof(sha256, index, newSize, memoryHashAt)).map((h) => Buffer.from(h).toString('hex'))).toEqual(
            proof.map((h) => Buffer.from(h).toString('hex')),
          )
          expect(verifyInclusion(sha256, index, newSize, leaf, proof, root)).toBe(true)
          expect(verifyInclusion(sha256, index, newSize, flip(leaf, bit), proof, root)).toBe(false)
          expect(verifyInclusion(sha256, index, newSize, leaf, proof, flip(root, bit))).toBe(false)
          if (proof.length > 0) {
            const at = pick % proof.length
            expect(
              verifyInclusion(
                sha256,
                index,
                newSize,
                leaf,
                proof.map((h, i) => (i === at ? flip(h, bit) : h)),
                root,
              ),
            ).toBe(false)
            expect(verifyInclusion(sha256, index, newSize, leaf, proof.slice(0, -1), root)).toBe(false)
          }
          expect(verifyInclusion(sha256, index, newSize, leaf, [...proof, leaf], root)).toBe(false)
          if (newSize > 1) expect(verifyInclusion(sha256, (index + 1) % newSize, newSize, leaf, proof, root)).toBe(false)

          const oldRoot = referenceRoot(oldSize)
          const cproof = await consistencyProof(sha256, oldSize, newSize, hashAt)
          expect(verifyConsistency(sha256, oldSize, newSize, cproof, oldRoot, root)).toBe(true)
          expect(verifyConsistency(sha256, oldSize, newSize, cproof, flip(oldRoot, bit), root)).toBe(false)
          expect(verifyConsistency(sha256, oldSize, newSize, cproof, oldRoot, flip(root, bit))).toBe(false)
          if (cproof.length > 0) {
            const at = pick % cproof.length
            expect(
              verifyConsistency(
                sha256,
                oldSize,
                newSize,
                cproof.map((h, i) => (i === at ? flip(h, bit) : h)),
                oldRoot,
                root,
              ),
            ).toBe(false)
            expect(verifyConsistency(sha256, oldSize, newSize, cproof.slice(1), oldRoot, root)).toBe(false)
          }
          expect(verifyConsistency(sha256, oldSize, newSize, [...cproof, leaf], oldRoot, root)).toBe(false)
          if (oldSize !== newSize) expect(verifyConsistency(sha256, oldSize, newSize, cproof, root, oldRoot)).toBe(false)
        },
      ),
      { numRuns: 50 },
    )
  })

  it('refuse impossible requests', async () => {
    await expect(inclusionProof(sha256, 5, 5, memoryHashAt)).rejects.toThrow(RangeError)
    await expect(consistencyProof(sha256, 0, 5, memoryHashAt)).rejects.toThrow(RangeError)
    await expect(consistencyProof(sha256, 6, 5, memoryHashAt)).rejects.toThrow(RangeError)
    expect(await consistencyProof(sha256, 5, 5, memoryHashAt)).toEqual([])
    expect(verifyConsistency(sha256, 0, 5, [], referenceRoot(0), referenceRoot(5))).toBe(false)
  })
})
