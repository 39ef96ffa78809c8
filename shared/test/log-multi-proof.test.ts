/**
 * Multi-leaf inclusion proofs (log/multi-proof.ts): generated from a real tree (integrate → tiles →
 * hashAtFromTiles), checked against the tree's root, equal to the RFC 9162 path for one leaf, and refused
 * for every tampering a relay could try (a leaf left out, a wrong leaf, a wrong position, a shifted or
 * extra or missing proof hash, another root).
 */
import { describe, expect, it } from 'vitest'
import {
  EMPTY_TREE,
  hashAtFromTiles,
  inclusionProof,
  integrate,
  leafHash,
  multiInclusionProof,
  tileReaderFromStore,
  verifyMultiInclusion,
  type NodeHashSource,
} from '../src/index.js'
import { nodeSha256 as sha256 } from '../src/node/index.js'

function tree(size: number): { root: Uint8Array; leaves: Uint8Array[]; hashAt: NodeHashSource } {
  const data = Array.from({ length: size }, (_, i) => new TextEncoder().encode(`leaf ${i}`))
  const result = integrate(sha256, EMPTY_TREE, data)
  const files = new Map([...result.tiles, ...result.entryBundles].map((o) => [o.path, o.bytes]))
  const reader = tileReaderFromStore(async (path) => files.get(path))
  return { root: result.root, leaves: data.map((d) => leafHash(sha256, d)), hashAt: hashAtFromTiles(sha256, size, reader) }
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

/** A deterministic pseudo-random subset of [0, size), sorted. */
function subset(size: number, count: number, seed: number): number[] {
  const picked = new Set<number>()
  let x = seed % 2147483646 || 1
  while (picked.size < Math.min(count, size)) {
    x = (x * 48271) % 2147483647 // Park–Miller: exact in doubles
    picked.add(x % size)
  }
  return [...picked].sort((a, b) => a - b)
}

describe('multi-leaf inclusion proofs', () => {
  for (const size of [1, 2, 3, 7, 8, 255, 256, 257, 1000, 70_000]) {
    it(`proves runs and scattered leaves in a tree of ${size}`, async () => {
      const t = tree(size)
      const sets = [
        [0],
        [size - 1],
        subset(size, 5, size),
        subset(size, 40, 7 * size),
        Array.from({ length: Math.min(size, 500) }, (_, i) => i + Math.max(0, size - 500)), // a tail run
      ]
      for (const positions of sets) {
        const proof = await multiInclusionProof(sha256, positions, size, t.hashAt)
        const leaves = positions.map((p) => t.leaves[p]!)
        expect(verifyMultiInclusion(sha256, positions, leaves, size, proof, t.root)).toBe(true)
      }
    })
  }

  it('holds the RFC 9162 inclusion path for one leaf, and small for a run', async () => {
    const size = 70_000
    const t = tree(size)
    for (const index of [0, 12_345, size - 1]) {
      const single = await multiInclusionProof(sha256, [index], size, t.hashAt)
      const path = await inclusionProof(sha256, index, size, t.hashAt)
      expect(single.map(hex).sort()).toEqual(path.map(hex).sort())
      expect(single).toHaveLength(path.length)
    }
    const run = Array.from({ length: 500 }, (_, i) => 30_000 + i)
    expect((await multiInclusionProof(sha256, run, size, t.hashAt)).length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(size)))
  })

  it('refuses every tampering', async () => {
    const size = 1000
    const t = tree(size)
    const positions = [3, 4, 5, 400, 999]
    const leaves = positions.map((p) => t.leaves[p]!)
    const proof = await multiInclusionProof(sha256, positions, size, t.hashAt)
    const ok = (pos: number[], lv: Uint8Array[], pr: Uint8Array[], root = t.root, n = size) =>
      verifyMultiInclusion(sha256, pos, lv, n, pr, root)
    expect(ok(positions, leaves, proof)).toBe(true)
    // A leaf dropped (the proof still names it as a leaf), or one that is not in the tree.
    expect(
      ok(
        positions.filter((_, i) => i !== 1),
        leaves.filter((_, i) => i !== 1),
        proof,
      ),
    ).toBe(false)
    expect(ok(positions, [t.leaves[6]!, ...leaves.slice(1)], proof)).toBe(false)
    // Leaves swapped, a wrong position, positions out of order or out of range.
    expect(ok(positions, [leaves[1]!, leaves[0]!, ...leaves.slice(2)], proof)).toBe(false)
    expect(ok([3, 4, 5, 401, 999], leaves, proof)).toBe(false)
    expect(ok([4, 3, 5, 400, 999], leaves, proof)).toBe(false)
    expect(ok([3, 4, 5, 400, 1000], leaves, proof)).toBe(false)
    // Proof hashes missing, extra, reordered, altered; another root or size.
    expect(ok(positions, leaves, proof.slice(1))).toBe(false)
    expect(ok(positions, leaves, [...proof, proof[0]!])).toBe(false)
    expect(ok(positions, leaves, [...proof].reverse())).toBe(false)
    const altered = proof.map((h) => h.slice())
    altered[0]![0]! ^= 1
    expect(ok(positions, leaves, altered)).toBe(false)
    expect(ok(positions, leaves, proof, tree(size + 1).root, size + 1)).toBe(false)
    expect(ok([], [], [])).toBe(false)
    await expect(multiInclusionProof(sha256, [5, 5], size, t.hashAt)).rejects.toThrow(RangeError)
  })
})
