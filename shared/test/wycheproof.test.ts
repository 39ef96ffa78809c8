/**
 * Project Wycheproof ECDSA P-256/SHA-256 vectors against the three verifier backends and the receipt
 * signature policy (low-S r‖s only). The backends must agree with Wycheproof and with each other,
 * vector by vector.
 */
import { createPublicKey, verify as nodeCryptoVerify, type KeyObject } from 'node:crypto'
import { p256 } from '@noble/curves/nist.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  P256_HALF_N,
  P256_N,
  PixpaxError,
  base64Encode,
  hexToBytes,
  nobleVerifier,
  normalizeLowS,
  parseSignature,
  splitSignature,
  uncompressedToJwk,
  webCryptoVerifier,
  type PublicJwk,
  type SignatureVerifier,
} from '../src/index.js'
import { VerifyPool, nodeVerifier } from '../src/node/index.js'
import { readVectorJson, type WycheproofFile } from './support/vectors.js'

const P1363_FILE = 'test-vectors/wycheproof/ecdsa_secp256r1_sha256_p1363_test.json'
const DER_FILE = 'test-vectors/wycheproof/ecdsa_secp256r1_sha256_test.json'

interface Vector {
  readonly tcId: number
  readonly comment: string
  readonly flags: readonly string[]
  readonly result: 'valid' | 'invalid'
  readonly publicKey: PublicJwk
  readonly uncompressed: Uint8Array
  readonly msg: Uint8Array
  readonly sig: Uint8Array
}

function loadVectors(path: string, expectedAlgorithm: string, expectedType: string): Vector[] {
  const file = readVectorJson<WycheproofFile>(path)
  expect(file.algorithm).toBe(expectedAlgorithm)
  const vectors: Vector[] = []
  for (const group of file.testGroups) {
    expect(group.type).toBe(expectedType)
    expect(group.sha).toBe('SHA-256')
    expect(group.publicKey.curve).toBe('secp256r1')
    const uncompressed = hexToBytes(group.publicKey.uncompressed)
    const publicKey = uncompressedToJwk(uncompressed)
    for (const t of group.tests) {
      // The v1 files have no `acceptable` results; if a future update adds some, decide on them explicitly.
      if (t.result !== 'valid' && t.result !== 'invalid') throw new Error(`tcId ${t.tcId}: unexpected result ${t.result}`)
      vectors.push({
        tcId: t.tcId,
        comment: t.comment,
        flags: t.flags,
        result: t.result,
        publicKey,
        uncompressed,
        msg: hexToBytes(t.msg),
        sig: hexToBytes(t.sig),
      })
    }
  }
  expect(vectors.length).toBe(file.numberOfTests)
  return vectors
}

function isHighS(rs: Uint8Array): boolean {
  return rs.length === 64 && splitSignature(rs).s > P256_HALF_N
}

const backends: readonly SignatureVerifier[] = [nodeVerifier(), webCryptoVerifier(), nobleVerifier]

/** One row per vector: each backend's answer. */
type Table = Map<number, Record<string, boolean>>

async function buildTable(vectors: readonly Vector[], sigOf: (v: Vector) => Uint8Array | undefined): Promise<Table> {
  const table: Table = new Map()
  for (const v of vectors) {
    const sig = sigOf(v)
    const row: Record<string, boolean> = {}
    for (const b of backends) row[b.name] = sig === undefined ? false : await b.verify(v.publicKey, v.msg, sig)
    table.set(v.tcId, row)
  }
  return table
}

function row(table: Table, v: Vector): Record<string, boolean> {
  const r = table.get(v.tcId)
  if (!r) throw new Error(`no table row for tcId ${v.tcId}`)
  return r
}

/** Vectors where the backends do not all give the same answer. */
function disagreements(vectors: readonly Vector[], table: Table): string[] {
  return vectors
    .filter((v) => new Set(Object.values(row(table, v))).size !== 1)
    .map((v) => `tcId ${v.tcId} (${v.comment}): ${JSON.stringify(row(table, v))}`)
}

/** Backends (by vector) whose answer differs from Wycheproof's. */
function wrongAnswers(vectors: readonly Vector[], table: Table): string[] {
  const wrong: string[] = []
  for (const v of vectors) {
    for (const [backend, ok] of Object.entries(row(table, v))) {
      if (ok !== (v.result === 'valid')) wrong.push(`${backend} tcId ${v.tcId} (${v.result}, ${v.comment}) answered ${ok}`)
    }
  }
  return wrong
}

type PolicyOutcome = 'accepted' | 'SIGNATURE_INVALID' | 'SIGNATURE_NOT_CANONICAL'

