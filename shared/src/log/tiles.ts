/**
 * The acceptance log as C2SP tlog-tiles objects under `pixpax/log/` (ARCHITECTURE §4, docs/log.md): tile and
 * entry-bundle paths, the entry-bundle encoding, the incremental integrator that turns new leaves into the
 * tiles to write, and reading a tree back (its right edge, and node hashes for proofs) from stored tiles.
 *
 * A level-L tile holds tree nodes of height 8·L (level 0: leaf hashes); a full tile holds 256 of them and is
 * immutable, a partial one holds the rightmost 1–255 and is superseded as the tree grows.
 */
import type { Sha256 } from '../crypto/types.js'
import { PixpaxError } from '../errors.js'
import { bytesEqual, emptyRoot, HASH_SIZE, leafHash, merkleRoot, nodeHash, type NodeHashSource } from './merkle.js'

/** Tree levels per tile (tlog-tiles fixes 8). */
export const TILE_HEIGHT = 8
/** Hashes in a full tile, entries in a full bundle: 2^TILE_HEIGHT. */
export const TILE_WIDTH = 256
/** Where the log lives in the object store. */
export const LOG_PREFIX = 'pixpax/log/'
/** The object key of the current signed checkpoint. */
export const CHECKPOINT_PATH = `${LOG_PREFIX}checkpoint`
/** Longest entry an entry bundle can hold (uint16 length prefix). */
export const MAX_ENTRY_BYTES = 0xffff
/** Highest tile level tlog-tiles allows. */
export const MAX_TILE_LEVEL = 63

