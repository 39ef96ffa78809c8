/**
 * The counterpart receipts of a book (docs/economy.md, "Offline book view"): pixbooks are private, so the
 * receipts that decide a book's trades but live in the other collector's book are served to the book's
 * readers here, each with the relay's signed ack, so a client can keep them and compute its book offline:
 *
 * - offers naming the book as recipient, and the CARD_TRADE_CANCELLED of those the offerer cancelled;
 * - the CARD_TRADE_ACCEPTED / CARD_TRADE_DECLINED of the book's own offers;
 * - the PACK_ISSUED of every card instance that came to the book through a trade (its card id, art and
 *   collection are signed there, by the issuer);
 * - the COLLECTION_CREATED and COLLECTION_VERSION_PUBLISHED of every collection of those packs and of
 *   the book's own (the catalog completion is counted against: collection streams are not readable by
 *   collectors over sync, the catalog routes are not signed).
 *
 * Nothing else of the other book is served: its other receipts stay private.
 */
import type { Signer } from '@pixpax/shared'
import type { Queryable } from '../../db/projection-db.js'
import { completeAcks } from '../../ingest/ack.js'

export interface CounterpartReceipt {
  streamKey: string
  seq: number
  position: number
  receipt: unknown
  ack: unknown
}

/** `pixbook/{accountId}/{bookId}` of two columns, in SQL. */
const bookKey = (account: string, book: string): string => `'pixbook/' || ${account} || '/' || ${book}`

export async function counterpartReceipts(db: Queryable, signer: Signer, accountId: string, bookId: string): Promise<CounterpartReceipt[]> {
  const me = `${bookKey('$1', '$2')}`
  // (stream, eventId) of every counterpart receipt; `receipts` turns them into bodies at their positions.
  const { rows } = await db.query<{
    stream_key: string
    seq: number
    position: string | number
    event_id: string
    hash: string
    body: string
    ack: string | null
  }>(
    `WITH wanted(stream_key, event_id) AS (
       SELECT ${bookKey('t.from_account_id', 't.from_book_id')}, t.offer_event_id FROM economy_trades t
        WHERE t.to_account_id = $1 AND t.to_book_id = $2
       UNION
       SELECT ${bookKey('t.from_account_id', 't.from_book_id')}, t.closed_event_id FROM economy_trades t
        WHERE t.to_account_id = $1 AND t.to_book_id = $2 AND t.state = 'cancelled'
       UNION
       SELECT ${bookKey('t.to_account_id', 't.to_book_id')}, t.closed_event_id FROM economy_trades t
        WHERE t.from_account_id = $1 AND t.from_book_id = $2 AND t.state IN ('accepted', 'declined')
       UNION
       SELECT ${bookKey('p.account_id', 'p.book_id')}, p.issued_event_id
         FROM economy_trades t
         JOIN economy_instances i ON i.instance_id = CASE WHEN t.to_account_id = $1 AND t.to_book_id = $2 THEN t.instance_id ELSE t.give_instance_id END
         JOIN economy_packs p ON p.pack_id = i.pack_id
        WHERE t.state = 'accepted'
          AND ((t.to_account_id = $1 AND t.to_book_id = $2) OR (t.from_account_id = $1 AND t.from_book_id = $2))
          AND NOT (p.account_id = $1 AND p.book_id = $2)
     ),
     catalog(stream_key, event_id) AS (
       SELECT r.stream_key, r.event_id FROM receipts r
        WHERE r.type IN ('COLLECTION_CREATED', 'COLLECTION_VERSION_PUBLISHED')
          AND r.stream_key IN (
            SELECT 'collection/' || p.collection_id FROM economy_packs p
             WHERE p.collection_id IS NOT NULL
               AND ((p.account_id = $1 AND p.book_id = $2) OR ${bookKey('p.account_id', 'p.book_id')} || ' ' || p.issued_event_id IN (SELECT w.stream_key || ' ' || w.event_id FROM wanted w)))
     ),
     served(stream_key, event_id) AS (SELECT * FROM wanted UNION SELECT * FROM catalog)
     SELECT r.stream_key, r.seq, r.position, r.event_id, r.hash, r.body, a.ack
       FROM served w JOIN receipts r ON r.stream_key = w.stream_key AND r.event_id = w.event_id
       LEFT JOIN acks a ON a.stream_key = r.stream_key AND a.seq = r.seq
      WHERE r.stream_key <> ${me}
      ORDER BY r.position`,
    [accountId, bookId],
  )
  // An ack missing (a rebuilt database) is signed now, as for a push retry.
  const acks = await completeAcks(
    db,
    signer,
    rows.map((r) => ({ stream: r.stream_key, seq: r.seq, position: Number(r.position), eventId: r.event_id, hash: r.hash, ack: r.ack })),
  )
  return rows.map((r, i) => ({
    streamKey: r.stream_key,
    seq: r.seq,
    position: Number(r.position),
    receipt: JSON.parse(r.body) as unknown,
    ack: JSON.parse(acks[i]!) as unknown,
  }))
}
