/**
 * LocalLog in IndexedDB (browsers), through Dexie.
 *
 * Layout, chosen for catch-up speed. Measured in Chromium, IndexedDB costs per row and per transaction
 * far more than per byte: one receipt per row caps at ~800 rows/s, batches of 100 rows per transaction at
 * ~6k/s, many receipts per row at ~60k/s. So receipts are stored many to a row, and one `append` is one
 * transaction:
 *
 * - `chunks`, key `[streamKey+firstSeq]`: a stream's receipts, many to a row, in aligned windows of
 *   CHUNK_SIZE (256) seqs — window k holds seqs 256k+1 … 256(k+1), and no row crosses a window, so the
 *   rows of any seq range are one key-range query away. A window is filled lazily: each `append` adds
 *   one row per window it touches, holding just its new receipts (a fragment), and the append that
 *   completes a window merges that window's fragments into one full row. So a 5,000-receipt catch-up
 *   writes ~20 full rows, and a single live append writes one small row instead of rewriting a partial
 *   chunk of up to 255 receipts (the merge costs that once per 256 receipts). Callers should still append
 *   what they receive in batches: rows and transactions are what cost.
 * - `heads`, key `streamKey`: each stream's last LoggedReceipt (chain checks and `head` in one get;
 *   `streamKeys` is its primary-key list).
 * - `order`, key `++n`: one row per `append` call listing its runs `[streamKey, fromSeq, count]` in
 *   batch order — the global append order `scan` (exports) follows, at a few bytes per call.
 * - `outbox` (key `id`, index `[createdAt+id]`) and `quarantine` (key `id`, index `[at+id]`): one row per
 *   entry; they are small and change entry by entry.
 * - `meta` (key `key`): the client's own small records; `snapshots` (key `name`): the sync engine's
 *   start-up snapshot (`putSnapshot`), one string row, so it is read with one get and never parsed by
 *   the structured clone row by row.
 * - `setAck` rewrites the one chunk row holding that seq (and the head row if it is the head), in one
 *   transaction.
 *
 * Durability: IndexedDB commits are atomic; Chromium's default durability is "relaxed" (may be lost on
 * power failure, never torn). The log asks for "strict" unless told otherwise, as the LocalLog contract
 * promises durable writes; confirmed receipts can always be fetched again, so `durability: 'relaxed'`
 * is a fair trade where write latency matters more.
 */
import { Dexie, type Table } from 'dexie'
import type { Receipt } from '@pixpax/shared'
import { checkAppend, checkSetAck, closedError, normalizeEntry, readWindow } from './append-check.js'
import type { Ack, LocalLog, LoggedReceipt, OutboxEntry, QuarantineEntry } from './local-log.js'

/** Seqs per window of `chunks` rows. Part of the stored layout: changing it needs a schema version and a migration. */
export const CHUNK_SIZE = 256

/** First seq of the window that holds `seq`. */
const windowStart = (seq: number): number => Math.floor((seq - 1) / CHUNK_SIZE) * CHUNK_SIZE + 1

interface ChunkItem {
  receipt: Receipt
  ack?: Ack
  position?: number
}
interface ChunkRow {
  streamKey: string
  firstSeq: number
  items: ChunkItem[]
}
/** One `putMeta` record. */
interface MetaRow {
  key: string
  value: unknown
}
/** The engine's start-up snapshot. */
interface SnapshotRow {
  name: string
  text: string
}
/** A run of one append call: `count` receipts of `streamKey` from `fromSeq`. */
type Segment = [streamKey: string, fromSeq: number, count: number]
interface OrderRow {
  n?: number
  segments: Segment[]
}

/** Options of DexieLocalLog; `indexedDB`/`IDBKeyRange` let tests pass fake-indexeddb's. */
export interface DexieLocalLogOptions {
  indexedDB?: IDBFactory
  IDBKeyRange?: typeof IDBKeyRange
  /** IndexedDB transaction durability for writes (Chromium honours it). Default `strict`. */
  durability?: 'strict' | 'relaxed' | 'default'
}

class LocalLogDatabase extends Dexie {
  chunks!: Table<ChunkRow, [string, number]>
  heads!: Table<LoggedReceipt, string>
  order!: Table<OrderRow, number>
  outbox!: Table<OutboxEntry, string>
  quarantine!: Table<QuarantineEntry, string>
  meta!: Table<MetaRow, string>
  snapshots!: Table<SnapshotRow, string>

  constructor(name: string, options: DexieLocalLogOptions) {
    super(name, {
      ...(options.indexedDB ? { indexedDB: options.indexedDB } : {}),
      ...(options.IDBKeyRange ? { IDBKeyRange: options.IDBKeyRange } : {}),
      chromeTransactionDurability: options.durability ?? 'strict',
      // Dexie's query cache serves liveQuery; the log does not use it and it costs on every write.
      cache: 'disabled',
    })
    this.version(1).stores({
      chunks: '[streamKey+firstSeq]',
      heads: 'streamKey',
      order: '++n',
      outbox: 'id, [createdAt+id]',
      quarantine: 'id, [at+id]',
    })
    // v2: the client's own small records (relay pin, newest checkpoint, evidence); nothing to migrate.
    this.version(2).stores({ meta: 'key' })
    // v3: the sync engine's start-up snapshot; nothing to migrate (no snapshot: the engine replays).
    this.version(3).stores({ snapshots: 'name' })
  }
}

