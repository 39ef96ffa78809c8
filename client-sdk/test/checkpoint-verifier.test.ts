/**
 * CheckpointVerifier and RelayTrust on their own (unit tests: real signatures and trees, a memory log, no
 * relay): which checkpoints are accepted, which are refused with which reason, what is stored.
 */
import {
  base64Encode,
  consistencyProof,
  EMPTY_TREE,
  generatePrivateJwk,
  hashAtFromTiles,
  integrate,
  jwkThumbprint,
  signCheckpoint,
  tileReaderFromStore,
  type PixpaxError,
  type Signer,
} from '@pixpax/shared'
import { nodeSha256 as sha256, nodeSigner, nodeVerifier } from '@pixpax/shared/node'
import { describe, expect, it } from 'vitest'
import { MemoryLocalLog } from '../src/storage/memory-local-log.js'
import { CheckpointVerifier } from '../src/sync/checkpoint-verifier.js'
import { RelayTrust, type RelayPin } from '../src/sync/relay-trust.js'

const ORIGIN = 'pixpax.local/log'

/** A log of `leaves` (named by a prefix, so two prefixes are two forks) able to sign and prove. */
function tree(prefix: string, size: number) {
  const data = Array.from({ length: size }, (_, i) => new TextEncoder().encode(`${prefix}${i}`))
  const result = integrate(sha256, EMPTY_TREE, data)
  const files = new Map([...result.tiles, ...result.entryBundles].map((o) => [o.path, o.bytes]))
  const reader = tileReaderFromStore(async (path) => files.get(path))
  return {
    note: (signer: Signer) => signCheckpoint({ origin: ORIGIN, size, root: result.root }, ORIGIN, signer),
    proofFrom: async (from: number) =>
      (await consistencyProof(sha256, from, size, hashAtFromTiles(sha256, size, reader))).map(base64Encode),
  }
}

async function setup() {
  const signer = nodeSigner(generatePrivateJwk())
  const pin: RelayPin = { publicKeyId: jwkThumbprint(signer.publicKey), publicKey: signer.publicKey, how: 'tofu', pinnedAt: 0 }
  const log = new MemoryLocalLog()
  const verifier = await CheckpointVerifier.load(log, { verifier: nodeVerifier(), sha256, now: () => 1 })
  const reason = (p: Promise<unknown>) =>
    p.then(
      () => 'accepted',
      (e: PixpaxError) => `${e.code}:${(e.details as { reason: string }).reason}`,
    )
  return { signer, pin, log, verifier, reason }
}

