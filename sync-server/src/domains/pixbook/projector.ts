/**
 * The pixbook projector: books, their cards (with an incrementally kept count), packs and trades. Each
 * batch is folded to the final state of every row it touches, then written with one statement per table,
 * giving exactly the rows that applying the receipts one by one would.
 */
import type { Queryable } from '../../db/projection-db.js'
import { lastByKey, unnestRows, type ProjectedReceipt, type Projector } from '../../projection/projector.js'

/** Pixbook payload fields (validated by their schemas in shared before any receipt gets here). */
type Payload = Record<string, string> & { cards?: unknown; to?: unknown; from?: unknown }

interface CardChange {
  accountId: string
  bookId: string
  cardId: string
  /** undefined: removed. */
  added?: { artHash: string; packId: string | null; eventId: string }
}

interface TradeChange {
  /** Values of the first upsert in the batch (used only if the row does not exist yet). */
  insert?: { role: string; cardId: string | null; counterparty: string }
  state: string
  lastEventId: string
}

const book = (r: ProjectedReceipt['receipt']): string => `${r.stream.accountId} ${r.stream.bookId}`

export const pixbookProjector: Projector = {
  name: 'pixbook',
  mode: 'inline',
  tables: [
    { name: 'pixbooks', orderBy: 'account_id, book_id' },
    { name: 'pixbook_cards', orderBy: 'account_id, book_id, card_id' },
    { name: 'pixbook_packs', orderBy: 'account_id, book_id, pack_id' },
    { name: 'pixbook_trades', orderBy: 'account_id, book_id, trade_id' },
  ],
  async apply(tx: Queryable, batch: readonly ProjectedReceipt[]): Promise<void> {
    const created: unknown[][] = []
    const saves: ProjectedReceipt[] = []
    const cards: CardChange[] = []
    /** Book → createdAt of its last receipt that moves updated_at. */
    const touched = new Map<string, { accountId: string; bookId: string; at: string }>()
    const packs = new Map<string, unknown[]>()
    /** [account, book, pack, eventId, order, eventId of a PACK_ISSUED for it later in this batch]. */
    const opened: unknown[][] = []
    const trades = new Map<string, TradeChange & { accountId: string; bookId: string; tradeId: string }>()
    for (const p of batch) {
      const r = p.receipt
      if (r.stream.type !== 'pixbook') continue
      const pl = r.payload as Payload
      const accountId = r.stream.accountId!
      const bookId = r.stream.bookId!
      const touch = (): void => {
        touched.delete(book(r))
        touched.set(book(r), { accountId, bookId, at: r.createdAt })
      }
      switch (r.type) {
        case 'PIXBOOK_CREATED':
          created.push([accountId, bookId, r.issuer.identityId, pl.title, pl.description ?? null, pl.seriesId ?? null, r.createdAt])
          break
        case 'PIXBOOK_SAVE':
          saves.push(p)
          touch()
          break
        case 'CARD_ADDED':
          cards.push({
            accountId,
            bookId,
            cardId: pl.cardId!,
            added: { artHash: pl.artHash!, packId: pl.packId ?? null, eventId: r.eventId },
          })
          touch()
          break
        case 'CARD_REMOVED':
          cards.push({ accountId, bookId, cardId: pl.cardId! })
          touch()
          break
        case 'PACK_ISSUED': {
          // First issue wins (ON CONFLICT DO NOTHING one by one).
          const key = `${book(r)} ${pl.packId}`
          if (!packs.has(key)) packs.set(key, [accountId, bookId, pl.packId, pl.seriesId ?? null, JSON.stringify(pl.cards), r.eventId])
          break
        }
        case 'PACK_OPENED':
          // Applied in SQL in log order: the first open that finds an unopened pack wins. An open seen
          // before this batch issued its pack opened nothing (if the pack already existed, that issue
          // was a no-op and the open stands).
          opened.push([accountId, bookId, pl.packId, r.eventId, opened.length, null])
          break
        case 'CARD_TRADE_OFFERED':
        case 'CARD_TRADE_ACCEPTED':
        case 'CARD_TRADE_DECLINED': {
          const role = r.type === 'CARD_TRADE_OFFERED' ? 'offerer' : 'receiver'
          const state = r.type === 'CARD_TRADE_OFFERED' ? 'offered' : r.type === 'CARD_TRADE_ACCEPTED' ? 'accepted' : 'declined'
          const cardId = r.type === 'CARD_TRADE_OFFERED' ? pl.cardId! : r.type === 'CARD_TRADE_ACCEPTED' ? (pl.giveCardId ?? null) : null
          const counterparty = JSON.stringify(r.type === 'CARD_TRADE_OFFERED' ? pl.to : pl.from)
          const key = `${book(r)} ${pl.tradeId}`
          const entry = trades.get(key)
          if (!entry || !entry.insert) {
            trades.set(key, {
              accountId,
              bookId,
              tradeId: pl.tradeId!,
              insert: { role, cardId, counterparty },
              state,
              lastEventId: r.eventId,
            })
          } else {
            entry.state = state
            entry.lastEventId = r.eventId
          }
          break
        }
        case 'CARD_TRADE_CANCELLED': {
          const key = `${book(r)} ${pl.tradeId}`
          const entry = trades.get(key)
          if (entry) {
            entry.state = 'cancelled'
            entry.lastEventId = r.eventId
          } else trades.set(key, { accountId, bookId, tradeId: pl.tradeId!, state: 'cancelled', lastEventId: r.eventId })
          break
        }
      }
      if (r.type === 'PACK_ISSUED') {
        for (const open of opened)
          if (open[0] === accountId && open[1] === bookId && open[2] === pl.packId && open[5] === null) open[5] = r.eventId
      }
    }
    if (created.length) {
      const v = unnestRows(
        [
          ['account_id', 'text'],
          ['book_id', 'text'],
          ['owner_identity_id', 'text'],
          ['title', 'text'],
          ['description', 'text'],
          ['series_id', 'text'],
          ['created_at', 'text'],
        ],
        created,
      )
      await tx.query(`INSERT INTO pixbooks (${v.names}, updated_at) SELECT ${v.names}, created_at FROM ${v.from}`, v.params)
    }
    if (saves.length) {
      const last = [...lastByKey(saves, (p) => book(p.receipt)).values()]
      const v = unnestRows(
        [
          ['account_id', 'text'],
          ['book_id', 'text'],
          ['snapshot_hash', 'text'],
          ['document_url', 'text'],
          ['event_id', 'text'],
        ],
        last.map(({ receipt: r }) => {
          const pl = r.payload as Payload
          return [r.stream.accountId, r.stream.bookId, pl.snapshotHash, pl.documentUrl ?? null, r.eventId]
        }),
      )
      await tx.query(
        `UPDATE pixbooks b SET last_snapshot_hash = v.snapshot_hash, last_document_url = v.document_url, last_saved_event_id = v.event_id
         FROM ${v.from} WHERE b.account_id = v.account_id AND b.book_id = v.book_id`,
        v.params,
      )
    }
    if (touched.size) {
      // Cards: the final state per card; each touched book's count moves by (present after) − (present
      // before), as one by one, and its updated_at is its last such receipt's — one statement for both.
      const final = [...lastByKey(cards, (c) => `${c.accountId} ${c.bookId} ${c.cardId}`).values()]
      const v = unnestRows(
        [
          ['account_id', 'text'],
          ['book_id', 'text'],
          ['card_id', 'text'],
          ['present', 'bool'],
          ['art_hash', 'text'],
          ['pack_id', 'text'],
          ['added_event_id', 'text'],
        ],
        final.map((c) => [c.accountId, c.bookId, c.cardId, c.added !== undefined, c.added?.artHash, c.added?.packId, c.added?.eventId]),
      )
      const t = unnestRows(
        [
          ['account_id', 'text'],
          ['book_id', 'text'],
          ['at', 'text'],
        ],
        [...touched.values()].map((b) => [b.accountId, b.bookId, b.at]),
        v.params.length + 1,
        't',
      )
      await tx.query(
        `WITH v AS (SELECT * FROM ${v.from}),
         removed AS (
           DELETE FROM pixbook_cards c USING v
           WHERE NOT v.present AND c.account_id = v.account_id AND c.book_id = v.book_id AND c.card_id = v.card_id
           RETURNING c.account_id, c.book_id
         ), added AS (
           INSERT INTO pixbook_cards (account_id, book_id, card_id, art_hash, pack_id, added_event_id)
           SELECT account_id, book_id, card_id, art_hash, pack_id, added_event_id FROM v WHERE present
           ON CONFLICT (account_id, book_id, card_id) DO UPDATE
             SET art_hash = EXCLUDED.art_hash, pack_id = EXCLUDED.pack_id, added_event_id = EXCLUDED.added_event_id
           RETURNING account_id, book_id, (xmax = 0) AS inserted
         ), delta AS (
           SELECT account_id, book_id, sum(d)::int AS d FROM (
             SELECT account_id, book_id, 1 AS d FROM added WHERE inserted
             UNION ALL SELECT account_id, book_id, -1 FROM removed
           ) x GROUP BY account_id, book_id
         )
         UPDATE pixbooks b SET card_count = b.card_count + coalesce(delta.d, 0), updated_at = t.at
         FROM ${t.from} LEFT JOIN delta ON delta.account_id = t.account_id AND delta.book_id = t.book_id
         WHERE b.account_id = t.account_id AND b.book_id = t.book_id`,
        [...v.params, ...t.params],
      )
    }
    if (packs.size) {
      const v = unnestRows(
        [
          ['account_id', 'text'],
          ['book_id', 'text'],
          ['pack_id', 'text'],
          ['series_id', 'text'],
          ['cards', 'jsonb'],
          ['issued_event_id', 'text'],
        ],
        [...packs.values()],
      )
      await tx.query(
        `INSERT INTO pixbook_packs (${v.names}) SELECT * FROM ${v.from} ON CONFLICT (account_id, book_id, pack_id) DO NOTHING`,
        v.params,
      )
    }
    if (opened.length) {
      const v = unnestRows(
        [
          ['account_id', 'text'],
          ['book_id', 'text'],
          ['pack_id', 'text'],
          ['event_id', 'text'],
          ['ord', 'int4'],
          ['issued_later', 'text'],
        ],
        opened,
      )
      await tx.query(
        `UPDATE pixbook_packs p SET opened_event_id = o.event_id FROM (
           SELECT DISTINCT ON (v.account_id, v.book_id, v.pack_id) v.* FROM ${v.from}
           JOIN pixbook_packs q ON q.account_id = v.account_id AND q.book_id = v.book_id AND q.pack_id = v.pack_id
           WHERE q.issued_event_id IS DISTINCT FROM v.issued_later
           ORDER BY v.account_id, v.book_id, v.pack_id, v.ord
         ) o
         WHERE p.account_id = o.account_id AND p.book_id = o.book_id AND p.pack_id = o.pack_id AND p.opened_event_id IS NULL`,
        v.params,
      )
    }
    if (trades.size) {
      const all = [...trades.values()]
      const v = unnestRows(
        [
          ['trade_id', 'text'],
          ['account_id', 'text'],
          ['book_id', 'text'],
          ['insert', 'bool'],
          ['role', 'text'],
          ['state', 'text'],
          ['card_id', 'text'],
          ['counterparty', 'jsonb'],
          ['last_event_id', 'text'],
        ],
        all.map((t) => [
          t.tradeId,
          t.accountId,
          t.bookId,
          t.insert !== undefined,
          t.insert?.role,
          t.state,
          t.insert?.cardId,
          t.insert?.counterparty,
          t.lastEventId,
        ]),
      )
      await tx.query(
        `WITH v AS (SELECT * FROM ${v.from}),
         cancelled AS (
           UPDATE pixbook_trades t SET state = v.state, last_event_id = v.last_event_id FROM v
           WHERE NOT v.insert AND t.account_id = v.account_id AND t.book_id = v.book_id AND t.trade_id = v.trade_id
         )
         INSERT INTO pixbook_trades (trade_id, account_id, book_id, role, state, card_id, counterparty, last_event_id)
         SELECT trade_id, account_id, book_id, role, state, card_id, counterparty, last_event_id FROM v WHERE v.insert
         ON CONFLICT (account_id, book_id, trade_id) DO UPDATE SET state = EXCLUDED.state, last_event_id = EXCLUDED.last_event_id`,
        v.params,
      )
    }
  },
}