const toItem = (entry: LoggedReceipt): ChunkItem => {
  const item: ChunkItem = { receipt: entry.receipt }
  if (entry.ack !== undefined) item.ack = entry.ack
  if (entry.position !== undefined) item.position = entry.position
  return item
}
const fromItem = (streamKey: string, seq: number, item: ChunkItem): LoggedReceipt => {
  const entry: LoggedReceipt = { streamKey, seq, receipt: item.receipt }
  if (item.ack !== undefined) entry.ack = item.ack
  if (item.position !== undefined) entry.position = item.position
  return entry
}

/** A LocalLog in an IndexedDB database named `dbName`; see the module comment for the layout. */
export class DexieLocalLog implements LocalLog {
  readonly #db: LocalLogDatabase
  #closed = false

  /** Opens (lazily, on first use) the database `dbName`, creating it if needed. */
  constructor(
    readonly dbName: string,
    options: DexieLocalLogOptions = {},
  ) {
    this.#db = new LocalLogDatabase(dbName, options)
  }

  #open(): LocalLogDatabase {
    if (this.#closed) throw closedError('DexieLocalLog')
    return this.#db
  }

  #damaged(what: string): Error {
    return new Error(`DexieLocalLog ${this.dbName}: ${what}; the database is damaged`)
  }

  /** The rows of `streamKey` whose firstSeq is in [from, to], in seq order. */
  #rows(db: LocalLogDatabase, streamKey: string, from: number, to: number): Promise<ChunkRow[]> {
    return db.chunks.where('[streamKey+firstSeq]').between([streamKey, from], [streamKey, to], true, true).toArray()
  }

  async append(entries: LoggedReceipt[]): Promise<void> {
    const db = this.#open()
    if (Array.isArray(entries) && entries.length === 0) return
    await db.transaction('rw', [db.heads, db.chunks, db.order], async () => {
      // Read the heads inside the transaction: IndexedDB serializes overlapping readwrite transactions
      // (across tabs too), so the check and the write see the same state.
      const keys = [...new Set(entries.map((entry) => entry?.streamKey))].filter((key) => typeof key === 'string')
      const stored = await db.heads.bulkGet(keys)
      const current = new Map(keys.map((key, i) => [key, stored[i]]))
      const newHeads = checkAppend(entries, (key) => current.get(key))

      const perStream = new Map<string, LoggedReceipt[]>()
      const segments: Segment[] = []
      for (const entry of entries) {
        const list = perStream.get(entry.streamKey)
        if (list) list.push(entry)
        else perStream.set(entry.streamKey, [entry])
        const last = segments.at(-1)
        if (last && last[0] === entry.streamKey && last[1] + last[2] === entry.seq) last[2]++
        else segments.push([entry.streamKey, entry.seq, 1])
      }

      const puts: ChunkRow[] = []
      const deletes: Array<[string, number]> = []
      for (const [key, list] of perStream) {
        for (let i = 0; i < list.length;) {
          const first = list[i]!.seq
          const start = windowStart(first)
          const end = start + CHUNK_SIZE - 1
          let j = i
          while (j < list.length && list[j]!.seq <= end) j++
          const items = list.slice(i, j).map(toItem)
          if (first > start && list[j - 1]!.seq === end) {
            // This append completes a window that already has fragments: merge them into one full row.
            const fragments = await this.#rows(db, key, start, first - 1)
            const earlier = fragments.flatMap((row) => row.items)
            if (earlier.length !== first - start || fragments[0]?.firstSeq !== start)
              throw this.#damaged(`${key} window ${start} is incomplete`)
            for (const row of fragments.slice(1)) deletes.push([key, row.firstSeq])
            puts.push({ streamKey: key, firstSeq: start, items: [...earlier, ...items] })
          } else {
            puts.push({ streamKey: key, firstSeq: first, items })
          }
          i = j
        }
      }
      if (deletes.length) await db.chunks.bulkDelete(deletes)
      await db.chunks.bulkPut(puts)
      await db.heads.bulkPut([...newHeads.values()].map(normalizeEntry))
      await db.order.add({ segments })
    })
  }

  async head(streamKey: string): Promise<LoggedReceipt | undefined> {
    return this.#open().heads.get(streamKey)
  }

  async read(streamKey: string, afterSeq?: number, limit?: number): Promise<LoggedReceipt[]> {
    const db = this.#open()
    readWindow(0, afterSeq, limit) // argument checks, before touching the database
    return db.transaction('r', [db.heads, db.chunks], async () => {
      const head = await db.heads.get(streamKey)
      const [from, to] = readWindow(head?.seq ?? 0, afterSeq, limit)
      if (from >= to) return []
      // The row holding seq from+1 starts in its window, at or before it; rows never cross windows.
      const rows = await this.#rows(db, streamKey, windowStart(from + 1), to)
      const out: LoggedReceipt[] = []
      for (const row of rows) {
        const first = Math.max(from + 1, row.firstSeq)
        const last = Math.min(to, row.firstSeq + row.items.length - 1)
        for (let seq = first; seq <= last; seq++) out.push(fromItem(streamKey, seq, row.items[seq - row.firstSeq]!))
      }
      if (out.length !== to - from) throw this.#damaged(`${streamKey} seqs ${from + 1}…${to} are not all there`)
      return out
    })
  }

  async streamKeys(): Promise<string[]> {
    const keys = await this.#open().heads.toCollection().primaryKeys()
    return keys.sort() // IndexedDB orders strings by code unit already; sort() makes the contract explicit
  }

  async *scan(): AsyncIterable<LoggedReceipt> {
    const db = this.#open()
    const lastN = (await db.order.toCollection().lastKey()) as number | undefined
    if (lastN === undefined) return
    // Windows are fetched one at a time as the runs reach them (≤ 256 receipts each) and a few are
    // kept, so a scan of any size holds a bounded amount in memory. A cached window may have grown
    // since it was fetched: fetch it again then.
    const cache = new Map<string, ChunkItem[]>()
    const itemAt = async (streamKey: string, seq: number): Promise<ChunkItem> => {
      const start = windowStart(seq)
      const id = `${start}/${streamKey}`
      let items = cache.get(id)
      if (!items?.[seq - start]) {
        const rows = await this.#rows(this.#open(), streamKey, start, start + CHUNK_SIZE - 1)
        items = rows.flatMap((row) => row.items)
        cache.delete(id)
        cache.set(id, items)
        if (cache.size > 16) cache.delete(cache.keys().next().value!)
      }
      const item = items[seq - start]
      if (!item) throw this.#damaged(`${streamKey} seq ${seq} is missing`)
      return item
    }
    for (let after = 0; after < lastN;) {
      const rows = await this.#open().order.where('n').between(after, lastN, false, true).limit(64).toArray()
      if (rows.length === 0) return
      for (const row of rows) {
        for (const [streamKey, fromSeq, count] of row.segments) {
          for (let seq = fromSeq; seq < fromSeq + count; seq++) yield fromItem(streamKey, seq, await itemAt(streamKey, seq))
        }
      }
      after = rows.at(-1)!.n!
    }
  }

  async putOutbox(entry: OutboxEntry): Promise<void> {
    await this.#open().outbox.put(entry)
  }

  async deleteOutbox(id: string): Promise<void> {
    await this.#open().outbox.delete(id)
  }

  async listOutbox(): Promise<OutboxEntry[]> {
    return this.#open().outbox.orderBy('[createdAt+id]').toArray()
  }

  async addQuarantine(entry: QuarantineEntry): Promise<void> {
    await this.#open().quarantine.put(entry)
  }

  async listQuarantine(): Promise<QuarantineEntry[]> {
    return this.#open().quarantine.orderBy('[at+id]').toArray()
  }

  async getMeta(key: string): Promise<unknown> {
    return (await this.#open().meta.get(key))?.value
  }

  async putMeta(key: string, value: unknown): Promise<void> {
    const db = this.#open()
    if (value === undefined) await db.meta.delete(key)
    else await db.meta.put({ key, value })
  }

  async setAck(streamKey: string, seq: number, ack: Ack): Promise<void> {
    const db = this.#open()
    await db.transaction('rw', [db.heads, db.chunks], async () => {
      const head = await db.heads.get(streamKey)
      let row: ChunkRow | undefined
      if (head && Number.isSafeInteger(seq) && seq >= 1 && seq <= head.seq) {
        const rows = await this.#rows(db, streamKey, windowStart(seq), seq)
        row = rows.find((r) => r.firstSeq <= seq && seq < r.firstSeq + r.items.length)
        if (!row) throw this.#damaged(`${streamKey} seq ${seq} is missing`)
      }
      const item = row?.items[seq - row.firstSeq]
      if (!checkSetAck(streamKey, seq, item && fromItem(streamKey, seq, item), ack)) return
      item!.ack = ack
      await db.chunks.put(row!)
      if (head!.seq === seq) await db.heads.put({ ...head!, ack })
    })
  }

  async getSnapshot(): Promise<string | undefined> {
    return (await this.#open().snapshots.get('sync'))?.text
  }

  async putSnapshot(text: string | undefined): Promise<void> {
    const db = this.#open()
    if (text === undefined) await db.snapshots.delete('sync')
    else await db.snapshots.put({ name: 'sync', text })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#db.close()
  }

  /** Deletes the database `dbName` (all of it). Close every log on it first. */
  static async delete(dbName: string, options: Pick<DexieLocalLogOptions, 'indexedDB' | 'IDBKeyRange'> = {}): Promise<void> {
    await new LocalLogDatabase(dbName, options).delete()
  }
}
