/**
 * A book's collection as the economy projection holds it: its card instances, duplicates (spares) per
 * card, completion per collection and per series (distinct cards held of the cards published), its pack
 * history and its trades (inbox: offers to it; outbox: its offers). An open offer past its `expiresAt`
 * shows as `expired`, computed against `now` (the log keeps it `open`: only an acceptance's createdAt
 * decides, and a decline or cancel still closes it).
 */
import type { Queryable } from '../../db/projection-db.js'

interface TradeRow {
  from_account_id: string
  from_book_id: string
  trade_id: string
  to_account_id: string
  to_book_id: string
  instance_id: string
  want_card_id: string | null
  offer_event_id: string
  offer_hash: string
  state: string
  give_instance_id: string | null
  expires_at: string | null
}

/** `open` past its expiry (RFC 3339 UTC, fixed width: string order is time order) reads `expired`. */
export const tradeViewState = (state: string, expiresAt: string | null, now: string): string =>
  state === 'open' && expiresAt !== null && expiresAt <= now ? 'expired' : state

const trade = (now: string) => (t: TradeRow) => ({
  tradeId: t.trade_id,
  from: { accountId: t.from_account_id, bookId: t.from_book_id },
  to: { accountId: t.to_account_id, bookId: t.to_book_id },
  cardId: t.instance_id,
  wantCardId: t.want_card_id,
  offerEventId: t.offer_event_id,
  offerHash: t.offer_hash,
  state: tradeViewState(t.state, t.expires_at, now),
  giveCardId: t.give_instance_id,
  expiresAt: t.expires_at,
})

export async function bookView(db: Queryable, accountId: string, bookId: string, now: Date = new Date()) {
  const book = [accountId, bookId]
  const instances = await db.query<{
    instance_id: string
    collection_id: string | null
    card_id: string
    pack_id: string
    acquired_event_id: string
  }>(
    `SELECT instance_id, collection_id, card_id, pack_id, acquired_event_id FROM economy_instances
     WHERE account_id = $1 AND book_id = $2 AND burned_event_id IS NULL ORDER BY collection_id NULLS LAST, card_id, instance_id`,
    book,
  )
  const cards = new Map<string, { collectionId: string | null; cardId: string; count: number }>()
  for (const i of instances.rows) {
    const k = `${i.collection_id ?? ''} ${i.card_id}`
    const c = cards.get(k) ?? { collectionId: i.collection_id, cardId: i.card_id, count: 0 }
    c.count++
    cards.set(k, c)
  }
  const completion = await db.query<{ collection_id: string; series_id: string; total: number; owned: number }>(
    `SELECT c.collection_id, c.series_id, count(*)::int AS total,
            count(*) FILTER (WHERE EXISTS (SELECT 1 FROM economy_instances i WHERE i.account_id = $1 AND i.book_id = $2 AND i.burned_event_id IS NULL
                                           AND i.collection_id = c.collection_id AND i.card_id = c.card_id))::int AS owned
     FROM economy_cards c
     WHERE c.collection_id IN (SELECT DISTINCT collection_id FROM economy_instances WHERE account_id = $1 AND book_id = $2 AND burned_event_id IS NULL)
     GROUP BY c.collection_id, c.series_id ORDER BY c.collection_id, c.series_id`,
    book,
  )
  const collections = new Map<
    string,
    { collectionId: string; owned: number; total: number; series: Array<{ seriesId: string; owned: number; total: number }> }
  >()
  for (const r of completion.rows) {
    const c = collections.get(r.collection_id) ?? { collectionId: r.collection_id, owned: 0, total: 0, series: [] }
    c.owned += r.owned
    c.total += r.total
    c.series.push({ seriesId: r.series_id, owned: r.owned, total: r.total })
    collections.set(r.collection_id, c)
  }
  const packs = await db.query<{
    pack_id: string
    drop_id: string | null
    collection_id: string | null
    cards: unknown
    issued_event_id: string
  }>(
    'SELECT pack_id, drop_id, collection_id, cards, issued_event_id FROM economy_packs WHERE account_id = $1 AND book_id = $2 ORDER BY position',
    book,
  )
  const outbox = await db.query<TradeRow>(
    'SELECT * FROM economy_trades WHERE from_account_id = $1 AND from_book_id = $2 ORDER BY offer_event_id',
    book,
  )
  const inbox = await db.query<TradeRow>(
    'SELECT * FROM economy_trades WHERE to_account_id = $1 AND to_book_id = $2 ORDER BY offer_event_id',
    book,
  )
  return {
    accountId,
    bookId,
    instances: instances.rows.map((i) => ({
      instanceId: i.instance_id,
      collectionId: i.collection_id,
      cardId: i.card_id,
      packId: i.pack_id,
      acquiredEventId: i.acquired_event_id,
    })),
    cards: [...cards.values()].map((c) => ({ ...c, spares: c.count - 1 })),
    completion: [...collections.values()],
    packs: packs.rows.map((p) => ({
      packId: p.pack_id,
      dropId: p.drop_id,
      collectionId: p.collection_id,
      cards: typeof p.cards === 'string' ? (JSON.parse(p.cards) as unknown) : p.cards,
      issuedEventId: p.issued_event_id,
    })),
    trades: { inbox: inbox.rows.map(trade(now.toISOString())), outbox: outbox.rows.map(trade(now.toISOString())) },
  }
}
