/**
 * SyncClient against an in-process fake relay (support/fake-relay.ts: real keys, tree, checkpoints and
 * proofs behind a fake socket): catch-up of proven batches, and a rebase that waits for the relay's head
 * to be delivered — woken by the delivery, not by polling; a refused delivery sent again after a
 * reconnect is quarantined once.
 */
import { buildReceipt, type Receipt, type Signer } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { MemoryLocalLog } from '../src/storage/memory-local-log.js'
import { SyncClient } from '../src/sync/sync-client.js'
import { buildChain, testSigner, identityCreatedBy } from '../src/testing/fixtures.js'
import { FakeRelay } from './support/fake-relay.js'

const BOOK = 'pixbook/acc-1/book-1'

describe('SyncClient on a fake socket', () => {
  let relay: FakeRelay
  let signer: Signer
  let book: Receipt[]

  beforeEach(async () => {
    relay = new FakeRelay()
    signer = await testSigner()
    const identity = await identityCreatedBy(signer)
    book = (await buildChain({ count: 30, signer })).map((e) => e.receipt)
    relay.add([identity, ...book])
  })

  const open = (log = new MemoryLocalLog()) =>
    SyncClient.open({
      relayUrl: 'http://fake',
      log,
      identityId: 'alice',
      signer,
      streams: [BOOK],
      webSocket: relay.webSocket,
      verifier: nodeVerifier(),
      sha256: nodeSha256,
      reconnect: { baseMs: 10, maxMs: 50 },
    })

  it('quarantines a tampered delivery once, however often the relay sends it again after reconnects', async () => {
    // The relay's copy of seq 31 had its payload altered after signing: its hash no longer matches.
    const [next] = await buildChain({ count: 1, signer, after: { streamKey: BOOK, seq: 30, receipt: book.at(-1)! } })
    const tampered = { ...next!.receipt, payload: { ...next!.receipt.payload, cardId: 'forged' } } as Receipt
    relay.add([tampered])
    const log = new MemoryLocalLog()
    const c = await open(log)
    const statuses: string[] = []
    c.on('status', (s) => statuses.push(s))
    const quarantined: string[] = []
    c.on('quarantine', (q) => quarantined.push(q.code))
    c.start()
    await vi.waitFor(() => expect(quarantined).toEqual(['HASH_MISMATCH']))
    for (let reconnect = 1; reconnect <= 2; reconnect++) {
      const subscribes = relay.received.filter((m) => m.type === 'subscribe').length
      statuses.length = 0
      relay.sockets.at(-1)!.close(1011)
      // Reconnected, subscribed from the head again, and the same delivery refused again (status error).
      await vi.waitFor(() => expect(relay.received.filter((m) => m.type === 'subscribe').length).toBeGreaterThan(subscribes))
      await vi.waitFor(() => expect(statuses.slice(statuses.indexOf('connecting'))).toContain('error'))
    }
    expect(c.head(BOOK)?.seq).toBe(30)
    expect(quarantined).toEqual(['HASH_MISMATCH'])
    expect((await log.listQuarantine()).map((q) => [q.streamKey, q.code])).toEqual([[BOOK, 'HASH_MISMATCH']])
    await c.stop()
  })

  it('catches up proven batches, keeping positions and the checkpoint', async () => {
    const log = new MemoryLocalLog()
    const c = await open(log)
    c.start()
    await c.whenSynced()
    expect(c.head(BOOK)?.seq).toBe(30)
    expect((await log.read(BOOK)).map((r) => r.position)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
    expect(c.checkpoint?.size).toBe(31)
    expect(c.relayPin?.publicKeyId).toBe(relay.key.publicKeyId)
    await c.stop()
  })

  it('a conflicting push waits for the relay head to be delivered, then rebases on it', async () => {
    const log = new MemoryLocalLog()
    const first = await open(log)
    first.start()
    await first.whenSynced()
    await first.stop()
    // Another device moved the head while we were offline, and we wrote on the old one.
    const theirs = await buildReceipt({
      stream: book[0]!.stream,
      type: 'CARD_ADDED',
      payload: { cardId: 'theirs', artHash: 'sha256:' + 'aa'.repeat(32) },
      identityId: 'alice',
      signer,
      prev: book.at(-1)!,
      sha256: nodeSha256,
    })
    relay.add([theirs])
    const c = await open(log)
    await c.append(BOOK, 'CARD_ADDED', { cardId: 'mine', artHash: 'sha256:' + 'bb'.repeat(32) })
    relay.holdDeliveries = true
    const conflicts: string[][] = []
    c.on('conflict', (e) => conflicts.push(e.rebased))
    const pushed = relay.waitFor((m) => m.type === 'push')
    c.start()
    await pushed // refused with CHAIN_CONFLICT: the head it names is held back
    relay.holdDeliveries = false
    void relay.release() // the delivery wakes the rebase
    await c.whenSynced()
    // One rebase, and one push of it: nothing was re-pushed blindly before the head arrived.
    expect(relay.received.filter((m) => m.type === 'push')).toHaveLength(2)
    expect(conflicts).toHaveLength(1)
    expect(c.head(BOOK)?.seq).toBe(32)
    expect(c.head(BOOK)?.receipt.payload.cardId).toBe('mine')
    expect(c.head(BOOK)?.ack?.position).toBe(32)
    await c.stop()
  })

  it('our receipt delivered before the push is answered: not synced until the answer, and then logged with its ack', async () => {
    const c = await open()
    c.start()
    await c.whenSynced()
    relay.deliverBeforeAnswer = true
    let answer!: () => void
    relay.answerGate = new Promise((resolve) => (answer = resolve))
    const delivered = new Promise<void>((resolve) => c.on('receipt', (r) => r.seq === 31 && resolve()))
    await c.append(BOOK, 'CARD_ADDED', { cardId: 'mine', artHash: 'sha256:' + 'cc'.repeat(32) })
    await delivered
    expect(c.pending()).toHaveLength(0) // the delivery ended its outbox entry
    expect(c.status).toBe('syncing') // but its answer, with the ack, is still to come
    answer()
    await c.whenSynced()
    expect(c.head(BOOK)?.seq).toBe(31)
    expect(c.head(BOOK)?.ack?.seq).toBe(31)
    await c.stop()
  })

  it('stop() waits for a relay message still being handled: nothing writes to the log after it resolves', async () => {
    const log = new MemoryLocalLog()
    const c = await open(log)
    c.start()
    await c.whenSynced()
    // The push result's outbox write (the entry with its ack) is held until the app has asked to stop.
    let entered!: () => void
    const inside = new Promise<void>((resolve) => (entered = resolve))
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const order: string[] = []
    const put = log.putOutbox.bind(log)
    log.putOutbox = async (entry) => {
      if (entry.ack) {
        entered()
        await gate
        order.push('outbox written')
      }
      return put(entry)
    }
    await c.append(BOOK, 'CARD_ADDED', { cardId: 'late', artHash: 'sha256:' + 'cc'.repeat(32) })
    await inside
    const stopping = c.stop().then(() => order.push('stopped'))
    await new Promise((resolve) => setImmediate(resolve)) // every microtask stop() could finish on has run
    release()
    await stopping
    expect(order).toEqual(['outbox written', 'stopped'])
  })

  it('a new identity and a receipt it signed, delivered account-first: held until the identity is applied, nothing quarantined', async () => {
    // A brand-new identity queues IDENTITY_CREATED and ACCOUNT_CREATED together; the relay's deliveries
    // of different streams may arrive in any order (its pumps run concurrently), here the account's first.
    const fresh = await testSigner()
    const c = await SyncClient.open({
      relayUrl: 'http://fake',
      log: new MemoryLocalLog(),
      identityId: 'fresh',
      signer: fresh,
      streams: ['account/acc-fresh'],
      webSocket: relay.webSocket,
      verifier: nodeVerifier(),
      sha256: nodeSha256,
      reconnect: { baseMs: 10, maxMs: 50 },
    })
    const quarantined = new Promise<string>((resolve) => c.on('quarantine', (q) => resolve(`${q.code}: ${q.message}`)))
    await c.append('identity/fresh', 'IDENTITY_CREATED', { publicKey: fresh.publicKey, accountId: 'acc-fresh', kind: 'person' })
    await c.append('account/acc-fresh', 'ACCOUNT_CREATED', { displayName: 'Fresh' })
    relay.holdDeliveries = true
    c.start()
    await relay.whenHeld(2) // both streams' deliveries of the pushed receipts
    relay.holdDeliveries = false
    await relay.release({ reverse: true })
    expect(await Promise.race([c.whenSynced().then(() => 'synced'), quarantined])).toBe('synced')
    expect(c.status).toBe('synced')
    expect(c.head('identity/fresh')?.seq).toBe(1)
    expect(c.head('account/acc-fresh')?.seq).toBe(1)
    await c.stop()
  })
})
