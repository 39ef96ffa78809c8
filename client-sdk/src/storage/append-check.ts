/**
 * The positional rules every LocalLog enforces on `append`, in one place so the implementations agree
 * on them (and on their error codes): each entry is its stream's next seq and chains to that stream's
 * head, its `streamKey` is the receipt's, its ack (if any) names it. Nothing here checks hashes or
 * signatures: the log stores what the sync layer already verified.
 */
import { PixpaxError, streamKey as streamKeyOf } from '@pixpax/shared'
import type { Ack, LoggedReceipt } from './local-log.js'

/** The head a stream's next receipt must chain to, as a log knows it. */
export type HeadLookup = (streamKey: string) => LoggedReceipt | undefined

function headDetails(head: LoggedReceipt | undefined): Record<string, unknown> | null {
  return head ? { eventId: head.receipt.eventId, hash: head.receipt.hash, seq: head.seq } : null
}

/**
 * Checks a batch against the heads `headOf` reports, entry by entry (later entries of a stream chain to
 * the earlier ones of the same batch), and returns each touched stream's new head. Throws a PixpaxError
 * — `CHAIN_CONFLICT` (position already taken, or a second first receipt), `CHAIN_BROKEN` (a gap, or
 * prevEventId/prevHash not naming the head), `SCHEMA_INVALID` (malformed entry, wrong streamKey, an ack
 * for another receipt) — naming the batch index, before anything is written.
 */
export function checkAppend(entries: readonly LoggedReceipt[], headOf: HeadLookup): Map<string, LoggedReceipt> {
  const input: unknown = entries // callers in plain JS may pass anything
  if (!Array.isArray(input)) throw new PixpaxError('SCHEMA_INVALID', 'append takes an array of LoggedReceipt')
  const heads = new Map<string, LoggedReceipt>()
  // streamKey() validates the stream reference; one call per distinct stream object shape is plenty.
  const keyCache = new Map<string, string>()
  entries.forEach((entry, index) => {
    const where = { index, streamKey: entry?.streamKey, seq: entry?.seq }
    if (
      typeof entry !== 'object' ||
      entry === null ||
      typeof entry.streamKey !== 'string' ||
      typeof entry.receipt !== 'object' ||
      entry.receipt === null
    ) {
      throw new PixpaxError('SCHEMA_INVALID', `append: entry ${index} is not a LoggedReceipt`, where)
    }
    if (!Number.isSafeInteger(entry.seq) || entry.seq < 1) {
      throw new PixpaxError('SCHEMA_INVALID', `append: entry ${index} has seq ${String(entry.seq)}; seq counts from 1`, where)
    }
    const { receipt } = entry
    const refText = JSON.stringify(receipt.stream)
    let key = keyCache.get(refText)
    if (key === undefined) {
      key = streamKeyOf(receipt.stream)
      keyCache.set(refText, key)
    }
    if (key !== entry.streamKey) {
      throw new PixpaxError('SCHEMA_INVALID', `append: entry ${index} says stream ${entry.streamKey} but its receipt is in ${key}`, where)
    }
    const head = heads.get(key) ?? headOf(key)
    const expected = (head?.seq ?? 0) + 1
    if (entry.seq < expected) {
      throw new PixpaxError('CHAIN_CONFLICT', `append: ${key} already has seq ${entry.seq} (head is ${expected - 1})`, {
        ...where,
        head: headDetails(head),
      })
    }
    if (entry.seq > expected) {
      throw new PixpaxError('CHAIN_BROKEN', `append: entry ${index} has seq ${entry.seq} but ${key} is at ${expected - 1}`, {
        ...where,
        head: headDetails(head),
      })
    }
    if (!head) {
      if (receipt.prevEventId !== null || receipt.prevHash !== null) {
        throw new PixpaxError('CHAIN_BROKEN', `append: the first receipt of ${key} must have prevEventId and prevHash null`, {
          ...where,
          head: null,
        })
      }
    } else if (receipt.prevEventId !== head.receipt.eventId || receipt.prevHash !== head.receipt.hash) {
      const code = receipt.prevEventId === null && receipt.prevHash === null ? 'CHAIN_CONFLICT' : 'CHAIN_BROKEN'
      throw new PixpaxError(code, `append: entry ${index} does not chain to the head of ${key} (seq ${head.seq})`, {
        ...where,
        head: headDetails(head),
      })
    }
    const { ack } = entry
    if (ack !== undefined) {
      if (
        typeof ack !== 'object' ||
        ack === null ||
        ack.stream !== key ||
        ack.seq !== entry.seq ||
        ack.eventId !== receipt.eventId ||
        ack.hash !== receipt.hash
      ) {
        throw new PixpaxError('SCHEMA_INVALID', `append: entry ${index} carries an ack for another receipt or position`, where)
      }
    }
    heads.set(key, entry)
  })
  return heads
}