function checkIndex(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative safe integer, got ${value}`)
}

function checkWidth(width: number): void {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) throw new RangeError(`tile width must be 1..${TILE_WIDTH}, got ${width}`)
}

/** 256^level, exact as a double for every level a safe-integer tree can reach. */
function tileSpan(level: number): number {
  return TILE_WIDTH ** level
}

/**
 * Nodes of height 8·level in a tree of `size` leaves (complete ones only): ⌊size / 256^level⌋. Division by a
 * power of two is exact in floating point, so this is exact for every safe-integer size.
 */
function nodesAtLevel(size: number, level: number): number {
  return Math.floor(size / tileSpan(level))
}

/** Tile levels that exist for a tree of `size` leaves: those with at least one node of height 8·L. */
export function tileLevels(size: number): number {
  let levels = 0
  while (nodesAtLevel(size, levels) > 0) levels++
  return levels
}

/**
 * The tlog-tiles encoding of a tile index: zero-padded 3-digit path elements, all but the last prefixed with
 * `x`. 1234067 → `x001/x234/067`, 5 → `005`.
 */
export function tileIndexPath(index: number): string {
  checkIndex('tile index', index)
  const groups: string[] = []
  let n = index
  do {
    groups.unshift(String(n % 1000).padStart(3, '0'))
    n = Math.floor(n / 1000)
  } while (n > 0)
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/')
}

function widthSuffix(width: number): string {
  checkWidth(width)
  return width === TILE_WIDTH ? '' : `.p/${width}`
}

/** Object key of a hash tile: `pixpax/log/tile/{L}/{N}` (full) or `…/{N}.p/{W}` (partial, 1 ≤ W ≤ 255). */
export function hashTilePath(level: number, index: number, width: number = TILE_WIDTH): string {
  if (!Number.isInteger(level) || level < 0 || level > MAX_TILE_LEVEL) throw new RangeError(`tile level must be 0..${MAX_TILE_LEVEL}`)
  return `${LOG_PREFIX}tile/${level}/${tileIndexPath(index)}${widthSuffix(width)}`
}

/** Object key of an entry bundle: `pixpax/log/tile/entries/{N}` (full) or `…/{N}.p/{W}` (partial). */
export function entryBundlePath(index: number, width: number = TILE_WIDTH): string {
  return `${LOG_PREFIX}tile/entries/${tileIndexPath(index)}${widthSuffix(width)}`
}

/** What a tile path names. `path` is the object key (with `pixpax/log/`). */
export type TileCoordinates =
  | { readonly kind: 'hash'; readonly level: number; readonly index: number; readonly width: number; readonly path: string }
  | { readonly kind: 'entries'; readonly index: number; readonly width: number; readonly path: string }

const TILE_PATH = /^tile\/(?:(entries)|(0|[1-9][0-9]?))\/((?:x[0-9]{3}\/){0,5}[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/

/**
 * Parses a tile path relative to the log prefix — `tile/{L}/{N}[.p/{W}]` or `tile/entries/{N}[.p/{W}]`, as
 * the relay's `GET /v1/log/tile/…` route receives it — and returns what it names, or undefined for anything
 * that is not exactly the canonical spelling of a tile (levels 0–63 without leading zeros, no `x000`
 * leading element, widths 1–255 without leading zeros, indexes up to 2^53 − 1).
 */
export function parseTilePath(path: string): TileCoordinates | undefined {
  const m = TILE_PATH.exec(path)
  if (!m) return undefined
  const [, entries, levelText, indexText, widthText] = m
  const index = Number(indexText!.replaceAll('x', '').replaceAll('/', ''))
  // Re-encoding must give the same text: refuses `x000/…` and other second spellings of an index.
  if (!Number.isSafeInteger(index) || tileIndexPath(index) !== indexText) return undefined
  const width = widthText === undefined ? TILE_WIDTH : Number(widthText)
  if (widthText !== undefined && width >= TILE_WIDTH) return undefined // a full tile has no `.p/` suffix
  if (entries) return { kind: 'entries', index, width, path: entryBundlePath(index, width) }
  const level = Number(levelText)
  if (level > MAX_TILE_LEVEL) return undefined
  return { kind: 'hash', level, index, width, path: hashTilePath(level, index, width) }
}

// ---- entry bundles ----

/** An entry bundle: each entry as a big-endian uint16 length followed by its bytes (tlog-tiles). */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  if (entries.length > TILE_WIDTH) throw new RangeError(`an entry bundle holds at most ${TILE_WIDTH} entries`)
  let total = 0
  for (const e of entries) {
    if (e.length > MAX_ENTRY_BYTES) throw new RangeError(`log entry of ${e.length} bytes is over ${MAX_ENTRY_BYTES}`)
    total += 2 + e.length
  }
  const out = new Uint8Array(total)
  let at = 0
  for (const e of entries) {
    out[at] = e.length >> 8
    out[at + 1] = e.length & 0xff
    out.set(e, at + 2)
    at += 2 + e.length
  }
  return out
}

function inconsistent(message: string, details: Record<string, unknown>): PixpaxError {
  return new PixpaxError('LOG_INCONSISTENT', message, details)
}

/**
 * Decodes an entry bundle, strictly: every length prefix complete, every entry complete, no trailing bytes,
 * at most 256 entries — and exactly `expectedCount` when given. Throws LOG_INCONSISTENT otherwise.
 */
export function decodeEntryBundle(bytes: Uint8Array, expectedCount?: number): Uint8Array[] {
  const entries: Uint8Array[] = []
  let at = 0
  while (at < bytes.length) {
    if (entries.length === TILE_WIDTH) throw inconsistent('entry bundle has more than 256 entries', { reason: 'malformed-bundle' })
    if (at + 2 > bytes.length) throw inconsistent('entry bundle ends inside a length prefix', { reason: 'malformed-bundle', offset: at })
    const length = (bytes[at]! << 8) | bytes[at + 1]!
    if (at + 2 + length > bytes.length) throw inconsistent('entry bundle ends inside an entry', { reason: 'malformed-bundle', offset: at })
    entries.push(bytes.slice(at + 2, at + 2 + length))
    at += 2 + length
  }
  if (expectedCount !== undefined && entries.length !== expectedCount) {
    throw inconsistent(`entry bundle has ${entries.length} entries, expected ${expectedCount}`, { reason: 'malformed-bundle' })
  }
  return entries
}

// ---- the tree's right edge and the integrator ----

/**
 * A tree as the integrator needs it: its size, and its right edge — for each tile level L that exists, the
 * hashes of the level-L partial tile at this size (⌊size / 256^L⌋ mod 256 of them, possibly none), plus the
 * leaf data of the partial entry bundle (size mod 256 entries). Everything left of the edge is in full,
 * immutable tiles and is never needed again to grow the tree.
 */
export interface TreeState {
  readonly size: number
  /** `levels[L]`: the level-L partial tile's hashes; `levels.length` = tileLevels(size). */
  readonly levels: readonly (readonly Uint8Array[])[]
  /** Leaf data of the partial entry bundle, oldest first. */
  readonly entries: readonly Uint8Array[]
}

/** The empty tree. */
export const EMPTY_TREE: TreeState = Object.freeze({ size: 0, levels: Object.freeze([]), entries: Object.freeze([]) })

/** An object to write to the store. */
export interface LogObject {
  readonly path: string
  readonly bytes: Uint8Array
}

/** What integrating new leaves produced. */
export interface Integration {
  /** The tree after the new leaves. */
  readonly state: TreeState
  /** Its root hash (what the next checkpoint signs). */
  readonly root: Uint8Array
  /** Every hash tile touched: each newly full tile, then the partial tiles at the new size; by level, then index. */
  readonly tiles: readonly LogObject[]
  /** Every entry bundle touched: newly full bundles, then the partial one at the new size. */
  readonly entryBundles: readonly LogObject[]
}

/** Throws unless the state's shape matches its size (widths per level, bundle length). */
export function assertTreeState(state: TreeState): void {
  checkIndex('tree size', state.size)
  const levels = tileLevels(state.size)
  if (state.levels.length !== levels)
    throw new RangeError(`tree of size ${state.size} has ${levels} tile levels, state has ${state.levels.length}`)
  state.levels.forEach((row, level) => {
    const width = nodesAtLevel(state.size, level) % TILE_WIDTH
    if (row.length !== width)
      throw new RangeError(`level ${level} of a tree of size ${state.size} has ${width} edge hashes, state has ${row.length}`)
    if (row.some((h) => h.length !== HASH_SIZE)) throw new RangeError('edge hashes must be 32 bytes')
  })
  if (state.entries.length !== state.size % TILE_WIDTH)
    throw new RangeError(`state must hold the ${state.size % TILE_WIDTH} entries of the partial bundle`)
}

function concatHashes(hashes: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(hashes.length * HASH_SIZE)
  hashes.forEach((h, i) => out.set(h, i * HASH_SIZE))
  return out
}

function splitHashes(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let at = 0; at < bytes.length; at += HASH_SIZE) out.push(bytes.slice(at, at + HASH_SIZE))
  return out
}

/**
 * The root of a tree from its right edge alone. The tree of `size` leaves is the complete subtrees given by
 * the binary digits of `size`; each lies inside one level's edge row (2^k consecutive nodes of height 8·L),
 * and MTH folds them right to left.
 */
export function rootFromState(sha256: Sha256, state: TreeState): Uint8Array {
  const subtrees: Uint8Array[] = [] // left to right
  for (let level = state.levels.length - 1; level >= 0; level--) {
    const row = state.levels[level]!
    let at = 0
    for (let part = TILE_WIDTH / 2; part >= 1; part /= 2) {
      if (row.length - at >= part) {
        subtrees.push(merkleRoot(sha256, row, at, at + part))
        at += part
      }
    }
  }
  if (subtrees.length === 0) return emptyRoot(sha256)
  let acc = subtrees[subtrees.length - 1]!
  for (let i = subtrees.length - 2; i >= 0; i--) acc = nodeHash(sha256, subtrees[i]!, acc)
  return acc
}

/**
 * Appends leaves to a tree: returns the new state and root and every tile and entry bundle to write — each
 * tile or bundle that became full, and the new partial ones at the new size (as C2SP tlog-tiles lists
 * them; partial tiles of levels whose width did not change are not rewritten). Pure: the input state is
 * not modified. Write all returned objects before publishing a checkpoint of the new size.
 */
export function integrate(sha256: Sha256, state: TreeState, leaves: readonly Uint8Array[]): Integration {
  assertTreeState(state)
  const oldSize = state.size
  const rows = state.levels.map((row) => [...row])
  let entries = [...state.entries]
  const fullTiles: Array<{ level: number; index: number; bytes: Uint8Array }> = []
  const entryBundles: LogObject[] = []
  let size = oldSize
  for (const data of leaves) {
    if (data.length > MAX_ENTRY_BYTES) throw new RangeError(`log entry of ${data.length} bytes is over ${MAX_ENTRY_BYTES}`)
    entries.push(data)
    size++
    if (entries.length === TILE_WIDTH) {
      entryBundles.push({ path: entryBundlePath(size / TILE_WIDTH - 1), bytes: encodeEntryBundle(entries) })
      entries = []
    }
    let carry = leafHash(sha256, data)
    for (let level = 0; ; level++) {
      const row = rows[level] ?? (rows[level] = [])
      row.push(carry)
      if (row.length < TILE_WIDTH) break
      // The row is a full tile: write it, and its root becomes the next level's newest node.
      const index = nodesAtLevel(size, level) / TILE_WIDTH - 1
      fullTiles.push({ level, index, bytes: concatHashes(row) })
      carry = merkleRoot(sha256, row)
      rows[level] = []
    }
  }
  const tiles: LogObject[] = []
  for (let level = 0; level < rows.length; level++) {
    for (const t of fullTiles) if (t.level === level) tiles.push({ path: hashTilePath(level, t.index), bytes: t.bytes })
    const row = rows[level]!
    if (row.length > 0 && nodesAtLevel(size, level) !== nodesAtLevel(oldSize, level)) {
      tiles.push({ path: hashTilePath(level, Math.floor(nodesAtLevel(size, level) / TILE_WIDTH), row.length), bytes: concatHashes(row) })
    }
  }
  if (entries.length > 0 && size !== oldSize) {
    entryBundles.push({ path: entryBundlePath(Math.floor(size / TILE_WIDTH), entries.length), bytes: encodeEntryBundle(entries) })
  }
  const next: TreeState = { size, levels: rows, entries }
  return { state: next, root: rootFromState(sha256, next), tiles, entryBundles }
}

// ---- reading a tree back from stored tiles ----

/** Reads log tiles from wherever they are stored. Both methods resolve to exactly the bytes asked for. */
export interface TileReader {
  /** The hash tile at (level, index) holding `width` hashes (exactly width·32 bytes). */
  readHashTile(level: number, index: number, width: number): Promise<Uint8Array>
  /** The entry bundle at `index` holding `width` entries. */
  readEntryBundle(index: number, width: number): Promise<Uint8Array>
}

/**
 * A TileReader over an object store's `get` (undefined when absent). A partial tile that is gone is read as
 * the prefix of its full tile, as tlog-tiles allows logs to delete partial tiles once the full one exists.
 * A tile absent both ways, or of the wrong length, throws LOG_INCONSISTENT.
 */
export function tileReaderFromStore(get: (path: string) => Promise<Uint8Array | undefined>): TileReader {
  return {
    async readHashTile(level, index, width) {
      const path = hashTilePath(level, index, width)
      let bytes = await get(path)
      if (bytes === undefined && width < TILE_WIDTH) bytes = (await get(hashTilePath(level, index)))?.subarray(0, width * HASH_SIZE)
      if (bytes === undefined) throw inconsistent(`log tile ${path} is missing`, { reason: 'missing-tile', path })
      if (bytes.length !== width * HASH_SIZE)
        throw inconsistent(`log tile ${path} has ${bytes.length} bytes`, { reason: 'malformed-tile', path })
      return bytes
    },
    async readEntryBundle(index, width) {
      const path = entryBundlePath(index, width)
      let bytes = await get(path)
      if (bytes === undefined && width < TILE_WIDTH) {
        const full = await get(entryBundlePath(index))
        if (full) bytes = encodeEntryBundle(decodeEntryBundle(full, TILE_WIDTH).slice(0, width))
      }
      if (bytes === undefined) throw inconsistent(`log entry bundle ${path} is missing`, { reason: 'missing-tile', path })
      return bytes
    },
  }
}

/**
 * Rebuilds the right edge of the tree of `size` leaves from its partial tiles and partial entry bundle
 * (what a relay does at start-up from its last checkpoint). Checks that the bundle's entries hash to the
 * level-0 edge; the caller checks `rootFromState` against the checkpoint's root.
 */
export async function treeStateFromTiles(sha256: Sha256, size: number, reader: TileReader): Promise<TreeState> {
  checkIndex('tree size', size)
  const levels = tileLevels(size)
  const rows = await Promise.all(
    Array.from({ length: levels }, async (_, level) => {
      const width = nodesAtLevel(size, level) % TILE_WIDTH
      if (width === 0) return []
      return splitHashes(await reader.readHashTile(level, Math.floor(nodesAtLevel(size, level) / TILE_WIDTH), width))
    }),
  )
  const width = size % TILE_WIDTH
  const entries = width === 0 ? [] : decodeEntryBundle(await reader.readEntryBundle(Math.floor(size / TILE_WIDTH), width), width)
  entries.forEach((data, i) => {
    if (!bytesEqual(leafHash(sha256, data), rows[0]![i]!)) {
      throw inconsistent(`entry ${size - width + i} does not hash to its level-0 tile hash`, {
        reason: 'entry-mismatch',
        index: size - width + i,
      })
    }
  })
  const state: TreeState = { size, levels: rows, entries }
  assertTreeState(state)
  return state
}

/**
 * Node hashes for proof generation, read from the tiles of the tree of `size` leaves (the store's current
 * size). A node of height h = 8·L + k is the root of 2^k consecutive hashes of one level-L tile — full if
 * that tile is complete at `size`, else the partial tile of that size. Tiles are fetched once and cached for
 * the life of the returned function (build one per request).
 */
export function hashAtFromTiles(sha256: Sha256, size: number, reader: TileReader): NodeHashSource {
  checkIndex('tree size', size)
  const cache = new Map<string, Promise<Uint8Array[]>>()
  return async (height, index) => {
    checkIndex('node index', index)
    if (!Number.isInteger(height) || height < 0 || (index + 1) * 2 ** height > size) {
      throw new RangeError(`node (${height}, ${index}) is not complete in a tree of size ${size}`)
    }
    const level = Math.floor(height / TILE_HEIGHT)
    const count = 2 ** (height - level * TILE_HEIGHT)
    const first = index * count // position among the nodes of height 8·level
    const tile = Math.floor(first / TILE_WIDTH)
    const available = nodesAtLevel(size, level)
    const width = tile < Math.floor(available / TILE_WIDTH) ? TILE_WIDTH : available % TILE_WIDTH
    const key = `${level}/${tile}/${width}`
    let hashes = cache.get(key)
    if (!hashes) {
      hashes = reader.readHashTile(level, tile, width).then(splitHashes)
      cache.set(key, hashes)
    }
    const row = await hashes
    const offset = first % TILE_WIDTH
    return merkleRoot(sha256, row, offset, offset + count)
  }
}
