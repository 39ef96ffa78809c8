/**
 * Fast start-up (start-snapshot.ts): SyncClient.open starts from the verified state stored in the local
 * log, only where that state still describes the log — on every LocalLog (memory, file, IndexedDB) — and
 * replays the log otherwise. A client started from a snapshot verifies what comes next exactly as one that
 * replayed.
 */
import { cp, mkdtemp, readFile, rm, truncate } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildReceipt, type Receipt, type Signer } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb'
import { afterEach, describe, expect, it } from 'vitest'
import { DexieLocalLog } from '../src/storage/dexie-local-log.js'
import { FileLocalLog } from '../src/storage/file-local-log.js'
import type { LocalLog, LoggedReceipt } from '../src/storage/local-log.js'
import { MemoryLocalLog, MemoryLocalLogData } from '../src/storage/memory-local-log.js'
import { encodeStartSnapshot, restoreVerifiedState } from '../src/sync/start-snapshot.js'
import { SyncClient } from '../src/sync/sync-client.js'
import { buildChain, testSigner, identityCreatedBy } from '../src/testing/fixtures.js'
import { FakeRelay } from './support/fake-relay.js'

const BOOK = 'pixbook/acc-1/book-1'
const OTHER = 'pixbook/acc-1/other'

/** A log store that can be opened again (a new LocalLog on the same storage) and cleaned up. */
interface Store {
  open(): Promise<LocalLog>
  done(): Promise<void>
}
const stores: Record<string, () => Promise<Store>> = {
  memory: async () => {
    const data = new MemoryLocalLogData()
    return { open: async () => new MemoryLocalLog(data), done: async () => undefined }
  },
  file: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pixpax-start-'))
    return { open: () => FileLocalLog.open(dir), done: () => rm(dir, { recursive: true, force: true }) }
  },
  indexeddb: async () => {
    const indexedDB = new IDBFactory()
    return { open: async () => new DexieLocalLog('start', { indexedDB, IDBKeyRange }), done: async () => undefined }
  },
}

let signer: Signer
let identity: LoggedReceipt
let keyAdded: LoggedReceipt
async function identityStream(): Promise<LoggedReceipt[]> {
  signer ??= await testSigner()
  if (!identity) {
    const created = await identityCreatedBy(signer)
    const second = await testSigner()
    const added = await buildReceipt({
      stream: created.stream,
      type: 'KEY_ADDED',
      payload: { publicKey: second.publicKey },
      identityId: 'alice',
      signer,
      prev: created,
      sha256: nodeSha256,
    })
    identity = { streamKey: 'identity/alice', seq: 1, receipt: created, position: 0 }
    keyAdded = { streamKey: 'identity/alice', seq: 2, receipt: added, position: 1 }
  }
  return [identity, keyAdded]
}

/** The engine's state as comparable JSON: sets and maps in a fixed order (insertion order is not state). */
function normalized(state: { ledger: Parameters<typeof encodeStartSnapshot>[0]; heads: Map<string, LoggedReceipt> }): unknown {
  const parsed = JSON.parse(encodeStartSnapshot(state.ledger, state.heads)) as {
    heads: Record<string, unknown>
    ledger: Record<string, unknown>
  }
  const sortLines = (text: unknown) => String(text).split('\n').sort().join('\n')
  const sortMap = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sortMap)
    if (typeof value !== 'object' || value === null) return value
    const record = value as Record<string, unknown>
    if (Array.isArray(record.__map))
      return { __map: (record.__map as unknown[][]).map(sortMap).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) }
    if (Array.isArray(record.__set)) return { __set: (record.__set as unknown[]).map(sortMap).sort() }
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, sortMap(v)]))
  }
  return {
    heads: Object.fromEntries(Object.entries(parsed.heads).sort(([a], [b]) => (a < b ? -1 : 1))),
    identities: sortMap(parsed.ledger.identities),
    streams: sortMap(parsed.ledger.streams),
    revokedAt: sortMap(parsed.ledger.revokedAt),
    receipts: sortLines(parsed.ledger.receipts),
    idempotency: sortLines(
      String(parsed.ledger.idempotency)
        .split('\n')
        .map((k, i) => `${k} ${String(parsed.ledger.idempotencyHashes).split('\n')[i]}`)
        .join('\n'),
    ),
  }
}