/**
 * Checks `setAck`'s arguments against the logged receipt at that place (undefined: not in the log) and
 * says whether there is anything to write: false when the receipt already holds that same ack. Throws
 * `NOT_FOUND` for a receipt not in the log, `SCHEMA_INVALID` for an ack naming another receipt or a
 * receipt that already holds another ack (an ack is the relay's signed statement; it is never replaced).
 */
export function checkSetAck(streamKey: string, seq: number, logged: LoggedReceipt | undefined, ack: Ack): boolean {
  if (!logged) throw new PixpaxError('NOT_FOUND', `setAck: ${streamKey} has no receipt at seq ${seq}`, { streamKey, seq })
  const { receipt } = logged
  if (
    typeof ack !== 'object' ||
    ack === null ||
    ack.stream !== streamKey ||
    ack.seq !== seq ||
    ack.eventId !== receipt.eventId ||
    ack.hash !== receipt.hash
  ) {
    throw new PixpaxError('SCHEMA_INVALID', `setAck: the ack does not name ${streamKey} seq ${seq}`, { streamKey, seq })
  }
  if (logged.ack === undefined) return true
  if (JSON.stringify(logged.ack) === JSON.stringify(ack)) return false
  throw new PixpaxError('SCHEMA_INVALID', `setAck: ${streamKey} seq ${seq} already holds another ack`, { streamKey, seq })
}

/**
 * A LoggedReceipt without `ack: undefined` / `position: undefined` members (so stored forms compare equal
 * everywhere); the log position is kept — exports and offline verifiers order key changes by it.
 */
export function normalizeEntry(entry: LoggedReceipt): LoggedReceipt {
  const out: LoggedReceipt = { streamKey: entry.streamKey, seq: entry.seq, receipt: entry.receipt }
  if (entry.ack !== undefined) out.ack = entry.ack
  if (entry.position !== undefined) out.position = entry.position
  return out
}

/**
 * Validates `read`'s window and returns it as [first index, end index) into a stream's 0-based array
 * of `length` receipts. `afterSeq` must be an integer ≥ 0, `limit` an integer ≥ 0 or Infinity.
 */
export function readWindow(length: number, afterSeq = 0, limit = Number.POSITIVE_INFINITY): [number, number] {
  if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw new RangeError(`read: afterSeq must be an integer ≥ 0, got ${afterSeq}`)
  if (limit !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(limit) || limit < 0)) {
    throw new RangeError(`read: limit must be an integer ≥ 0, got ${limit}`)
  }
  const from = Math.min(afterSeq, length)
  return [from, Math.min(length, from + limit)]
}

/** Orders outbox entries: by createdAt, then id. */
export const outboxOrder = (a: { createdAt: number; id: string }, b: { createdAt: number; id: string }): number =>
  a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/** Orders quarantine entries: by at, then id. */
export const quarantineOrder = (a: { at: number; id: string }, b: { at: number; id: string }): number =>
  a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/** Thrown by any call on a LocalLog after `close()`. */
export function closedError(name: string): Error {
  return new Error(`${name} is closed`)
}
