/**
 * The golden acceptance-log vectors (docs/vectors/log/): exactly what the generator writes, byte for byte,
 * and — read back from the files alone, as a verifier in another language would — every tile and entry
 * bundle recomputed from the entries, every checkpoint signature and every proof verified.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  base64Decode,
  consistencyProof,
  decodeEntryBundle,
  encodeEntryBundle,
  hashAtFromTiles,
  inclusionProof,
  leafHash,
  merkleRoot,
  nobleVerifier,
  parseLeafData,
  parseTilePath,
  parseVerifierKey,
  tileReaderFromStore,
  verifyConsistency,
  verifyInclusion,
  verifySignedCheckpoint,
  webCryptoVerifier,
  type PublicJwk,
} from '../src/index.js'
import { nodeSha256 as sha256, nodeVerifier } from '../src/node/index.js'
import { buildLogVectors, LOG_VECTOR_BATCHES, LOG_VECTOR_ORIGIN, LOG_VECTOR_SIZE } from './support/log-vectors.js'
import { vectorPath } from './support/vectors.js'

const DIR = 'docs/vectors/log'
const filesOnDisk = (): string[] =>
  readdirSync(vectorPath(DIR), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(vectorPath(DIR), join(e.parentPath, e.name)).split('\\').join('/'))
    .sort()
const read = (name: string) => new Uint8Array(readFileSync(vectorPath(`${DIR}/${name}`)))
const text = (name: string) => new TextDecoder('utf-8', { fatal: true }).decode(read(name))
const b64 = (s: string) => base64Decode(s)!
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'))

interface Proofs {
  origin: string
  checkpoints: Array<{ size: number; root: string }>
  leafExample: { index: number; entry: unknown; leafData: string; leafHash: string }
  inclusion: Array<{ index: number; size: number; leafData: string; leafHash: string; root: string; hashes: string[] }>
  consistency: Array<{ from: number; to: number; fromRoot: string; toRoot: string; hashes: string[] }>
}

describe('acceptance-log vectors (docs/vectors/log)', () => {
  it('are exactly the files the generator writes, byte for byte, none missing and none extra', async () => {
    const { files } = await buildLogVectors()
    expect(filesOnDisk()).toEqual(Object.keys(files).sort())
    for (const [name, content] of Object.entries(files)) {
      const want = typeof content === 'string' ? new TextEncoder().encode(content) : content
      expect(Buffer.from(read(name)).equals(want), name).toBe(true)
    }
  })

  // Everything below reads the files only.
  const lines = text('entries.ndjson').split('\n')
  const leaves = lines.slice(0, -1).map((line) => new TextEncoder().encode(line))
  const hashes = leaves.map((d) => leafHash(sha256, d))
  const key = JSON.parse(text('relay-key.json')) as { name: string; publicJwk: PublicJwk; vkey: string; keyHash: string }
  const proofs = JSON.parse(text('proofs.json')) as Proofs

  it('hold 300 canonical entries, one per line', () => {
    expect(lines.at(-1)).toBe('')
    expect(leaves).toHaveLength(LOG_VECTOR_SIZE)
    for (const leaf of leaves) parseLeafData(leaf)
    expect(Buffer.from(leaves[0]!).toString('hex')).toBe(proofs.leafExample.leafData)
    expect(Buffer.from(hashes[0]!).toString('hex')).toBe(proofs.leafExample.leafHash)
  })

  it('every tile and entry bundle is what the entries make, computed from scratch', () => {
    const stored = filesOnDisk().filter((f) => f.startsWith('pixpax/log/tile/'))
    expect(stored.length).toBeGreaterThan(0)
    for (const path of stored) {
      const c = parseTilePath(path.slice('pixpax/log/'.length))
      expect(c?.path, path).toBe(path)
      const first = c!.index * 256
      if (c!.kind === 'entries') {
        expect(Buffer.from(read(path)).equals(encodeEntryBundle(leaves.slice(first, first + c!.width))), path).toBe(true)
        expect(decodeEntryBundle(read(path), c!.width)).toHaveLength(c!.width)
      } else {
        const span = 256 ** c!.level
        const want = Array.from({ length: c!.width }, (_, i) => merkleRoot(sha256, hashes, (first + i) * span, (first + i + 1) * span))
        expect(Buffer.from(read(path)).equals(Buffer.concat(want)), path).toBe(true)
      }
    }
    // The partial tiles of every checkpoint are there (none was deleted).
    for (const size of proofs.checkpoints.map((c) => c.size)) {
      if (size % 256)
        expect(stored, `size ${size}`).toContain(`pixpax/log/tile/0/${String(Math.floor(size / 256)).padStart(3, '0')}.p/${size % 256}`)
    }
  })

  it('the checkpoints verify under the published key, with every verifier backend', async () => {
    const vkey = parseVerifierKey(key.vkey)
    expect(vkey.publicKey).toEqual(key.publicJwk)
    expect(vkey.name).toBe(LOG_VECTOR_ORIGIN)
    let size = 0
    const sizes = LOG_VECTOR_BATCHES.map((b) => (size += b))
    expect(proofs.checkpoints.map((c) => c.size)).toEqual(sizes)
    for (const verifier of [nodeVerifier(), webCryptoVerifier(), nobleVerifier]) {
      for (const { size, root } of proofs.checkpoints) {
        const cp = await verifySignedCheckpoint(text(`checkpoints/${size}`), vkey, verifier)
        expect(cp.size).toBe(size)
        expect(Buffer.from(cp.root).toString('base64')).toBe(root)
        expect(Buffer.from(cp.root).equals(merkleRoot(sha256, hashes.slice(0, size)))).toBe(true)
      }
      const latest = await verifySignedCheckpoint(text('pixpax/log/checkpoint'), vkey, verifier)
      expect(latest.size).toBe(LOG_VECTOR_SIZE)
    }
  })

  it('every proof verifies, and is what the relay would serve from these tiles', async () => {
    const reader = tileReaderFromStore((path) => {
      try {
        return Promise.resolve(read(path))
      } catch {
        return Promise.resolve(undefined)
      }
    })
    const hashAt = hashAtFromTiles(sha256, LOG_VECTOR_SIZE, reader)
    expect(proofs.inclusion.length).toBeGreaterThan(0)
    for (const p of proofs.inclusion) {
      expect(Buffer.from(leaves[p.index]!).toString('hex')).toBe(p.leafData)
      expect(Buffer.from(hashes[p.index]!).toString('hex')).toBe(p.leafHash)
      expect(verifyInclusion(sha256, p.index, p.size, hex(p.leafHash), p.hashes.map(b64), b64(p.root)), `${p.index}@${p.size}`).toBe(true)
      expect((await inclusionProof(sha256, p.index, p.size, hashAt)).map((h) => Buffer.from(h).toString('base64'))).toEqual(p.hashes)
    }
    expect(proofs.consistency.length).toBeGreaterThan(0)
    for (const p of proofs.consistency) {
      expect(verifyConsistency(sha256, p.from, p.to, p.hashes.map(b64), b64(p.fromRoot), b64(p.toRoot)), `${p.from}→${p.to}`).toBe(true)
      expect((await consistencyProof(sha256, p.from, p.to, hashAt)).map((h) => Buffer.from(h).toString('base64'))).toEqual(p.hashes)
    }
  })
})
