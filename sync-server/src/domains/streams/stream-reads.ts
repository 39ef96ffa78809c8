/**
 * Reads of a stream's receipts in chain order, each a bounded seq range.
 *
 * The read behind every delivery batch: the stored checkpoint and, in the same snapshot, up to `limit`
 * receipts of a stream after a seq that the checkpoint covers (nothing newer is handed out: a receipt is
 * delivered with the proof that it is in the log). The projection keeps each object's canonical bytes,
 * so this is one range scan, not an object GET per receipt.
 *
 * A stream's seqs are consecutive, so the range is bounded from above as well as below: whatever plan
 * the statistics of the moment pick, the statement reads at most one batch of rows. Bounded only by
 * LIMIT, a table the planner had not analyzed since a bulk load (a 100k-receipt stream just ingested)
 * was read as a bitmap scan of the stream's whole rest plus a sort — every batch reading all that
 * follows it, ~100 ms a batch deep into the stream and most of Postgres's CPU in a catch-up.
 */
import type { Queryable } from '../../db/projection-db.js'

export const DELIVERY_BATCH_SQL = `SELECT cp.size, cp.note, r.seq, r.body, r.position FROM log_checkpoint cp
       LEFT JOIN LATERAL (SELECT seq, body, position FROM receipts
                          WHERE stream_key = $1 AND seq > $2 AND seq <= $4 AND position < cp.size
                          ORDER BY seq LIMIT $3) r ON true
       ORDER BY r.seq`

/** The statement's parameters for the receipts of `streamKey` after `afterSeq`, at most `limit`. */
export function deliveryBatchParams(streamKey: string, afterSeq: number, limit: number): unknown[] {
  return [streamKey, afterSeq, limit, afterSeq + limit]
}

export interface DeliveryRows {
  /** The stored checkpoint (undefined before the first). */
  checkpoint: { size: number; note: string } | undefined
  /** The receipts under it, in seq order: canonical text as stored. */
  items: Array<{ seq: number; position: number; receipt: string }>
}

export async function readDeliveryRows(db: Queryable, streamKey: string, afterSeq: number, limit: number): Promise<DeliveryRows> {
  const { rows } = await db.query<{ size: number; note: string; seq: number | null; body: string | null; position: number | null }>(
    DELIVERY_BATCH_SQL,
    deliveryBatchParams(streamKey, afterSeq, limit),
  )
  const first = rows[0]
  const checkpoint = first?.note ? { size: Number(first.size), note: first.note } : undefined
  if (!checkpoint) return { checkpoint, items: [] }
  const items = rows.filter((row) => row.seq !== null).map((row) => ({ seq: row.seq!, position: Number(row.position), receipt: row.body! }))
  return { checkpoint, items }
}

/**
 * One page of `GET /v1/receipts`: the canonical bytes of up to $3 receipts of stream $1 after eventId $2
 * (null: from the start). eventIds increase along a stream (EVENT_ID_ORDER), so the page starts after the
 * seq of the last eventId ≤ $2 (one index probe) and is a seq range bounded like a delivery batch.
 */
export const STREAM_PAGE_SQL = `SELECT r.body, r.event_id FROM receipts r,
         (SELECT coalesce((SELECT seq FROM receipts WHERE stream_key = $1 AND $2::text IS NOT NULL AND event_id <= $2
                           ORDER BY event_id DESC LIMIT 1), 0) AS seq) start
       WHERE r.stream_key = $1 AND r.seq > start.seq AND r.seq <= start.seq + $3 ORDER BY r.seq LIMIT $3`

export async function readStreamPage(
  db: Queryable,
  streamKey: string,
  after: string | null,
  limit: number,
): Promise<Array<{ body: string; event_id: string }>> {
  return (await db.query<{ body: string; event_id: string }>(STREAM_PAGE_SQL, [streamKey, after, limit])).rows
}
