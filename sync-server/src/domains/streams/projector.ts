/**
 * The streams projector: one index row per accepted receipt (with its canonical body, so catch-up is a
 * range scan) and each stream's head. Inline: the append path's chain, fork and idempotency rules read it.
 */
import type { Queryable } from '../../db/projection-db.js'
import { lastByKey, unnestRows, type ProjectedReceipt, type Projector } from '../../projection/projector.js'

const RECEIPT_COLUMNS = [
  ['stream_key', 'text'],
  ['seq', 'int4'],
  ['position', 'int8'],
  ['event_id', 'text'],
  ['hash', 'text'],
  ['type', 'text'],
  ['issuer_identity_id', 'text'],
  ['issuer_public_key_id', 'text'],
  ['idempotency_key', 'text'],
  ['created_at', 'text'],
  ['object_key', 'text'],
  ['body', 'text'],
] as const

const HEAD_COLUMNS = [
  ['stream_key', 'text'],
  ['stream_type', 'text'],
  ['owner_identity_id', 'text'],
  ['seq', 'int4'],
  ['head_event_id', 'text'],
  ['head_hash', 'text'],
  ['head_position', 'int8'],
] as const

export const streamsProjector: Projector = {
  name: 'streams',
  mode: 'inline',
  tables: [
    { name: 'streams', orderBy: 'stream_key' },
    { name: 'receipts', orderBy: 'position' },
  ],
  async apply(tx: Queryable, batch: readonly ProjectedReceipt[]): Promise<void> {
    if (batch.length === 0) return
    const receipts = unnestRows(
      RECEIPT_COLUMNS,
      batch.map((p) => [
        p.streamKey,
        p.seq,
        p.position,
        p.receipt.eventId,
        p.receipt.hash,
        p.receipt.type,
        p.receipt.issuer.identityId,
        p.receipt.issuer.publicKeyId,
        p.receipt.idempotencyKey,
        p.receipt.createdAt,
        p.objectKey,
        p.body,
      ]),
    )
    const heads = [...lastByKey(batch, (p) => p.streamKey).values()]
    const head = unnestRows(
      HEAD_COLUMNS,
      heads.map((p) => [p.streamKey, p.receipt.stream.type, p.owner, p.seq, p.receipt.eventId, p.receipt.hash, p.position]),
      receipts.params.length + 1,
    )
    // Both tables in one statement: one round trip under the batch's locks.
    await tx.query(
      `WITH indexed AS (INSERT INTO receipts (${receipts.names}) SELECT * FROM ${receipts.from})
       INSERT INTO streams (${head.names}) SELECT * FROM ${head.from}
       ON CONFLICT (stream_key) DO UPDATE SET owner_identity_id = EXCLUDED.owner_identity_id, seq = EXCLUDED.seq,
         head_event_id = EXCLUDED.head_event_id, head_hash = EXCLUDED.head_hash, head_position = EXCLUDED.head_position`,
      [...receipts.params, ...head.params],
    )
  },
}
