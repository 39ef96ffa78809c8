/**
 * CounterpartStore on every LocalLog backend (memory, file, IndexedDB through fake-indexeddb): kept
 * receipts survive a reopen, stay in log position order, are kept once, overlapping adds lose nothing,
 * and books do not see each other's.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { describe, expect, it } from 'vitest'
import { CounterpartStore, type CounterpartReceipt } from '../src/economy/counterpart-store.js'
import { DexieLocalLog } from '../src/index.js'
import { FileLocalLog } from '../src/node.js'
import type { LocalLog } from '../src/storage/local-log.js'
import { MemoryLocalLog } from '../src/storage/memory-local-log.js'
import { buildChain } from '../src/testing.js'

interface Backend {
  open: () => Promise<LocalLog>
  done?: () => Promise<void>
}

const backends: Record<string, () => Promise<Backend>> = {
  memory: async () => {
    const log = new MemoryLocalLog()
    return { open: async () => log } // one instance: memory has nothing to reopen from
  },
  file: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pixpax-counterparts-'))
    return { open: () => FileLocalLog.open(dir), done: () => rm(dir, { recursive: true, force: true }) }
  },
  dexie: async () => {
    const indexedDB = new IDBFactory()
    return { open: async () => new DexieLocalLog('counterparts', { indexedDB, IDBKeyRange }) }
  },
}

describe.each(Object.keys(backends))('CounterpartStore on %s', (name) => {
  it('keeps verified receipts per book, by position, once, across overlapping adds and a reopen', async () => {
    const backend = await backends[name]!()
    const chain = await buildChain({ count: 6, accountId: 'acc-bob', bookId: 'book' })
    const entries: CounterpartReceipt[] = chain.map((l, i) => ({
      streamKey: l.streamKey,
      seq: l.seq,
      position: 100 - i * 10, // served out of order on purpose: kept by position
      receipt: l.receipt,
      ack: {
        stream: l.streamKey,
        seq: l.seq,
        position: 100 - i * 10,
        eventId: l.receipt.eventId,
        hash: l.receipt.hash,
        relayKeyId: 'k',
        signature: 's',
      },
    }))
    const alice = { accountId: 'acc-alice', bookId: 'book' }
    const carol = { accountId: 'acc-carol', bookId: 'book' }
    let log = await backend.open()
    const store = new CounterpartStore(log)
    // Two store objects on one log, as two fetches at once make them.
    await Promise.all([
      store.add(alice, entries.slice(0, 3)),
      new CounterpartStore(log).add(alice, entries.slice(2)),
      store.add(carol, entries.slice(0, 1)),
    ])
    await store.add(alice, entries.slice(1, 2))
    if (name !== 'memory') {
      await log.close()
      log = await backend.open()
    }
    const kept = await new CounterpartStore(log).list(alice)
    expect(kept.map((k) => k.position)).toEqual([50, 60, 70, 80, 90, 100])
    expect(kept.find((k) => k.seq === 3)).toEqual(entries[2])
    expect((await new CounterpartStore(log).list(carol)).map((k) => k.seq)).toEqual([1])
    expect(await new CounterpartStore(log).list({ accountId: 'acc-dave', bookId: 'book' })).toEqual([])
    await log.close()
    await backend.done?.()
  })
})