/** What replaying the whole log yields (the reference the snapshot must reproduce). */
async function replayed(log: LocalLog) {
  const saved = await log.getSnapshot()
  await log.putSnapshot(undefined)
  const state = await restoreVerifiedState(log)
  await log.putSnapshot(saved)
  expect(state.source).toBe('replay')
  return normalized(state)
}

const openClient = (log: LocalLog, relay?: FakeRelay) =>
  SyncClient.open({
    relayUrl: 'http://fake',
    log,
    identityId: 'alice',
    signer,
    streams: [BOOK],
    ...(relay ? { webSocket: relay.webSocket } : {}),
    verifier: nodeVerifier(),
    sha256: nodeSha256,
    reconnect: { baseMs: 10, maxMs: 50 },
  })

for (const [name, makeStore] of Object.entries(stores)) {
  describe(`start-up snapshot on the ${name} log`, () => {
    let store: Store | undefined
    let log: LocalLog | undefined
    afterEach(async () => {
      await log?.close()
      await store?.done()
      log = store = undefined
    })

    /** A log with an identity stream (2 receipts) and two books (60 + 5), the snapshot of it, its text. */
    async function logged(): Promise<{ book: LoggedReceipt[]; other: LoggedReceipt[]; text: string }> {
      store = await makeStore()
      log = await store.open()
      const ids = await identityStream()
      const book = await buildChain({ count: 60, signer })
      const other = await buildChain({ count: 5, bookId: 'other', signer })
      await log.append(ids)
      await log.append([...book.slice(0, 50), ...other])
      await log.append(book.slice(50))
      const first = await openClient(log)
      expect(first.startup).toEqual({ source: 'replay', replayed: 67 })
      await first.stop() // stores the snapshot
      const text = await log.getSnapshot()
      expect(text).toBeDefined()
      return { book, other, text: text! }
    }

    it('stop() stores the verified state; the next open uses it, replaying nothing, and yields the same state', async () => {
      await logged()
      const reference = await replayed(log!)
      await log!.close()
      log = await store!.open()
      const restored = await restoreVerifiedState(log)
      expect(restored.source).toBe('snapshot')
      expect(restored.replayed).toBe(0)
      expect(normalized(restored)).toEqual(reference)
      const client = await openClient(log)
      expect(client.startup).toEqual({ source: 'snapshot', replayed: 0 })
      expect(client.head(BOOK)?.seq).toBe(60)
      expect(client.head(OTHER)?.seq).toBe(5)
      expect(client.head('identity/alice')?.receipt.type).toBe('KEY_ADDED')
      await client.stop()
    })

    it('a snapshot written before more receipts were logged (a crash) is used, replaying only those', async () => {
      const { book } = await logged()
      const more = await buildChain({ count: 7, after: book.at(-1)!, signer })
      await log!.append(more) // logged, but no snapshot written after it
      const restored = await restoreVerifiedState(log!)
      expect(restored.source).toBe('snapshot')
      expect(restored.replayed).toBe(7)
      expect(normalized(restored)).toEqual(await replayed(log!))
      expect(restored.heads.get(BOOK)?.seq).toBe(67)
    })

    // The snapshot of one log, handed to a log that differs from it: what a truncated or rewritten log
    // looks like to the engine, on any LocalLog.
    it('is not used for a log that is shorter, has other receipts, lost a stream, or for a damaged snapshot', async () => {
      const { book, other, text } = await logged()
      for (const [what, damaged, why] of [
        ['not JSON', text.slice(0, text.length / 2), /does not load/],
        ['another version', text.replace('{"v":1,', '{"v":2,'), /version 2/],
        ['ledger damaged', text.replace('"identities":{"__map":', '"identities":{"nope":'), /does not load/],
      ] as const) {
        await log!.putSnapshot(damaged)
        const restored = await restoreVerifiedState(log!)
        expect(restored.source, what).toBe('replay')
        expect(restored.fallback, what).toMatch(why)
      }
      const ids = await identityStream()
      const variants: Array<[string, LoggedReceipt[][], RegExp]> = [
        ['truncated', [ids, [...book.slice(0, 50), ...other], book.slice(50, 59)], /at seq 59, the snapshot saw 60 \(truncated\)/],
        ['rewritten', [ids, other, await buildChain({ count: 60, signer })], /another receipt at seq 60 .*rewritten/],
        ['stream lost', [ids, book], /no longer in the log/],
      ]
      for (const [what, batches, why] of variants) {
        await log!.close()
        await store!.done()
        store = await makeStore()
        log = await store.open()
        for (const batch of batches) await log.append(batch)
        const reference = await replayed(log)
        await log.putSnapshot(text)
        const restored = await restoreVerifiedState(log)
        expect(restored.source, what).toBe('replay')
        expect(restored.fallback, what).toMatch(why)
        expect(normalized(restored), what).toEqual(reference)
        const client = await openClient(log)
        expect(client.startup.source, what).toBe('replay')
        expect(client.head(BOOK)?.seq, what).toBe(batches.flat().filter((e) => e.streamKey === BOOK).length || undefined)
      }
    })
  })
}

