/**
 * Durable appends behind verification: the LogWriter on its own (order, one write at a time, a failure
 * stops what follows), and the SyncClient through it — the next delivered batches are verified while the
 * first is still being written, nothing is told to the app before it is in the log, and a failed write
 * is the `log-failed` event with nothing applied after it.
 */
import type { Receipt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { describe, expect, it, vi } from 'vitest'
import type { LoggedReceipt } from '../src/storage/local-log.js'
import { MemoryLocalLog } from '../src/storage/memory-local-log.js'
import { LogWriter } from '../src/sync/log-writer.js'
import { SyncClient, type SyncStatus } from '../src/sync/sync-client.js'
import { buildChain, testSigner, identityCreatedBy } from '../src/testing/fixtures.js'
import { FakeRelay } from './support/fake-relay.js'

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

describe('LogWriter', () => {
  it('runs writes one at a time in the order handed over, and idle() waits for all of them', async () => {
    const writer = new LogWriter()
    const gates = [deferred(), deferred(), deferred()]
    const started: number[] = []
    let running = 0
    let most = 0
    const writes = gates.map((gate, i) =>
      writer.write(async () => {
        started.push(i)
        most = Math.max(most, ++running)
        await gate.promise
        running--
      }),
    )
    expect(writer.pending).toBe(3)
    let idle = false
    void writer.idle().then(() => (idle = true))
    // Released out of order: the second may not start before the first ends.
    gates[1]!.resolve()
    gates[2]!.resolve()
    await vi.waitFor(() => expect(started).toEqual([0]))
    expect(idle).toBe(false)
    gates[0]!.resolve()
    await Promise.all(writes)
    await writer.idle()
    expect(started).toEqual([0, 1, 2])
    expect(most).toBe(1)
    expect(writer.pending).toBe(0)
    expect(writer.failed).toBe(false)
  })

  it('after a failed write, later writes reject with that failure and never run', async () => {
    const writer = new LogWriter()
    const disk = new Error('ENOSPC: no space left on device')
    const ran: string[] = []
    const first = writer.write(async () => void ran.push('first'))
    const second = writer.write(async () => {
      ran.push('second')
      throw disk
    })
    const third = writer.write(async () => void ran.push('third'))
    await expect(first).resolves.toBeUndefined()
    await expect(second).rejects.toBe(disk)
    await expect(third).rejects.toBe(disk)
    await expect(writer.write(async () => void ran.push('fourth'))).rejects.toBe(disk)
    await writer.idle()
    expect(ran).toEqual(['first', 'second'])
    expect(writer.failed).toBe(true)
    expect(writer.failure).toBe(disk)
    expect(writer.pending).toBe(0)
  })
})

const BOOK = 'pixbook/acc-1/book-1'

/** A memory log whose appends of BOOK can be held at a gate, or made to fail from the nth one on. */
class GatedLog extends MemoryLocalLog {
  gate: Promise<void> | undefined
  failFrom = Number.POSITIVE_INFINITY
  readonly bookAppends: number[][] = []

  override async append(entries: LoggedReceipt[]): Promise<void> {
    if (entries[0]?.streamKey === BOOK) {
      this.bookAppends.push(entries.map((e) => e.seq))
      if (this.bookAppends.length >= this.failFrom) throw new Error('EIO: i/o error writing the receipts file')
      await this.gate
    }
    return super.append(entries)
  }
}

/** A fake relay holding alice's identity and a 300-receipt pixbook, delivered 100 receipts a message. */
async function relayWithBook(): Promise<{ relay: FakeRelay; options: Omit<Parameters<typeof SyncClient.open>[0], 'log'> }> {
  const signer = await testSigner()
  const identity: Receipt = await identityCreatedBy(signer)
  const book = await buildChain({ count: 300, signer })
  const relay = new FakeRelay()
  relay.batchSize = 100
  relay.add([identity, ...book.map((l) => l.receipt)])
  return {
    relay,
    options: {
      relayUrl: 'http://fake',
      identityId: 'alice',
      signer,
      streams: [BOOK],
      webSocket: relay.webSocket,
      verifier: nodeVerifier(),
      sha256: nodeSha256,
      reconnect: { baseMs: 10, maxMs: 50 },
    },
  }
}

describe('SyncClient: delivered batches are verified while the one before is written', () => {
  it('verifies every batch behind a held write, and tells the app of nothing before it is in the log', async () => {
    const { options } = await relayWithBook()
    const log = new GatedLog()
    const gate = deferred()
    log.gate = gate.promise
    const client = await SyncClient.open({ ...options, log })
    const told: number[] = []
    let released = false
    client.on('receipt', (r) => {
      if (r.streamKey !== BOOK) return
      expect(released).toBe(true)
      told.push(r.seq)
    })
    const statuses: SyncStatus[] = []
    client.on('status', (s) => statuses.push(s))
    client.start()
    // All three batches verified (the in-memory head) while the first one's write is still held…
    await vi.waitFor(() => expect(client.head(BOOK)?.seq).toBe(300))
    // …and the later ones wait behind it, in order; the client is not synced before they are written.
    expect(log.bookAppends).toEqual([Array.from({ length: 100 }, (_, i) => i + 1)])
    expect(await log.read(BOOK)).toEqual([])
    expect(statuses).not.toContain('synced')
    released = true
    gate.resolve()
    await client.whenSynced()
    expect((await log.read(BOOK)).map((l) => l.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))
    expect(log.bookAppends.map((seqs) => [seqs[0], seqs.at(-1)])).toEqual([
      [1, 100],
      [101, 200],
      [201, 300],
    ])
    expect(told).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))
    await client.stop()
  })

  it('stop() returns only once the batches verified before it are in the log', async () => {
    const { options } = await relayWithBook()
    const log = new GatedLog()
    const gate = deferred()
    log.gate = gate.promise
    const client = await SyncClient.open({ ...options, log })
    client.start()
    await vi.waitFor(() => expect(client.head(BOOK)?.seq).toBe(300))
    const order: string[] = []
    const stopping = client.stop().then(() => order.push('stopped'))
    // The gate opens a little later: a stop() that did not wait for the writes would be done by then.
    setTimeout(() => {
      order.push('released')
      gate.resolve()
    }, 20)
    await stopping
    expect(order).toEqual(['released', 'stopped'])
    expect((await log.read(BOOK)).length).toBe(300)
    // Reopened from that log, the client holds all of it.
    const reopened = await SyncClient.open({ ...options, log: new MemoryLocalLog(log.data) })
    expect(reopened.head(BOOK)?.seq).toBe(300)
  })

  it('a failed write is one log-failed event and status error; nothing after it is applied, a reopen resumes', async () => {
    const { options } = await relayWithBook()
    const log = new GatedLog()
    log.failFrom = 2 // the second batch's append throws
    const client = await SyncClient.open({ ...options, log })
    const failures: string[] = []
    client.on('log-failed', (f) => failures.push(f.message))
    client.start()
    await vi.waitFor(() => expect(failures).toHaveLength(1))
    expect(failures[0]).toMatch(/EIO/)
    await vi.waitFor(() => expect(client.status).toBe('error'))
    await client.stop()
    // The first batch is in the log; the second failed; the third was never written.
    expect(log.bookAppends.map((seqs) => seqs[0])).toEqual([1, 101])
    expect((await log.read(BOOK)).map((l) => l.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
    expect(failures).toHaveLength(1)
    // The disk is back: a reopened client starts from what was written and catches up the rest.
    const healthy = new MemoryLocalLog(log.data)
    const again = await SyncClient.open({ ...options, log: healthy })
    expect(again.head(BOOK)?.seq).toBe(100)
    again.start()
    await again.whenSynced()
    expect((await healthy.read(BOOK)).map((l) => l.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1))
    await again.stop()
  })
})
