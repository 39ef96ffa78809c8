/**
 * Projectors (ARCHITECTURE §7): pure functions from a batch of accepted receipts, in log order, to row
 * changes on the projector's own tables. Inline projectors run in the append transaction (the rules read
 * what they write); tail projectors (derived views: search, notifications) follow the log on their own
 * (tail-runner.ts). Each keeps its offset in `projector_offsets` as a log size, and can be rebuilt alone.
 */
import type { Receipt } from '@pixpax/shared'
import type { Queryable } from '../db/projection-db.js'
import type { ReceiptNotice } from '../sync/notifier.js'

/** One accepted receipt as projectors see it: where it sits in its stream and in the log. */
export interface ProjectedReceipt {
  readonly receipt: Receipt
  /** The receipt's canonical JSON (the object's bytes as text). */
  readonly body: string
  readonly streamKey: string
  /** 1-based position in its stream. */
  readonly seq: number
  /** 0-based position in the acceptance log. */
  readonly position: number
  readonly objectKey: string
  /** The stream's owner after this receipt (from the shared ledger rules). */
  readonly owner: string
}

/** A table a projector owns, with the columns that order its rows for the digest. */
export interface ProjectionTable {
  readonly name: string
  readonly orderBy: string
}

export interface Projector {
  /** Its key in projector_offsets. */
  readonly name: string
  /** `inline`: in the append transaction; `tail`: follows the log on its own (derived views). */
  readonly mode: 'inline' | 'tail'
  readonly tables: readonly ProjectionTable[]
  /**
   * Applies `batch` (log order, contiguous positions) as if each receipt were applied one after the
   * other — folded in memory first, then one multi-row statement per table. Reads only its own rows.
   * A tail projector may return live notices to announce in the batch's transaction (notifications to
   * their recipients' sync sessions); their stream is `{name}/…`, so the runner never wakes on them.
   */
  apply(tx: Queryable, batch: readonly ProjectedReceipt[]): Promise<void | readonly ReceiptNotice[]>
  /**
   * Tail only: the stream types it reads (the runner skips the others' receipts in SQL, but still moves
   * the offset past them). All when omitted.
   */
  readonly streamTypes?: readonly string[]
}

/**
 * Columns for a multi-row statement through `unnest`: `columns(['account_id', 'text'], …)` gives the
 * select list and casts, `rows` are bound column by column (one array parameter per column).
 */
export function unnestRows(
  columns: ReadonlyArray<readonly [name: string, type: string]>,
  rows: ReadonlyArray<readonly unknown[]>,
  firstParam = 1,
  alias = 'v',
): { names: string; from: string; params: unknown[][] } {
  const params = columns.map((_, i) => rows.map((r) => r[i] ?? null))
  const casts = columns.map(([, type], i) => `$${firstParam + i}::${type}[]`).join(', ')
  const names = columns.map(([name]) => name).join(', ')
  return { names, from: `unnest(${casts}) AS ${alias}(${names})`, params }
}

/** The last item per key, in first-seen key order (a batch folded to its final state per row). */
export function lastByKey<T>(items: Iterable<T>, key: (item: T) => string): Map<string, T> {
  const out = new Map<string, T>()
  for (const item of items) {
    const k = key(item)
    out.delete(k) // keep iteration order = order of the last occurrence
    out.set(k, item)
  }
  return out
}
