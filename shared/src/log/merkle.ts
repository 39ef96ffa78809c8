/**
 * The acceptance log's Merkle tree (ARCHITECTURE §4): leaf data, RFC 9162 §2.1 hashing, the reference tree
 * hash, inclusion and consistency proofs (generation from a node-hash source, and verification). Pure and
 * synchronous except where node hashes come from storage; SHA-256 is injected so this runs in browsers
 * (`nobleSha256`) and on Node (`nodeSha256`) alike.
 *
 * Tree sizes and indexes are plain numbers up to 2^53 − 1. All index arithmetic below uses division and
 * remainder, never JavaScript's 32-bit bit operators, so it stays exact past 2^32 leaves.
 */
import { z } from 'zod'
import { canonicalBytes } from '../canonical-json.js'
import type { Sha256 } from '../crypto/types.js'
import { base64Decode, base64Encode, utf8DecodeStrict } from '../encoding.js'
import { PixpaxError } from '../errors.js'
import { Sha256RefSchema, UlidSchema } from '../schemas.js'
import { parseStrictJson } from '../strict-json.js'

/** Bytes in every tree hash (SHA-256). */
export const HASH_SIZE = 32

/**
 * A stream key as the log records it: `{type}/{id}/…` (ARCHITECTURE §3). The log checks only the shape —
 * which types exist and how many ids each takes is the stream registry's business, not the log's.
 */
const STREAM_KEY = /^[a-z][a-z0-9_-]{0,31}(\/[A-Za-z0-9_-]{1,64}){1,8}$/

/** One accepted receipt as the log records it: the leaf's four members (ARCHITECTURE §4). */
export const LogEntrySchema = z.strictObject({
  eventId: UlidSchema,
  hash: Sha256RefSchema,
  seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  stream: z.string().regex(STREAM_KEY, 'a stream key: {type}/{id}/…'),
})
/** One log entry: which receipt (`eventId`, `hash`) took which place (`seq`) in which stream. */
export type LogEntry = z.infer<typeof LogEntrySchema>

function checkEntry(value: unknown): LogEntry {
  const parsed = LogEntrySchema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new PixpaxError('SCHEMA_INVALID', `log entry: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`)
  }
  return parsed.data
}

/**
 * The leaf data of a log entry: the UTF-8 RFC 8785 (JCS) bytes of `{"eventId","hash","seq","stream"}`.
 * Throws SCHEMA_INVALID if the entry is not well formed (so nothing malformed ever reaches the log).
 */
export function leafData(entry: LogEntry): Uint8Array {
  // The common case without zod and a general JCS encoder (a client hashes one leaf per delivered
  // receipt): when every member has its shape, no string needs an escape (ULID, lowercase hex, stream
  // key characters) and a safe integer prints as JCS prints it, so the text below is exactly the JCS
  // bytes of the four members in key order. Anything else goes the checked way (and fails there).
  const e = entry as Partial<Record<keyof LogEntry, unknown>> | null
  if (
    typeof e === 'object' &&
    e !== null &&
    Object.keys(e).length === 4 &&
    typeof e.eventId === 'string' &&
    ULID.test(e.eventId) &&
    typeof e.hash === 'string' &&
    SHA256_REF.test(e.hash) &&
    Number.isSafeInteger(e.seq) &&
    (e.seq as number) >= 1 &&
    typeof e.stream === 'string' &&
    STREAM_KEY.test(e.stream)
  ) {
    return ASCII.encode(`{"eventId":"${e.eventId}","hash":"${e.hash}","seq":${e.seq as number},"stream":"${e.stream}"}`)
  }
  const { eventId, hash, seq, stream } = checkEntry(entry)
  return canonicalBytes({ eventId, hash, seq, stream })
}

/** The shapes LogEntrySchema checks, for leafData's fast path (the schema stays the definition). */
const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/
const SHA256_REF = /^sha256:[0-9a-f]{64}$/
const ASCII = new TextEncoder()

/**
 * Parses leaf data back into its entry, strictly: valid UTF-8, strict JSON, exactly the four members with
 * the right shapes, and in canonical form (re-encoding gives the same bytes), so each entry has exactly one
 * leaf. Throws JSON_INVALID / DUPLICATE_KEY / SCHEMA_INVALID.
 */
export function parseLeafData(data: Uint8Array): LogEntry {
  let text: string
  try {
    text = utf8DecodeStrict(data)
  } catch (cause) {
    throw new PixpaxError('JSON_INVALID', 'log leaf is not valid UTF-8', undefined, { cause })
  }
  const entry = checkEntry(parseStrictJson(text))
  if (!bytesEqual(leafData(entry), data)) throw new PixpaxError('SCHEMA_INVALID', 'log leaf is not in canonical (RFC 8785) form')
  return entry
}

/** RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 ‖ data). */
export function leafHash(sha256: Sha256, data: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + data.length)
  input.set(data, 1)
  return sha256(input)
}