/** What the receipt path does with these signature bytes: parseSignature of the encoded string, then verify. */
async function receiptPolicy(backend: SignatureVerifier, v: Vector, sigBytes: Uint8Array): Promise<PolicyOutcome> {
  let rs: Uint8Array
  try {
    rs = parseSignature('ecdsa-p256:' + base64Encode(sigBytes))
  } catch (error) {
    if (error instanceof PixpaxError && error.code === 'SIGNATURE_NOT_CANONICAL') return 'SIGNATURE_NOT_CANONICAL'
    throw error
  }
  return (await backend.verify(v.publicKey, v.msg, rs)) ? 'accepted' : 'SIGNATURE_INVALID'
}

describe('Wycheproof ecdsa_secp256r1_sha256_p1363 (raw r‖s)', () => {
  const vectors = loadVectors(P1363_FILE, 'ECDSA', 'EcdsaP1363Verify')
  const valid = vectors.filter((v) => v.result === 'valid')
  const invalid = vectors.filter((v) => v.result === 'invalid')
  const validHighS = valid.filter((v) => isHighS(v.sig))
  const validLowS = valid.filter((v) => !isHighS(v.sig))
  let table: Table

  beforeAll(async () => {
    table = await buildTable(vectors, (v) => v.sig)
  })

  it('has the vector counts the README documents', () => {
    expect(vectors.length).toBe(262)
    expect(valid.length).toBe(173)
    expect(invalid.length).toBe(89)
    expect(validHighS.length).toBe(70)
    expect(validLowS.length).toBe(103)
    expect(table.size).toBe(262)
  })

  it('all three backends give the same answer on every vector', () => {
    expect(backends.map((b) => b.name)).toEqual(['node', 'webcrypto', 'noble'])
    expect(disagreements(vectors, table)).toEqual([])
  })

  it('every backend accepts every valid vector (high S too: the raw primitive is plain ECDSA) and rejects every invalid one', () => {
    expect(wrongAnswers(vectors, table)).toEqual([])
    let accepted = 0
    let rejected = 0
    for (const v of vectors) {
      for (const ok of Object.values(row(table, v))) {
        if (ok) accepted++
        else rejected++
      }
    }
    expect(accepted).toBe(173 * 3)
    expect(rejected).toBe(89 * 3)
  })

  it('the receipt policy accepts valid low-S, refuses valid high-S as SIGNATURE_NOT_CANONICAL, never accepts an invalid vector', async () => {
    for (const backend of backends) {
      const counts: Record<string, number> = {}
      const wrong: string[] = []
      for (const v of vectors) {
        const outcome = await receiptPolicy(backend, v, v.sig)
        const category = v.result === 'invalid' ? 'invalid' : isHighS(v.sig) ? 'validHighS' : 'validLowS'
        const key = `${category}:${outcome}`
        counts[key] = (counts[key] ?? 0) + 1
        const expected =
          category === 'validLowS'
            ? outcome === 'accepted'
            : category === 'validHighS'
              ? outcome === 'SIGNATURE_NOT_CANONICAL'
              : outcome !== 'accepted'
        if (!expected) wrong.push(`${backend.name} tcId ${v.tcId} (${category}, ${v.comment}): ${outcome}`)
      }
      expect(wrong).toEqual([])
      expect(counts['validLowS:accepted']).toBe(103)
      expect(counts['validHighS:SIGNATURE_NOT_CANONICAL']).toBe(70)
      // 80 invalid vectors fail the encoding rules (wrong length, r or s out of range, high S); 9 reach verify.
      expect(counts['invalid:SIGNATURE_NOT_CANONICAL']).toBe(80)
      expect(counts['invalid:SIGNATURE_INVALID']).toBe(9)
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(262)
    }
  })

  it('normalizeLowS turns every valid high-S vector into (r, n − s), which passes the receipt policy', async () => {
    for (const v of validHighS) {
      const { r, s } = splitSignature(v.sig)
      const normalized = normalizeLowS(v.sig)
      expect(normalized).toEqual(new p256.Signature(r, P256_N - s).toBytes('compact'))
      for (const backend of backends) expect(await receiptPolicy(backend, v, normalized)).toBe('accepted')
    }
    for (const v of validLowS) expect(normalizeLowS(v.sig)).toEqual(v.sig)
  })
})

