/**
 * Reading the acceptance log back: entries in log order from the store's entry bundles (and, inside a
 * transaction that sees the database, the sequenced leaves not yet integrated), and each entry's receipt
 * object, fetched ahead in parallel but yielded in order.
 */
import {
  CHECKPOINT_PATH,
  decodeEntryBundle,
  parseLeafData,
  parseSignedNote,
  parseCheckpoint,
  parseReceipt,
  parseStreamKey,
  streamEventsPrefix,
  tileReaderFromStore,
  TILE_WIDTH,
  utf8DecodeStrict,
  type Checkpoint,
  type CheckedReceipt,
  type LogEntry,
  type Sha256,
} from '@pixpax/shared'
import type { Queryable } from '../db/projection-db.js'
import { getMany, type ObjectStore } from '../stores/object-store.js'

/** The store's checkpoint (signature not checked here), or undefined for a store without a log. */
export async function readStoreCheckpoint(store: ObjectStore): Promise<{ note: string; checkpoint: Checkpoint } | undefined> {
  const bytes = await store.get(CHECKPOINT_PATH)
  if (!bytes) return undefined
  const note = utf8DecodeStrict(bytes)
  return { note, checkpoint: parseCheckpoint(parseSignedNote(note).text) }
}

/** Entries [from, to) from the store's entry bundles of the tree of `size` leaves (to ≤ size). */
export async function* storeEntries(
  store: ObjectStore,
  size: number,
  from = 0,
  to = size,
): AsyncGenerator<{ position: number; data: Uint8Array }> {
  const reader = tileReaderFromStore((path) => store.get(path))
  let next = Math.floor(from / TILE_WIDTH)
  const last = Math.ceil(to / TILE_WIDTH)
  const bundle = (i: number): Promise<Uint8Array[]> => {
    const width = (i + 1) * TILE_WIDTH <= size ? TILE_WIDTH : size % TILE_WIDTH
    return reader.readEntryBundle(i, width).then((bytes) => decodeEntryBundle(bytes, width))
  }
  // Two bundles ahead: the next one is on its way while this one is consumed.
  const ahead: Array<Promise<Uint8Array[]>> = []
  const fill = (): void => {
    while (ahead.length < 2 && next < last) ahead.push(bundle(next++))
  }
  fill()
  for (let i = Math.floor(from / TILE_WIDTH); i < last; i++) {
    const entries = await ahead.shift()!
    fill()
    for (let j = 0; j < entries.length; j++) {
      const position = i * TILE_WIDTH + j
      if (position >= from && position < to) yield { position, data: entries[j]! }
    }
  }
}

/**
 * Entries [from, to) with a database that may be ahead of the store: positions below the stored
 * checkpoint come from the store, the rest from log_leaves. Call inside a transaction so both reads see
 * one state (the integrator writes bundles before it moves log_checkpoint and deletes leaves).
 */
export async function* logEntries(
  q: Queryable,
  store: ObjectStore,
  from: number,
  to: number,
): AsyncGenerator<{ position: number; data: Uint8Array }> {
  const { rows } = await q.query<{ size: number }>('SELECT size FROM log_checkpoint')
  const integrated = Math.min(rows[0]?.size ?? 0, to)
  if (from < integrated) yield* storeEntries(store, rows[0]!.size, from, integrated)
  const start = Math.max(from, integrated)
  if (start >= to) return
  const leaves = await q.query<{ position: number; data: Uint8Array }>(
    'SELECT position, data FROM log_leaves WHERE position >= $1 AND position < $2 ORDER BY position',
    [start, to],
  )
  if (leaves.rows.length !== to - start) throw new Error(`log leaves ${start}..${to} are missing from log_leaves`)
  yield* leaves.rows
}

export function entryObjectKey(entry: LogEntry): string {
  return `${streamEventsPrefix(parseStreamKey(entry.stream))}${entry.eventId}.json`
}

export interface LoggedReceipt {
  position: number
  entry: LogEntry
  objectKey: string
  /** The receipt, or why its object could not be read as the entry names it. */
  checked?: CheckedReceipt
  problem?: { code: string; message: string }
}

/**
 * Each entry with its receipt object, in log order, `concurrency` objects in flight. An object that is
 * missing, unparseable, or not the receipt its entry names (hash, stream) is reported, not thrown.
 */
export async function* loggedReceipts(
  entries: AsyncIterable<{ position: number; data: Uint8Array }>,
  store: ObjectStore,
  sha256: Sha256,
  concurrency = 128,
): AsyncGenerator<LoggedReceipt> {
  // An entry whose leaf data does not parse carries its problem already; the others still need their object.
  const parse = ({ position, data }: { position: number; data: Uint8Array }): LoggedReceipt => {
    let entry: LogEntry
    try {
      entry = parseLeafData(data)
    } catch (error) {
      return {
        position,
        entry: { eventId: '', hash: '', seq: 0, stream: '' },
        objectKey: '',
        problem: { code: 'LOG_INCONSISTENT', message: `entry ${position} is not valid leaf data: ${(error as Error).message}` },
      }
    }
    return { position, entry, objectKey: entryObjectKey(entry) }
  }
  const check = ({ position, entry, objectKey }: LoggedReceipt, bytes: Uint8Array | undefined): LoggedReceipt => {
    if (!bytes)
      return { position, entry, objectKey, problem: { code: 'OBJECT_MISSING', message: `${objectKey} (log entry ${position}) is missing` } }
    try {
      const checked = parseReceipt(utf8DecodeStrict(bytes), sha256)
      if (checked.receipt.hash !== entry.hash || checked.streamKey !== entry.stream || checked.receipt.eventId !== entry.eventId) {
        return {
          position,
          entry,
          objectKey,
          problem: { code: 'LOG_INCONSISTENT', message: `${objectKey} is not the receipt log entry ${position} names` },
        }
      }
      return { position, entry, objectKey, checked }
    } catch (error) {
      const e = error as { code?: string; message: string }
      return { position, entry, objectKey, problem: { code: e.code ?? 'SCHEMA_INVALID', message: `${objectKey}: ${e.message}` } }
    }
  }
  // Windows of `concurrency` entries, their objects read with one getMany; the next window is read
  // while this one is consumed.
  const iterator = entries[Symbol.asyncIterator]()
  const readWindow = async (): Promise<LoggedReceipt[] | undefined> => {
    const parsed: LoggedReceipt[] = []
    while (parsed.length < concurrency) {
      const next = await iterator.next()
      if (next.done) break
      parsed.push(parse(next.value))
    }
    if (parsed.length === 0) return undefined
    const wanted = parsed.filter((p) => !p.problem)
    const bytes = await getMany(
      store,
      wanted.map((p) => p.objectKey),
    )
    const byPosition = new Map(wanted.map((p, i) => [p.position, bytes[i]]))
    return parsed.map((p) => (p.problem ? p : check(p, byPosition.get(p.position))))
  }
  let ahead = readWindow()
  for (;;) {
    const window = await ahead
    if (!window) return
    ahead = readWindow()
    ahead.catch(() => undefined) // awaited next round; never an unhandled rejection meanwhile
    yield* window
  }
}
