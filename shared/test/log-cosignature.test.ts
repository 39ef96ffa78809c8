/**
 * Witness cosignatures (docs/log.md §11): the C2SP tlog-cosignature v1 message and line layout, the
 * PixPax key ID, k-of-n counting, and the lies a relay or a forger could try — a cosignature moved onto
 * another checkpoint, an altered one, one by an unknown key, the same witness counted twice.
 */
import { describe, expect, it } from 'vitest'
import {
  base64Decode,
  checkWitnessed,
  cosignCheckpoint,
  cosignedMessage,
  generatePrivateJwk,
  nobleSigner,
  nobleVerifier,
  signCheckpoint,
  verifyCosignatures,
  verifySignedCheckpoint,
  withSignatureLines,
  witnessKeyHash,
  witnessName,
  type WitnessKey,
} from '../src/index.js'
import { logVectorKey } from './support/log-vectors.js'

const relay = nobleSigner(logVectorKey())
const ORIGIN = 'pixpax.local/log'
const T = 1_767_225_600 // 2026-01-01T00:00:00Z

async function note(size: number, rootByte: number): Promise<string> {
  return signCheckpoint({ origin: ORIGIN, size, root: new Uint8Array(32).fill(rootByte) }, ORIGIN, relay)
}

function witness(id: string) {
  const signer = nobleSigner(generatePrivateJwk())
  const key: WitnessKey = { name: witnessName(id), publicKey: signer.publicKey }
  return { signer, key, name: key.name }
}

describe('witness cosignatures', () => {
  it('are tlog-cosignature v1 lines: key ID ‖ u64 timestamp ‖ r‖s over cosignature/v1, time, body', async () => {
    const n = await note(10, 1)
    const w = witness('alice')
    const line = await cosignCheckpoint(n, w, T)
    const m = /^\u2014 (\S+) (\S+)\n$/.exec(line)!
    expect(m[1]).toBe('pixpax.witness/alice')
    const bytes = base64Decode(m[2]!)!
    expect(bytes).toHaveLength(4 + 8 + 64)
    const view = new DataView(bytes.buffer)
    expect(view.getUint32(0)).toBe(witnessKeyHash(w.key))
    expect(view.getBigUint64(4)).toBe(BigInt(T))
    const body = n.slice(0, n.indexOf('\n\n') + 1)
    expect(new TextDecoder().decode(cosignedMessage(body, T))).toBe(`cosignature/v1\ntime ${T}\n${body}`)
    expect(nobleVerifier.verify(w.key.publicKey, cosignedMessage(body, T), bytes.subarray(12))).toBe(true)
    // The key ID commits to the name: the same key under another name is another witness.
    expect(witnessKeyHash({ ...w.key, name: witnessName('bob') })).not.toBe(witnessKeyHash(w.key))
    // The relay's own signature still verifies with cosignatures appended (it ignores unknown keys).
    const cosigned = withSignatureLines(n, [line])
    await expect(verifySignedCheckpoint(cosigned, { name: ORIGIN, publicKey: relay.publicKey }, nobleVerifier)).resolves.toMatchObject({
      size: 10,
    })
    expect(withSignatureLines(cosigned, [line])).toBe(cosigned) // no duplicates
  })

  it('count k of n known witnesses, each once, ignoring unknown keys', async () => {
    const n = await note(20, 2)
    const [a, b, c, stranger] = [witness('a'), witness('b'), witness('c'), witness('stranger')]
    const second = nobleSigner(generatePrivateJwk()) // another key of a's identity
    const lines = [
      await cosignCheckpoint(n, a, T),
      await cosignCheckpoint(n, b, T + 1),
      await cosignCheckpoint(n, { name: a.name, signer: second }, T + 2),
      await cosignCheckpoint(n, stranger, T),
    ]
    const cosigned = withSignatureLines(n, lines)
    const policy = { witnesses: [a.key, b.key, c.key, { name: a.name, publicKey: second.publicKey }], required: 2 }
    const found = await checkWitnessed(cosigned, policy, nobleVerifier)
    expect(found.map((f) => f.name).sort()).toEqual([a.name, b.name])
    await expect(checkWitnessed(cosigned, { ...policy, required: 3 }, nobleVerifier)).rejects.toMatchObject({
      code: 'LOG_INCONSISTENT',
      details: { reason: 'not-witnessed', cosigned: 2, required: 3 },
    })
    await expect(checkWitnessed(n, { ...policy, required: 1 }, nobleVerifier)).rejects.toMatchObject({
      details: { reason: 'not-witnessed', cosigned: 0 },
    })
  })

  it('refuse a cosignature moved onto another checkpoint, or altered', async () => {
    const [n1, n2] = [await note(30, 3), await note(30, 4)] // a fork: two trees of one size
    const a = witness('a')
    const line = await cosignCheckpoint(n1, a, T)
    await expect(verifyCosignatures(withSignatureLines(n2, [line]), [a.key], nobleVerifier)).rejects.toMatchObject({
      code: 'LOG_INCONSISTENT',
      details: { reason: 'bad-cosignature', witness: a.name },
    })
    // Another timestamp than the one signed.
    const bytes = base64Decode(line.slice(line.lastIndexOf(' ') + 1, -1))!
    bytes[11]! ^= 1
    const altered = `\u2014 ${a.name} ${Buffer.from(bytes).toString('base64')}\n`
    await expect(verifyCosignatures(withSignatureLines(n1, [altered]), [a.key], nobleVerifier)).rejects.toMatchObject({
      details: { reason: 'bad-cosignature' },
    })
  })
})
