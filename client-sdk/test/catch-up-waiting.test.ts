/**
 * A stream longer than one delivery batch (500 receipts) whose issuer's identity the client does not
 * follow yet: the first catch-up batch waits for the identity (KEY_UNKNOWN → follow it), and the
 * second batch, arriving meanwhile, queues behind it instead of being taken for a gap (CHAIN_BROKEN
 * from the head, which the waiting batch has not moved). Found by `pnpm bench player`: a player
 * following a 500-post playlist's profile stream never played it. The batches that waited still have
 * their signatures checked together once the key is known, not one at a time in order.
 */
import { buildReceipt, generatePrivateJwk, type ChainHead, type Receipt, type SignatureVerifier } from '@pixpax/shared'
import { nodeSha256, nodeSigner, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryLocalLog } from '../src/storage/memory-local-log.js'
import { SyncClient } from '../src/sync/sync-client.js'
import { makeIdentity, nodeWebSocket, postReceipts, startTestRelay, type TestIdentity, type TestRelay } from './support/relay.js'

const LENGTH = 620
/** Receipts of carol's identity stream signed by her second key, which the stream's second receipt adds. */
const BY_SECOND_KEY = 40

/** A verifier that answers a macrotask later (as a worker pool does) and records the most checks under way at once. */
function deferredVerifier(): SignatureVerifier & { maxInFlight: number } {
  const node = nodeVerifier()
  let inFlight = 0
  const verifier = {
    name: 'deferred',
    maxInFlight: 0,
    verify: async (...args: Parameters<SignatureVerifier['verify']>) => {
      verifier.maxInFlight = Math.max(verifier.maxInFlight, ++inFlight)
      await new Promise((resolve) => setImmediate(resolve))
      inFlight--
      return node.verify(...args)
    },
  }
  return verifier
}

describe('catch-up of a long stream by an unknown issuer', () => {
  let relay: TestRelay
  let bob: TestIdentity
  let reader: TestIdentity

  beforeAll(async () => {
    relay = await startTestRelay()
    bob = await makeIdentity('bob', 'acc-bob')
    reader = await makeIdentity('reader', 'acc-reader')
    expect((await postReceipts(relay, [bob.created, reader.created])).status).toBe(200)
    const receipts: Receipt[] = []
    let prev: ChainHead | null = null
    for (let i = 0; i < LENGTH; i++) {
      const r: Receipt = await buildReceipt({
        stream: { type: 'profile', identityId: 'bob' },
        type: i === 0 ? 'PROFILE_UPDATED' : 'FOLLOWED',
        payload: i === 0 ? { handle: 'bob' } : { identityId: `someone-${i}` },
        identityId: 'bob',
        signer: bob.signer,
        prev,
        sha256: nodeSha256,
      })
      prev = { eventId: r.eventId, hash: r.hash }
      receipts.push(r)
    }
    for (let i = 0; i < LENGTH; i += 200) expect((await postReceipts(relay, receipts.slice(i, i + 200))).status).toBe(200)
    // carol: created with one key, which adds a second; the second adds more keys.
    const carol = await makeIdentity('carol', 'acc-carol')
    const second = nodeSigner(generatePrivateJwk())
    const identity: Receipt[] = [carol.created]
    const add = async (signer: typeof second, publicKey: unknown) => {
      const prev = identity.at(-1)!
      identity.push(
        await buildReceipt({
          stream: { type: 'identity', identityId: 'carol' },
          type: 'KEY_ADDED',
          payload: { publicKey },
          identityId: 'carol',
          signer,
          prev: { eventId: prev.eventId, hash: prev.hash },
          sha256: nodeSha256,
        }),
      )
    }
    await add(carol.signer, second.publicKey)
    for (let i = 0; i < BY_SECOND_KEY; i++) await add(second, nodeSigner(generatePrivateJwk()).publicKey)
    expect((await postReceipts(relay, identity)).status).toBe(200)
  }, 120_000)
  afterAll(async () => relay.close())

  /** The reader's client following `stream` with `verifier`, started and synced. */
  async function syncedReader(log: MemoryLocalLog, verifier: SignatureVerifier, stream: string): Promise<SyncClient> {
    const client = await SyncClient.open({
      relayUrl: relay.url,
      log,
      identityId: 'reader',
      signer: reader.signer,
      webSocket: nodeWebSocket,
      verifier,
      sha256: nodeSha256,
      streams: [stream],
    })
    client.start()
    await client.whenSynced()
    return client
  }

  it('verifies every receipt in order and quarantines nothing', async () => {
    const verifier = deferredVerifier()
    const log = new MemoryLocalLog()
    const client = await syncedReader(log, verifier, 'profile/bob')
    expect(await log.listQuarantine()).toEqual([])
    expect((await log.read('profile/bob')).map((l) => l.seq)).toEqual(Array.from({ length: LENGTH }, (_, i) => i + 1))
    // The first batch (500) waited for bob's key: once it was known, its checks started together (a time
    // slice's worth at a time), not one at a time in order as the rules reach each receipt.
    expect(verifier.maxInFlight).toBeGreaterThanOrEqual(20)
    await client.stop()
  }, 120_000)

  it('checks the receipts signed by a key added earlier in the same batch together, once it is added', async () => {
    const log = new MemoryLocalLog()
    const verifier = deferredVerifier()
    const client = await syncedReader(log, verifier, 'identity/carol')
    expect(await log.listQuarantine()).toEqual([])
    expect(client.head('identity/carol')?.seq).toBe(BY_SECOND_KEY + 2)
    // Unknown when the batch arrived, the second key signs 40 receipts: their checks start together once
    // the receipt adding it is applied, not one at a time as the rules reach each.
    expect(verifier.maxInFlight).toBeGreaterThanOrEqual(BY_SECOND_KEY)
    await client.stop()
  }, 120_000)
})
