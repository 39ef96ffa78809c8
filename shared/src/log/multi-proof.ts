/**
 * One proof for many leaves (docs/sync-protocol.md, "Delivery proofs"): that the leaves at `positions`
 * (strictly increasing) are in the RFC 9162 tree of `size` leaves with a given root. It is the set of
 * subtree hashes the verifier cannot compute from the leaves it holds, in the order a left-to-right walk
 * of the MTH recursion meets them: MTH(D[a:b]) is
 *
 * - the next proof hash, when no proved leaf is in [a, b);
 * - the leaf hash, when b − a = 1 (it is a proved leaf);
 * - otherwise HASH(0x01 ‖ MTH(D[a:a+k]) ‖ MTH(D[a+k:b])), k the largest power of two < b − a.
 *
 * For one leaf it holds exactly the hashes of the RFC 9162 inclusion path (in left-to-right order, not
 * bottom-up). For a run of
 * m consecutive leaves it needs about 2·log2(size) hashes whatever m is, and for m scattered leaves at
 * most m·log2(size/m)-ish — a stream's batch of 500 receipts costs a few hundred hashes at worst, and
 * checking it costs about one SHA-256 per leaf and per interior node on the way.
 */
import type { Sha256 } from '../crypto/types.js'
import { bytesEqual, HASH_SIZE, nodeHash, rangeHash, splitPoint, type NodeHashSource } from './merkle.js'

function checkPositions(positions: readonly number[], size: number): boolean {
  if (!Number.isSafeInteger(size) || size < 1) return false
  let last = -1
  for (const p of positions) {
    if (!Number.isSafeInteger(p) || p <= last || p >= size) return false
    last = p
  }
  return positions.length > 0
}

/** The first index in positions[lo:hi] whose position is ≥ at (positions are increasing). */
function firstAtOrAfter(positions: readonly number[], lo: number, hi: number, at: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (positions[mid]! < at) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * The multi-leaf inclusion proof of `positions` (strictly increasing, each < size, at least one) in the
 * tree of `size` leaves, from the complete subtree hashes `hashAt` serves. Throws RangeError for positions
 * that are not a valid set.
 */
export async function multiInclusionProof(
  sha256: Sha256,
  positions: readonly number[],
  size: number,
  hashAt: NodeHashSource,
): Promise<Uint8Array[]> {
  if (!checkPositions(positions, size)) throw new RangeError(`positions must be strictly increasing and below ${size}`)
  const ranges: Array<[number, number]> = []
  const walk = (a: number, b: number, lo: number, hi: number): void => {
    if (lo === hi) {
      ranges.push([a, b])
      return
    }
    if (b - a === 1) return
    const k = splitPoint(b - a)
    const mid = firstAtOrAfter(positions, lo, hi, a + k)
    walk(a, a + k, lo, mid)
    walk(a + k, b, mid, hi)
  }
  walk(0, size, 0, positions.length)
  return Promise.all(ranges.map(([a, b]) => rangeHash(sha256, a, b, hashAt)))
}

/**
 * Whether `proof` shows the leaves with hashes `leafHashes` at `positions` in the tree of `size` leaves
 * whose root is `root`. Every proof hash must be used, exactly once. Never throws: false for malformed
 * input (positions not strictly increasing or not below size, counts that differ, hashes not 32 bytes).
 */
export function verifyMultiInclusion(
  sha256: Sha256,
  positions: readonly number[],
  leafHashes: readonly Uint8Array[],
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!checkPositions(positions, size) || leafHashes.length !== positions.length || root.length !== HASH_SIZE) return false
  if (leafHashes.some((h) => h.length !== HASH_SIZE) || proof.some((h) => h.length !== HASH_SIZE)) return false
  let next = 0
  const hash = (a: number, b: number, lo: number, hi: number): Uint8Array | undefined => {
    if (lo === hi) return proof[next++]
    if (b - a === 1) return leafHashes[lo]
    const k = splitPoint(b - a)
    const mid = firstAtOrAfter(positions, lo, hi, a + k)
    const left = hash(a, a + k, lo, mid)
    if (!left) return undefined
    const right = hash(a + k, b, mid, hi)
    return right && nodeHash(sha256, left, right)
  }
  const computed = hash(0, size, 0, positions.length)
  return computed !== undefined && next === proof.length && bytesEqual(computed, root)
}
