/**
 * RFC 6962 / RFC 9162 known answers from transparency-dev/merkle (test-vectors/rfc6962/, see its README
 * section): the hasher, the 8-leaf reference tree's nodes and roots, and the inclusion and consistency
 * probes (valid proofs and their mutations) — every one must get the verdict upstream gives it.
 */
import { describe, expect, it } from 'vitest'
import {
  base64Decode,
  consistencyProof,
  emptyRoot,
  hexToBytes,
  inclusionProof,
  integrate,
  EMPTY_TREE,
  leafHash,
  merkleRoot,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
  type NodeHashSource,
} from '../src/index.js'
import { nodeSha256 as sha256 } from '../src/node/index.js'
import { readVectorJson } from './support/vectors.js'

interface TreeVectors {
  leafInputs: string[]
  nodeHashes: string[][]
  rootHashes: string[]
  hasher: {
    emptyRoot: string
    emptyLeafHash: string
    leafHash: { leafData: string; hash: string }
    nodeHash: { left: string; right: string; hash: string }
  }
}

interface InclusionProbe {
  file: string
  leafIdx: number
  treeSize: number
  root: string | null
  leafHash: string | null
  proof: string[] | null
  desc: string
  wantErr: boolean
}

interface ConsistencyProbe {
  file: string
  size1: number
  size2: number
  root1: string | null
  root2: string | null
  proof: string[] | null
  desc: string
  wantErr: boolean
}

const tree = readVectorJson<TreeVectors>('test-vectors/rfc6962/tree.json')
const inclusion = readVectorJson<InclusionProbe[]>('test-vectors/rfc6962/inclusion.json')
const consistency = readVectorJson<ConsistencyProbe[]>('test-vectors/rfc6962/consistency.json')

/** Go's encoding/json writes []byte as padded base64 and nil as null. */
function b64(value: string | null): Uint8Array {
  if (value === null) return new Uint8Array(0)
  const bytes = base64Decode(value)
  if (!bytes) throw new Error(`vector has bad base64 ${value}`)
  return bytes
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')
const leaves = tree.leafInputs.map(hexToBytes)
const leafHashes = leaves.map((d) => leafHash(sha256, d))
/** hashAt over the reference tree's complete nodes, straight from the vector file. */
const vectorHashAt: NodeHashSource = (level, index) => {
  const h = tree.nodeHashes[level]?.[index]
  if (h === undefined) return Promise.reject(new Error(`no node (${level}, ${index}) in the vector tree`))
  return Promise.resolve(hexToBytes(h))
}

describe('RFC 6962 hasher known answers', () => {
  it('empty root, empty leaf, leaf and node hashes', () => {
    expect(hex(emptyRoot(sha256))).toBe(tree.hasher.emptyRoot)
    expect(hex(leafHash(sha256, new Uint8Array(0)))).toBe(tree.hasher.emptyLeafHash)
    expect(hex(leafHash(sha256, hexToBytes(tree.hasher.leafHash.leafData)))).toBe(tree.hasher.leafHash.hash)
    const { left, right, hash } = tree.hasher.nodeHash
    expect(hex(nodeHash(sha256, hexToBytes(left), hexToBytes(right)))).toBe(hash)
  })
})

describe('the 8-leaf reference tree', () => {
  it('has the published root at every size 0..8 (merkleRoot and the tiled integrator)', () => {
    expect(tree.rootHashes).toHaveLength(9)
    let state = EMPTY_TREE
    for (let size = 0; size <= 8; size++) {
      expect(hex(merkleRoot(sha256, leafHashes.slice(0, size))), `size ${size}`).toBe(tree.rootHashes[size])
      if (size > 0) {
        const step = integrate(sha256, state, [leaves[size - 1]!])
        expect(hex(step.root), `integrated size ${size}`).toBe(tree.rootHashes[size])
        state = step.state
      }
    }
  })

  it('has the published hash for every complete subtree', () => {
    tree.nodeHashes.forEach((row, level) =>
      row.forEach((h, index) => {
        const width = 2 ** level
        expect(hex(merkleRoot(sha256, leafHashes, index * width, (index + 1) * width)), `node (${level}, ${index})`).toBe(h)
      }),
    )
  })

  it('generates proofs that verify for every (index, size) and every (old, new) up to 8', async () => {
    for (let size = 1; size <= 8; size++) {
      const root = hexToBytes(tree.rootHashes[size]!)
      for (let index = 0; index < size; index++) {
        const proof = await inclusionProof(sha256, index, size, vectorHashAt)
        expect(verifyInclusion(sha256, index, size, leafHashes[index]!, proof, root), `inclusion ${index} in ${size}`).toBe(true)
      }
      for (let old = 1; old <= size; old++) {
        const proof = await consistencyProof(sha256, old, size, vectorHashAt)
        const oldRoot = hexToBytes(tree.rootHashes[old]!)
        expect(verifyConsistency(sha256, old, size, proof, oldRoot, root), `consistency ${old} → ${size}`).toBe(true)
      }
    }
  })
})

describe('transparency-dev/merkle inclusion probes', () => {
  it('are all there', () => {
    expect(inclusion).toHaveLength(98)
    expect(inclusion.filter((p) => !p.wantErr)).toHaveLength(6)
  })
  for (const p of inclusion) {
    it(`${p.file}: ${p.wantErr ? 'fails' : 'verifies'}`, () => {
      const ok = verifyInclusion(sha256, p.leafIdx, p.treeSize, b64(p.leafHash), (p.proof ?? []).map(b64), b64(p.root))
      expect(ok).toBe(!p.wantErr)
    })
  }

  it('happy paths inside the reference tree are exactly the proofs we generate', async () => {
    for (const p of inclusion.filter((p) => !p.wantErr && p.treeSize <= 8 && p.file.includes('/happy-path'))) {
      const proof = await inclusionProof(sha256, p.leafIdx, p.treeSize, vectorHashAt)
      expect(
        proof.map((h) => Buffer.from(h).toString('base64')),
        p.file,
      ).toEqual(p.proof ?? [])
    }
  })
})

describe('transparency-dev/merkle consistency probes', () => {
  it('are all there', () => {
    expect(consistency).toHaveLength(98)
    expect(consistency.filter((p) => !p.wantErr)).toHaveLength(6)
  })
  for (const p of consistency) {
    it(`${p.file}: ${p.wantErr ? 'fails' : 'verifies'}`, () => {
      const ok = verifyConsistency(sha256, p.size1, p.size2, (p.proof ?? []).map(b64), b64(p.root1), b64(p.root2))
      expect(ok).toBe(!p.wantErr)
    })
  }

  it('happy paths inside the reference tree are exactly the proofs we generate', async () => {
    for (const p of consistency.filter((p) => !p.wantErr && p.file.includes('/happy-path'))) {
      const proof = await consistencyProof(sha256, p.size1, p.size2, vectorHashAt)
      expect(
        proof.map((h) => Buffer.from(h).toString('base64')),
        p.file,
      ).toEqual(p.proof ?? [])
    }
  })
})