/** RFC 9162 §2.1.1 interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(sha256: Sha256, left: Uint8Array, right: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + left.length + right.length)
  input[0] = 1
  input.set(left, 1)
  input.set(right, 1 + left.length)
  return sha256(input)
}

/** The root of the empty tree: SHA-256 of no bytes (RFC 9162 §2.1.1). */
export function emptyRoot(sha256: Sha256): Uint8Array {
  return sha256(new Uint8Array(0))
}

/** Whether two byte strings are equal (not constant-time: everything compared here is public). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The largest power of two strictly less than n (n ≥ 2): the split point k of RFC 9162 §2.1.1. */
export function splitPoint(n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false
  while (n % 2 === 0) n /= 2
  return n === 1
}

function log2Exact(n: number): number {
  let level = 0
  while (n > 1) {
    n /= 2
    level++
  }
  return level
}

function checkSize(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative safe integer, got ${value}`)
}

/**
 * The reference Merkle Tree Hash, MTH(D[start:end]) of RFC 9162 §2.1.1, over leaf hashes already computed
 * (`leafHashes[i]` = leafHash(d(i))). `merkleRoot(sha256, hashes)` is the root of the whole list. Recursive
 * and O(n): the yardstick the tiled integrator is tested against, and fine for small trees.
 */
export function merkleRoot(sha256: Sha256, leafHashes: readonly Uint8Array[], start = 0, end = leafHashes.length): Uint8Array {
  const n = end - start
  if (n < 0 || start < 0 || end > leafHashes.length) throw new RangeError(`bad range [${start}, ${end})`)
  if (n === 0) return emptyRoot(sha256)
  if (n === 1) return leafHashes[start]!
  const k = splitPoint(n)
  return nodeHash(sha256, merkleRoot(sha256, leafHashes, start, start + k), merkleRoot(sha256, leafHashes, start + k, end))
}

/**
 * Where proof generation gets tree nodes: the root of the complete subtree of 2^level leaves that starts at
 * leaf index·2^level (level 0 = leaf hashes). Only nodes that are complete in the tree being proved are
 * asked for. `hashAtFromTiles` (tiles.ts) implements it over a tile store.
 */
export type NodeHashSource = (level: number, index: number) => Promise<Uint8Array>

/**
 * MTH(D[start:end]) from complete nodes: the subtree hash of any range the RFC 9162 recursion produces
 * (start a multiple of the smallest power of two ≥ end − start). An incomplete right edge is folded from
 * the complete subtrees it decomposes into, right to left, exactly as MTH splits it.
 */
export async function rangeHash(sha256: Sha256, start: number, end: number, hashAt: NodeHashSource): Promise<Uint8Array> {
  checkSize('start', start)
  checkSize('end', end)
  const n = end - start
  if (n < 1) throw new RangeError(`empty range [${start}, ${end})`)
  let width = 1
  while (width < n) width *= 2
  if (start % width !== 0) throw new RangeError(`[${start}, ${end}) is not a subtree of the tree`)
  // Left to right, the complete subtrees are the binary digits of n from the highest down.
  const parts: Promise<Uint8Array>[] = []
  let at = start
  let rest = n
  while (rest > 0) {
    const size = isPowerOfTwo(rest) ? rest : splitPoint(rest)
    parts.push(hashAt(log2Exact(size), at / size))
    at += size
    rest -= size
  }
  const hashes = await Promise.all(parts)
  let acc = hashes[hashes.length - 1]!
  for (let i = hashes.length - 2; i >= 0; i--) acc = nodeHash(sha256, hashes[i]!, acc)
  return acc
}

/**
 * The RFC 9162 §2.1.3.1 inclusion proof PATH(index, D[0:size]), bottom-up: the sibling subtree hashes from
 * the leaf to the root. Empty for a tree of one leaf. Requires 0 ≤ index < size.
 */
export async function inclusionProof(sha256: Sha256, index: number, size: number, hashAt: NodeHashSource): Promise<Uint8Array[]> {
  checkSize('index', index)
  checkSize('size', size)
  if (index >= size) throw new RangeError(`index ${index} is not in a tree of size ${size}`)
  // Walk down from the root; each step's sibling is the proof element of that height.
  const ranges: Array<[number, number]> = []
  let start = 0
  let n = size
  let m = index
  while (n > 1) {
    const k = splitPoint(n)
    if (m < k) {
      ranges.push([start + k, start + n])
      n = k
    } else {
      ranges.push([start, start + k])
      start += k
      m -= k
      n -= k
    }
  }
  const hashes = await Promise.all(ranges.map(([a, b]) => rangeHash(sha256, a, b, hashAt)))
  return hashes.reverse()
}

/**
 * The RFC 9162 §2.1.4.1 consistency proof PROOF(oldSize, D[0:newSize]), bottom-up. Empty when the sizes are
 * equal. Requires 0 < oldSize ≤ newSize: a proof from the empty tree is meaningless (every tree extends it)
 * and is refused, as RFC 9162 and transparency-dev/merkle do.
 */
export async function consistencyProof(sha256: Sha256, oldSize: number, newSize: number, hashAt: NodeHashSource): Promise<Uint8Array[]> {
  checkSize('oldSize', oldSize)
  checkSize('newSize', newSize)
  if (oldSize < 1 || oldSize > newSize) throw new RangeError(`no consistency proof from size ${oldSize} to ${newSize}`)
  const ranges: Array<[number, number]> = []
  let start = 0
  let n = newSize
  let m = oldSize
  let whole = true // SUBPROOF's b: the old tree is still a prefix of the original, so its root is known
  while (m !== n) {
    const k = splitPoint(n)
    if (m <= k) {
      ranges.push([start + k, start + n])
      n = k
    } else {
      ranges.push([start, start + k])
      start += k
      m -= k
      n -= k
      whole = false
    }
  }
  if (!whole) ranges.push([start, start + n])
  const hashes = await Promise.all(ranges.map(([a, b]) => rangeHash(sha256, a, b, hashAt)))
  return hashes.reverse()
}

function validSize(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0
}

/**
 * RFC 9162 §2.1.3.2: whether `proof` shows the leaf with hash `leafHash` at `index` in the tree of `size`
 * leaves whose root is `root`. Never throws; false for any malformed input (index ≥ size, a hash that is
 * not 32 bytes, a proof of the wrong length).
 */
export function verifyInclusion(
  sha256: Sha256,
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!validSize(index) || !validSize(size) || index >= size) return false
  if (leafHash.length !== HASH_SIZE || root.length !== HASH_SIZE || proof.some((p) => p.length !== HASH_SIZE)) return false
  let fn = index
  let sn = size - 1
  let r = leafHash
  for (const p of proof) {
    if (sn === 0) return false
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(sha256, p, r)
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2
        sn = Math.floor(sn / 2)
      }
    } else {
      r = nodeHash(sha256, r, p)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && bytesEqual(r, root)
}

/**
 * RFC 9162 §2.1.4.2: whether `proof` shows that the tree of `oldSize` leaves with root `oldRoot` is a prefix
 * of the tree of `newSize` leaves with root `newRoot`. Equal sizes need an empty proof and equal roots. An
 * `oldSize` of 0 is refused (false), as transparency-dev/merkle does: there is nothing to prove, and a
 * client that holds no checkpoint yet needs no proof. Never throws.
 */
export function verifyConsistency(
  sha256: Sha256,
  oldSize: number,
  newSize: number,
  proof: readonly Uint8Array[],
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
): boolean {
  if (!validSize(oldSize) || !validSize(newSize) || oldSize === 0 || oldSize > newSize) return false
  if (oldSize === newSize) return proof.length === 0 && bytesEqual(oldRoot, newRoot)
  if (proof.length === 0 || proof.some((p) => p.length !== HASH_SIZE)) return false
  if (oldRoot.length !== HASH_SIZE || newRoot.length !== HASH_SIZE) return false
  const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : [...proof]
  let fn = oldSize - 1
  let sn = newSize - 1
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  let fr = path[0]!
  let sr = path[0]!
  for (const c of path.slice(1)) {
    if (sn === 0) return false
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(sha256, c, fr)
      sr = nodeHash(sha256, c, sr)
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2
        sn = Math.floor(sn / 2)
      }
    } else {
      sr = nodeHash(sha256, sr, c)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && bytesEqual(fr, oldRoot) && bytesEqual(sr, newRoot)
}

// ---- the proof JSON the relay serves (docs/log.md) ----

/** Longest proof the wire format accepts: a tree of 2^53 leaves needs at most 2·53 hashes. */
export const MAX_PROOF_HASHES = 128

const ProofHashSchema = z.string().refine((s) => base64Decode(s)?.length === HASH_SIZE, 'a 32-byte hash in padded base64')

/** `{"hashes": [base64, …]}`: the body of `GET /v1/log/proof/inclusion` and `…/consistency`. */
export const LogProofSchema = z.strictObject({ hashes: z.array(ProofHashSchema).max(MAX_PROOF_HASHES) })
/** A proof as JSON: its hashes in standard padded base64, bottom-up. */
export type LogProofJson = z.infer<typeof LogProofSchema>

/** A proof as the relay serves it. */
export function proofToJson(hashes: readonly Uint8Array[]): LogProofJson {
  return { hashes: hashes.map(base64Encode) }
}

/** The hashes of a served proof; throws LOG_INCONSISTENT if the body is not exactly that shape. */
export function proofFromJson(value: unknown): Uint8Array[] {
  const parsed = LogProofSchema.safeParse(value)
  if (!parsed.success) throw new PixpaxError('LOG_INCONSISTENT', 'malformed log proof', { reason: 'malformed-proof' })
  return parsed.data.hashes.map((h) => base64Decode(h)!)
}
