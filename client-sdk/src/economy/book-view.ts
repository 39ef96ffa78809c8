/**
 * A collector's book computed offline (docs/economy.md, "Offline book view"): the same view as the relay's
 * `GET /v1/pixbooks/:accountId/:bookId/collection` — owned card instances, duplicates per card, completion
 * per collection and series, pack history, trades inbox/outbox — from what the client verified and keeps:
 *
 * - the book's own stream in the local log (packs issued into it, its offers, acceptances, declines,
 *   cancels and burns);
 * - the counterpart receipts kept by `fetchCounterparts` (offers to it and their cancels, acceptances and
 *   declines of its offers, the packs of instances it received);
 * - for completion, the catalog receipts of the collections (kept with the counterparts, or the
 *   collection streams in the local log where the client follows them).
 *
 * No network. Every receipt here was accepted by the relay (delivered with a proof, or acked), so the
 * economy's rules held when it was: this replays their effect in log position order and decides nothing.
 */
import type { Receipt } from '@pixpax/shared'
import type { LocalLog } from '../storage/local-log.js'
import { bookStreamKey, type BookRef } from '../book-ref.js'
import { CounterpartStore } from './counterpart-store.js'

export type TradeViewState = 'open' | 'accepted' | 'declined' | 'cancelled' | 'expired'

export interface BookTrade {
  tradeId: string
  from: BookRef
  to: BookRef
  /** The offered card instance. */
  cardId: string
  wantCardId: string | null
  offerEventId: string
  offerHash: string
  /** `expired`: open, but past its `expiresAt` at `now`. */
  state: TradeViewState
  giveCardId: string | null
  expiresAt: string | null
}

/** The relay's collection view of a book, field for field. */
export interface BookView {
  accountId: string
  bookId: string
  instances: Array<{ instanceId: string; collectionId: string | null; cardId: string; packId: string; acquiredEventId: string }>
  cards: Array<{ collectionId: string | null; cardId: string; count: number; spares: number }>
  completion: Array<{
    collectionId: string
    owned: number
    total: number
    series: Array<{ seriesId: string; owned: number; total: number }>
  }>
  packs: Array<{
    packId: string
    dropId: string | null
    collectionId: string | null
    cards: Array<{ cardId: string; artHash: string }>
    issuedEventId: string
  }>
  trades: { inbox: BookTrade[]; outbox: BookTrade[] }
}

/** What the local data could not say: the view is exact when both are empty. */
export interface BookViewGaps {
  /** Instances the book holds whose pack is not kept (fetch the counterparts): left out of the view. */
  instances: string[]
  /** Collections the book holds cards of whose catalog is not held: left out of completion. */
  collections: string[]
}

interface Entry {
  streamKey: string
  position: number
  receipt: Receipt
}

interface Instance {
  collectionId: string | null
  cardId: string
  packId: string
}

/** Code-unit order, as the relay's Postgres (C collation) orders ids. */
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
const ref = (value: unknown): BookRef => {
  const { accountId, bookId } = value as BookRef
  return { accountId, bookId }
}

/**
 * The view of `book` from the local log and the kept counterpart receipts. `now` (default the current
 * time) only decides which open offers show as `expired`.
 */
export async function bookView(
  log: LocalLog,
  book: BookRef,
  options: { now?: Date } = {},
): Promise<{ view: BookView; gaps: BookViewGaps }> {
  const mine = bookStreamKey(book)
  const own = (await log.read(mine)).map((l) => ({
    streamKey: mine,
    position: l.position ?? l.ack?.position ?? Number.MAX_SAFE_INTEGER,
    receipt: l.receipt,
  }))
  const others = (await new CounterpartStore(log).list(book)).map((c) => ({
    streamKey: c.streamKey,
    position: c.position,
    receipt: c.receipt,
  }))
  // Stable: a stream's own receipts keep their order even where a position is unknown.
  const entries: Entry[] = [...own, ...others].sort((a, b) => a.position - b.position)
  const state = replay(entries, mine)

  const now = (options.now ?? new Date()).toISOString()
  const gaps: BookViewGaps = { instances: [], collections: [] }
  const instances: BookView['instances'] = []
  for (const [instanceId, acquiredEventId] of state.held) {
    const info = state.instances.get(instanceId)
    if (!info) {
      gaps.instances.push(instanceId)
      continue
    }
    instances.push({ instanceId, collectionId: info.collectionId, cardId: info.cardId, packId: info.packId, acquiredEventId })
  }
  instances.sort(
    (a, b) =>
      (a.collectionId === null ? 1 : 0) - (b.collectionId === null ? 1 : 0) ||
      cmp(a.collectionId ?? '', b.collectionId ?? '') ||
      cmp(a.cardId, b.cardId) ||
      cmp(a.instanceId, b.instanceId),
  )
  const cards = new Map<string, BookView['cards'][number]>()
  for (const i of instances) {
    const k = `${i.collectionId ?? ''} ${i.cardId}`
    const c = cards.get(k) ?? { collectionId: i.collectionId, cardId: i.cardId, count: 0, spares: 0 }
    c.count++
    c.spares = c.count - 1
    cards.set(k, c)
  }

  const completion: BookView['completion'] = []
  const held = new Set(instances.map((i) => `${i.collectionId} ${i.cardId}`))
  const collectionIds = [...new Set(instances.map((i) => i.collectionId).filter((c): c is string => c !== null))].sort(cmp)
  for (const collectionId of collectionIds) {
    const catalog = await collectionCards(log, others, collectionId)
    if (!catalog.length) {
      gaps.collections.push(collectionId)
      continue
    }
    const series = new Map<string, { seriesId: string; owned: number; total: number }>()
    for (const card of catalog) {
      const s = series.get(card.seriesId) ?? { seriesId: card.seriesId, owned: 0, total: 0 }
      s.total++
      if (held.has(`${collectionId} ${card.cardId}`)) s.owned++
      series.set(card.seriesId, s)
    }
    const list = [...series.values()].sort((a, b) => cmp(a.seriesId, b.seriesId))
    completion.push({
      collectionId,
      owned: list.reduce((n, s) => n + s.owned, 0),
      total: list.reduce((n, s) => n + s.total, 0),
      series: list,
    })
  }

  const trades = [...state.trades.values()].map((t) => ({
    ...t,
    state: t.state === 'open' && t.expiresAt !== null && t.expiresAt <= now ? ('expired' as const) : t.state,
  }))
  const byOffer = (a: BookTrade, b: BookTrade) => cmp(a.offerEventId, b.offerEventId)
  return {
    view: {
      accountId: book.accountId,
      bookId: book.bookId,
      instances,
      cards: [...cards.values()],
      completion,
      packs: state.packs,
      trades: {
        inbox: trades.filter((t) => bookStreamKey(t.to) === mine).sort(byOffer),
        outbox: trades.filter((t) => bookStreamKey(t.from) === mine).sort(byOffer),
      },
    },
    gaps,
  }
}