describe('Wycheproof ecdsa_secp256r1_sha256 (DER)', () => {
  const vectors = loadVectors(DER_FILE, 'ECDSA', 'EcdsaVerify')
  const valid = vectors.filter((v) => v.result === 'valid')
  const invalid = vectors.filter((v) => v.result === 'invalid')

  /** noble's strict DER parser → r‖s, or undefined if it refuses the encoding. */
  function derToRs(der: Uint8Array): Uint8Array | undefined {
    try {
      return p256.Signature.fromBytes(der, 'der').toBytes('compact')
    } catch {
      return undefined
    }
  }

  const nodeKeys = new Map<Uint8Array, KeyObject>()
  function nodeDerVerify(v: Vector): boolean {
    let key = nodeKeys.get(v.uncompressed)
    if (!key) {
      key = createPublicKey({ key: { ...v.publicKey }, format: 'jwk' })
      nodeKeys.set(v.uncompressed, key)
    }
    try {
      return nodeCryptoVerify('sha256', v.msg, { key, dsaEncoding: 'der' }, v.sig)
    } catch {
      return false
    }
  }

  let table: Table

  beforeAll(async () => {
    table = await buildTable(vectors, (v) => derToRs(v.sig))
  })

  it('has the vector counts the README documents', () => {
    expect(vectors.length).toBe(484)
    expect(valid.length).toBe(174)
    expect(invalid.length).toBe(310)
    expect(valid.filter((v) => isHighS(derToRs(v.sig) ?? new Uint8Array())).length).toBe(71)
  })

  it('the receipt policy rejects every DER signature, valid or not', async () => {
    for (const backend of backends) {
      const counts: Record<string, number> = {}
      for (const v of vectors) {
        const outcome = await receiptPolicy(backend, v, v.sig)
        expect(outcome, `${backend.name} tcId ${v.tcId}`).not.toBe('accepted')
        // A DER signature only reaches verify if it happens to be exactly 64 bytes and parse as low-S r‖s.
        if (outcome === 'SIGNATURE_INVALID') expect(v.sig.length, `tcId ${v.tcId}`).toBe(64)
        counts[outcome] = (counts[outcome] ?? 0) + 1
      }
      // No DER signature in the file is 64 bytes long, so all are refused before verify.
      expect(counts).toEqual({ SIGNATURE_NOT_CANONICAL: 484 })
    }
  })

  it("noble's strict DER parser accepts every valid encoding, and node's DER verify agrees with Wycheproof", () => {
    const wrong: string[] = []
    for (const v of vectors) {
      const nodeOk = nodeDerVerify(v)
      if (nodeOk !== (v.result === 'valid'))
        wrong.push(`node dsaEncoding:der tcId ${v.tcId} (${v.result}, ${v.comment}) answered ${nodeOk}`)
      if (v.result === 'valid' && derToRs(v.sig) === undefined) wrong.push(`noble DER parser refused valid tcId ${v.tcId} (${v.comment})`)
    }
    expect(wrong).toEqual([])
  })

  it('after DER → r‖s, every backend accepts every valid vector and rejects every invalid one (or noble refuses its DER)', () => {
    expect(wrongAnswers(vectors, table)).toEqual([])
    const refusedByParser = invalid.filter((v) => derToRs(v.sig) === undefined).length
    const parsedButInvalid = invalid.length - refusedByParser
    // Both paths to rejection are exercised: malformed DER, and well-formed DER of a wrong signature.
    expect(refusedByParser).toBe(287)
    expect(parsedButInvalid).toBe(23)
  })

  it('all three backends (and node DER verify) give the same answer on every vector', () => {
    expect(disagreements(vectors, table)).toEqual([])
    const mismatched = vectors.filter((v) => nodeDerVerify(v) !== row(table, v)['node']).map((v) => v.tcId)
    expect(mismatched).toEqual([])
  })
})

describe('VerifyPool (worker threads, the CLI default on multi-core machines)', () => {
  const pool = new VerifyPool({ workers: 2, batchSize: 16 })
  afterAll(() => pool.close())

  it('answers exactly like nodeVerifier on every vector of both files, with many verifications in flight', async () => {
    const node = nodeVerifier()
    // P1363 signatures as they are; DER ones as raw bytes too (mostly not 64 bytes: must answer false, not throw).
    const vectors = [...loadVectors(P1363_FILE, 'ECDSA', 'EcdsaP1363Verify'), ...loadVectors(DER_FILE, 'ECDSA', 'EcdsaVerify')]
    const pooled = await Promise.all(vectors.map((v) => pool.verify(v.publicKey, v.msg, v.sig)))
    const direct: boolean[] = []
    for (const v of vectors) direct.push(await node.verify(v.publicKey, v.msg, v.sig))
    const wrong = vectors.filter((_, i) => pooled[i] !== direct[i]).map((v) => v.tcId)
    expect(wrong).toEqual([])
    expect(pooled.filter(Boolean).length).toBe(173)
  })
})
