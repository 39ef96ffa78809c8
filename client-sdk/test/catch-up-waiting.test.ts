/**
 * A stream longer than one delivery batch (500 receipts) whose issuer's identity the client does not
 * follow yet: the first catch-up batch waits for the identity (KEY_UNKNOWN → follow it), and the
 * second batch, arriving meanwhile, queues behind it instead of being taken for a gap (CHAIN_BROKEN
 * from the head, which the waiting batch has not moved). Found by `pnpm bench player`: a player
 * following a 500-post playlist's profile stream never played it. The batches that waited still have
 * their signatures checked together once the key is known, not one at a time in order.
 */
import { buildReceipt, type ChainHead, type Receipt, type SignatureVerifier } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryLocalLog } from '../src/storage/memory-local-log.js'
import { SyncClient } from '../src/sync/sync-client.js'
import { makeIdentity, nodeWebSocket, postReceipts, startTestRelay, type TestIdentity, type TestRelay } from './support/relay.js'

const LENGTH = 620

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
  }, 120_000)
  afterAll(async () => relay.close())

  it('verifies every receipt in order and quarantines nothing', async () => {
    // A parallel verifier's view: how many checks are under way at once (a worker pool answers later).
    const node = nodeVerifier()
    let inFlight = 0
    let maxInFlight = 0
    const verifier: SignatureVerifier = {
      name: 'deferred',
      verify: async (key, data, signature) => {
        maxInFlight = Math.max(maxInFlight, ++inFlight)
        await new Promise((resolve) => setImmediate(resolve))
        inFlight--
        return node.verify(key, data, signature)
      },
    }
    const log = new MemoryLocalLog()
    const client = await SyncClient.open({
      relayUrl: relay.url,
      log,
      identityId: 'reader',
      signer: reader.signer,
      webSocket: nodeWebSocket,
      verifier,
      sha256: nodeSha256,
      streams: ['profile/bob'],
    })
    client.start()
    await client.whenSynced()
    expect(await log.listQuarantine()).toEqual([])
    expect((await log.read('profile/bob')).map((l) => l.seq)).toEqual(Array.from({ length: LENGTH }, (_, i) => i + 1))
    // The first batch (500) waited for bob's key: once it was known, its checks started together (a time
    // slice's worth at a time), not one at a time in order as the rules reach each receipt.
    expect(maxInFlight).toBeGreaterThanOrEqual(20)
    await client.stop()
  }, 120_000)
})