/** The effect of the receipts, in log order, on what the book holds, its packs and the trades it is in. */
function replay(entries: readonly Entry[], mine: string) {
  /** instanceId → the receipt that brought it to the book (the relay's acquiredEventId), in arrival order. */
  const held = new Map<string, string>()
  const instances = new Map<string, Instance>()
  const packs: BookView['packs'] = []
  const trades = new Map<string, Omit<BookTrade, 'state'> & { state: Exclude<TradeViewState, 'expired'> }>()
  for (const { streamKey, receipt: r } of entries) {
    const p = r.payload
    const here = streamKey === mine
    const self = { accountId: r.stream.accountId!, bookId: r.stream.bookId! }
    switch (r.type) {
      case 'PACK_ISSUED': {
        const list = p.cards as Array<{ cardId: string; artHash: string }>
        const collectionId = (p.collectionId as string | undefined) ?? null
        list.forEach((c, i) => {
          const id = `${p.packId as string}-${i}`
          instances.set(id, { collectionId, cardId: c.cardId, packId: p.packId as string })
          if (here) held.set(id, r.eventId)
        })
        if (here)
          packs.push({
            packId: p.packId as string,
            dropId: (p.drop as { dropId: string } | undefined)?.dropId ?? null,
            collectionId,
            cards: list.map((c) => ({ cardId: c.cardId, artHash: c.artHash })),
            issuedEventId: r.eventId,
          })
        break
      }
      case 'CARD_TRADE_OFFERED':
        trades.set(`${bookStreamKey(self)} ${p.tradeId as string}`, {
          tradeId: p.tradeId as string,
          from: self,
          to: ref(p.to),
          cardId: p.cardId as string,
          wantCardId: (p.wantCardId as string | undefined) ?? null,
          offerEventId: r.eventId,
          offerHash: r.hash,
          state: 'open',
          giveCardId: null,
          expiresAt: (p.expiresAt as string | undefined) ?? null,
        })
        break
      case 'CARD_TRADE_ACCEPTED': {
        const trade = trades.get(`${bookStreamKey(ref(p.from))} ${p.tradeId as string}`)
        if (!trade) break
        trade.state = 'accepted'
        const give = (p.giveCardId as string | undefined) ?? null
        trade.giveCardId = give
        // The offered instance goes to the accepter, the given one to the offerer.
        const moves: Array<[string | null, string]> = [
          [trade.cardId, bookStreamKey(self)],
          [give, bookStreamKey(trade.from)],
        ]
        for (const [instanceId, to] of moves) {
          if (instanceId === null) continue
          held.delete(instanceId)
          if (to === mine) held.set(instanceId, r.eventId)
        }
        break
      }
      case 'CARD_TRADE_DECLINED':
      case 'CARD_TRADE_CANCELLED': {
        const from = r.type === 'CARD_TRADE_DECLINED' ? ref(p.from) : self
        const trade = trades.get(`${bookStreamKey(from)} ${p.tradeId as string}`)
        if (trade) trade.state = r.type === 'CARD_TRADE_DECLINED' ? 'declined' : 'cancelled'
        break
      }
      case 'CARD_REMOVED':
        if (here) held.delete(p.cardId as string) // burns an instance (or names a free-form card: nothing held)
        break
    }
  }
  return { held, instances, packs, trades }
}

/**
 * The cards a collection published, every version: from its stream in the local log if the client follows
 * it, else from the catalog receipts kept with the counterparts (empty: neither holds it).
 */
async function collectionCards(
  log: LocalLog,
  kept: readonly Entry[],
  collectionId: string,
): Promise<Array<{ cardId: string; seriesId: string }>> {
  const key = `collection/${collectionId}`
  const logged = await log.read(key)
  const receipts: Array<{ receipt: Receipt }> = logged.length ? logged : kept.filter((e) => e.streamKey === key)
  const cards: Array<{ cardId: string; seriesId: string }> = []
  for (const l of receipts)
    if (l.receipt.type === 'COLLECTION_VERSION_PUBLISHED')
      for (const c of l.receipt.payload.cards as Array<{ cardId: string; seriesId: string }>)
        cards.push({ cardId: c.cardId, seriesId: c.seriesId })
  return cards
}