describe('CheckpointVerifier', () => {
  it('compares a gossiped checkpoint without holding it: the same tree, or one proven consistent, else a fork', async () => {
    const { signer, pin, verifier, reason } = await setup()
    const mid = tree('a', 50)
    await verifier.accept({ note: await mid.note(signer) }, pin)
    const small = await tree('a', 10).note(signer)
    const big = tree('a', 120)
    const forkedBig = tree('b', 120)
    // Proofs as the relay would give them: from the smaller size to the larger one of the honest log.
    const honest = async (from: number, to: number) => (to === 50 ? mid.proofFrom(from) : big.proofFrom(from))
    expect(await reason(verifier.compare(await mid.note(signer), pin, honest))).toBe('accepted')
    expect(await reason(verifier.compare(small, pin, honest))).toBe('accepted')
    expect(await reason(verifier.compare(await big.note(signer), pin, honest))).toBe('accepted')
    expect(verifier.held?.size).toBe(50) // gossip never replaces what is held
    // A note nobody's relay signed: refused, no evidence.
    const stranger = nodeSigner(generatePrivateJwk())
    expect(await reason(verifier.compare(await big.note(stranger), pin, honest))).toBe('LOG_INCONSISTENT:bad-note')
    expect(await verifier.evidence()).toHaveLength(0)
    // Another history: same size → fork; larger with no valid proof → inconsistent. Both kept as evidence.
    expect(await reason(verifier.compare(await tree('b', 50).note(signer), pin, honest))).toBe('LOG_INCONSISTENT:fork')
    expect(await reason(verifier.compare(await forkedBig.note(signer), pin, honest))).toBe('LOG_INCONSISTENT:inconsistent')
    expect(await reason(verifier.compare(await forkedBig.note(signer), pin, async () => undefined))).toBe('LOG_INCONSISTENT:inconsistent')
    expect((await verifier.evidence()).map((e) => e.reason)).toEqual(['fork', 'inconsistent', 'inconsistent'])
  })

  it('holds the first checkpoint, accepts the same one, a larger consistent one, and stores the newest', async () => {
    const { signer, pin, log, verifier } = await setup()
    const small = tree('a', 5)
    const big = tree('a', 300)
    const note5 = await small.note(signer)
    expect((await verifier.accept({ note: note5 }, pin)).size).toBe(5)
    expect((await verifier.accept({ note: note5 }, pin)).size).toBe(5)
    const note300 = await big.note(signer)
    await verifier.accept({ note: note300, consistency: { from: 5, hashes: await big.proofFrom(5) } }, pin)
    expect(verifier.held).toMatchObject({ size: 300, note: note300, relayKeyId: pin.publicKeyId })
    // Reloaded from the log, it is still held.
    const reloaded = await CheckpointVerifier.load(log, { verifier: nodeVerifier(), sha256, now: () => 1 })
    expect(reloaded.held?.note).toBe(note300)
  })

  it('accepts growth from the empty log without a proof (every tree extends it), then needs proofs again', async () => {
    const { signer, pin, verifier, reason } = await setup()
    await verifier.accept({ note: await tree('a', 0).note(signer) }, pin)
    expect(verifier.held?.size).toBe(0)
    await verifier.accept({ note: await tree('a', 1).note(signer) }, pin)
    expect(verifier.held?.size).toBe(1)
    expect(await reason(verifier.accept({ note: await tree('a', 2).note(signer) }, pin))).toBe('LOG_INCONSISTENT:missing-proof')
  })

  it('refuses a fork, a rollback, a broken or missing proof, a forged note — and keeps signed evidence', async () => {
    const { signer, pin, verifier, reason } = await setup()
    const honest = tree('a', 10)
    await verifier.accept({ note: await honest.note(signer) }, pin)
    expect(await reason(verifier.accept({ note: await tree('b', 10).note(signer) }, pin))).toBe('LOG_INCONSISTENT:fork')
    expect(await reason(verifier.accept({ note: await tree('a', 9).note(signer) }, pin))).toBe('LOG_INCONSISTENT:rollback')
    const forkedBig = tree('b', 20)
    expect(
      await reason(
        verifier.accept({ note: await forkedBig.note(signer), consistency: { from: 10, hashes: await forkedBig.proofFrom(10) } }, pin),
      ),
    ).toBe('LOG_INCONSISTENT:inconsistent')
    const big = tree('a', 20)
    expect(await reason(verifier.accept({ note: await big.note(signer) }, pin))).toBe('LOG_INCONSISTENT:missing-proof')
    expect(
      await reason(verifier.accept({ note: await big.note(signer), consistency: { from: 9, hashes: await big.proofFrom(9) } }, pin)),
    ).toBe('LOG_INCONSISTENT:missing-proof')
    const stranger = nodeSigner(generatePrivateJwk())
    expect(
      await reason(verifier.accept({ note: await big.note(stranger), consistency: { from: 10, hashes: await big.proofFrom(10) } }, pin)),
    ).toBe('LOG_INCONSISTENT:bad-note')
    expect(verifier.held?.size).toBe(10)
    expect((await verifier.evidence()).map((e) => e.reason)).toEqual(['fork', 'rollback', 'inconsistent'])
    // The honest next step is still accepted.
    await verifier.accept({ note: await big.note(signer), consistency: { from: 10, hashes: await big.proofFrom(10) } }, pin)
    expect(verifier.held?.size).toBe(20)
  })
})

describe('RelayTrust', () => {
  it('binds by thumbprint, pins on first use, refuses a change, persists halts', async () => {
    const log = new MemoryLocalLog()
    const relay = nodeSigner(generatePrivateJwk())
    const other = nodeSigner(generatePrivateJwk())
    const id = jwkThumbprint(relay.publicKey)
    const trust = await RelayTrust.load(log)
    await expect(trust.bind({ publicKeyId: id, publicKey: other.publicKey })).rejects.toMatchObject({ code: 'KEY_UNKNOWN' })
    expect(trust.pin).toBeUndefined()
    expect(await trust.bind({ publicKeyId: id, publicKey: relay.publicKey })).toMatchObject({ pinned: true, pin: { how: 'tofu' } })
    expect(await trust.bind({ publicKeyId: id, publicKey: relay.publicKey })).toMatchObject({ pinned: false })
    await expect(trust.bind({ publicKeyId: jwkThumbprint(other.publicKey), publicKey: other.publicKey })).rejects.toMatchObject({
      code: 'KEY_UNKNOWN',
    })
    await trust.stop('KEY_UNKNOWN', 'changed')
    const reloaded = await RelayTrust.load(log)
    expect(reloaded.pin?.publicKeyId).toBe(id)
    expect(reloaded.halt?.code).toBe('KEY_UNKNOWN')
    await reloaded.reset()
    expect((await RelayTrust.load(log)).halt).toBeUndefined()
    // An explicit id wins over a stored TOFU pin of another key.
    const explicit = await RelayTrust.load(log, { relayPublicKeyId: jwkThumbprint(other.publicKey) })
    await expect(explicit.bind({ publicKeyId: id, publicKey: relay.publicKey })).rejects.toMatchObject({ code: 'KEY_UNKNOWN' })
    expect(await explicit.bind({ publicKeyId: jwkThumbprint(other.publicKey), publicKey: other.publicKey })).toMatchObject({
      pin: { how: 'explicit' },
    })
  })
})