describe('start-up snapshot on the file log, after a kill', () => {
  let dir: string
  afterEach(async () => rm(dir, { recursive: true, force: true }))

  it('a truncated receipts file, or a kill before the snapshot was written, falls back to a correct replay', async () => {
    dir = await mkdtemp(join(tmpdir(), 'pixpax-start-kill-'))
    signer ??= await testSigner()
    const ids = await identityStream()
    const book = await buildChain({ count: 40, signer })
    let log = await FileLocalLog.open(dir)
    await log.append(ids)
    for (const entry of book) await log.append([entry])
    let client = await openClient(log)
    await client.stop()
    await log.close()
    // Killed after more receipts were logged, before any snapshot or index was written: a copy of the files now.
    log = await FileLocalLog.open(dir)
    const more = await buildChain({ count: 3, after: book.at(-1)!, signer })
    await log.append(more)
    const killed = `${dir}-killed`
    await cp(dir, killed, { recursive: true })
    await log.close()
    try {
      const after = await FileLocalLog.open(killed)
      client = await openClient(after)
      expect(client.startup).toEqual({ source: 'snapshot', replayed: 3 })
      expect(client.head(BOOK)?.seq).toBe(43)
      await after.close()
    } finally {
      await rm(killed, { recursive: true, force: true })
    }
    // The receipts file cut by its last 6 lines (the 3-receipt batch, 2 single ones), below what the
    // snapshot saw (seq 40): the file log and
    // engine both see it and replay.
    const file = join(dir, 'receipts.ndjson')
    const lines = (await readFile(file, 'utf8')).split('\n').slice(0, -1)
    await truncate(file, Buffer.byteLength(lines.slice(0, -6).join('\n') + '\n'))
    log = await FileLocalLog.open(dir)
    expect(log.opened.fromIndex).toBe(false)
    client = await openClient(log)
    expect(client.startup.source).toBe('replay')
    expect(client.startup.fallback).toMatch(/at seq 38, the snapshot saw 40 \(truncated\)/)
    expect(client.head(BOOK)?.seq).toBe(38)
    await log.close()
  })
})

describe('a client started from its snapshot', () => {
  it('verifies what the relay delivers next as one that replayed: keys, chain, and refusals', async () => {
    signer ??= await testSigner()
    const relay = new FakeRelay()
    const ids = await identityStream()
    const book = await buildChain({ count: 20, signer })
    relay.add([...ids.map((e) => e.receipt), ...book.map((e) => e.receipt)])
    const log = new MemoryLocalLog()
    const first = await openClient(log, relay)
    first.start()
    await first.whenSynced()
    await first.stop()
    const next: Receipt[] = (await buildChain({ count: 5, after: book.at(-1)!, signer })).map((e) => e.receipt)
    // After the good ones, a receipt whose signature is another receipt's: refused with SIGNATURE_INVALID
    // (checked under alice's key, which the restored ledger must hold: without it, KEY_UNKNOWN).
    const built = await buildReceipt({
      stream: next[0]!.stream,
      type: 'CARD_ADDED',
      payload: { cardId: 'forged', artHash: 'sha256:' + 'cd'.repeat(32) },
      identityId: 'alice',
      signer,
      prev: next.at(-1)!,
      sha256: nodeSha256,
    })
    relay.add([...next, { ...built, signature: next[0]!.signature }])
    const second = await openClient(new MemoryLocalLog(log.data), relay)
    expect(second.startup).toEqual({ source: 'snapshot', replayed: 0 })
    const quarantined = new Promise<string>((resolve) => second.on('quarantine', (q) => resolve(q.code)))
    const failed = new Promise<void>((resolve) => second.on('status', (s) => s === 'error' && resolve()))
    second.start()
    expect(await quarantined).toBe('SIGNATURE_INVALID')
    await failed
    await second.stop()
    expect(second.head(BOOK)?.seq).toBe(25)
    expect((await log.read(BOOK)).length).toBe(25)
  })
})
