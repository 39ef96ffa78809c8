/**
 * Supply conservation (docs/economy.md, "Supply conservation"): for every card of every collection,
 * from the accepted receipts alone, in log order — issued ≤ supply, and issued = held + burned.
 *
 * A second bookkeeping, independent of the economy's rules and facts: every card instance and the book
 * holding it — set by PACK_ISSUED, moved by CARD_TRADE_ACCEPTED (the offered instance from the offering
 * book, the given one back), cleared by a burn (CARD_REMOVED of an instance). `issued` and `burned` are
 * counted from those receipts and `held` from the instances, and a receipt that moves or burns an
 * instance its book does not hold — a double spend a broken rule let through — is a problem where it
 * happens.
 *
 * Exact on a whole log. On an export of some streams only, instances of packs outside the export are not
 * tracked, and a trade through a book outside it can show as a problem.
 */
import type { Receipt } from '../schemas.js'
import { factKey } from '../domains/facts.js'

export interface CardSupply {
  readonly collectionId: string
  readonly cardId: string
  /** null: unlimited. */
  readonly supply: number | null
  readonly issued: number
  readonly held: number
  readonly burned: number
}

export interface SupplyProblem {
  readonly eventId: string
  readonly problem: string
}

export interface SupplyReport {
  readonly ok: boolean
  /** Card instances issued into books, over every card. */
  readonly instances: number
  /** The cards failing issued ≤ supply or issued = held + burned (every card with `report(true)`). */
  readonly cards: CardSupply[]
  readonly problems: SupplyProblem[]
}

/** One card's tallies; `held` is counted from the instances at report time. */
interface Card {
  readonly collectionId: string
  readonly cardId: string
  supply: number | null
  issued: number
  burned: number
}

interface Instance {
  readonly card: Card
  /** `{accountId} {bookId}` of the book holding it; null once burned. */
  holder: string | null
}

const MAX_PROBLEMS = 1000

export class SupplyCheck {
  /** collectionId → cardId → tallies. */
  private readonly collections = new Map<string, Map<string, Card>>()
  private readonly instances = new Map<string, Instance>()
  /** `{book} {tradeId}` of the offering book → the offered instance. */
  private readonly offers = new Map<string, string>()
  private readonly problems: SupplyProblem[] = []
  private problemCount = 0
  private cardCount = 0

  /** Adds one accepted receipt (in log order). */
  add(r: Receipt): void {
    const s = r.stream
    const p = r.payload
    if (s.type === 'collection' && r.type === 'COLLECTION_VERSION_PUBLISHED') {
      for (const c of p.cards as Array<{ cardId: string; supply: number | null }>) this.card(s.collectionId!, c.cardId).supply = c.supply
      return
    }
    if (s.type !== 'pixbook') return
    switch (r.type) {
      case 'PACK_ISSUED': {
        const collectionId = p.collectionId as string | undefined
        if (!collectionId) return // free-form cards: outside any supply
        const book = factKey(s.accountId!, s.bookId!)
        const cards = p.cards as Array<{ cardId: string }>
        for (let i = 0; i < cards.length; i++) {
          const id = `${p.packId as string}-${i}`
          if (this.instances.has(id)) {
            this.problem(r, `instance ${id} issued again`)
            continue
          }
          const card = this.card(collectionId, cards[i]!.cardId)
          card.issued++
          this.instances.set(id, { card, holder: book })
        }
        return
      }
      case 'CARD_TRADE_OFFERED':
        this.offers.set(factKey(s.accountId!, s.bookId!, p.tradeId as string), p.cardId as string)
        return
      case 'CARD_TRADE_ACCEPTED': {
        const book = factKey(s.accountId!, s.bookId!)
        const from = p.from as { accountId: string; bookId: string }
        const fromBook = factKey(from.accountId, from.bookId)
        const offered = this.offers.get(factKey(fromBook, p.tradeId as string))
        if (offered === undefined) return this.problem(r, `accepts offer ${p.tradeId as string}, which is not in the log`)
        this.move(r, offered, fromBook, book)
        if (p.giveCardId) this.move(r, p.giveCardId as string, book, fromBook)
        return
      }
      case 'CARD_REMOVED': {
        const id = p.cardId as string
        const instance = this.instances.get(id)
        if (!instance) return // a free-form card, not an instance
        const book = factKey(s.accountId!, s.bookId!)
        if (instance.holder !== book) return this.problem(r, `burns instance ${id}, which book ${book.replace(' ', '/')} does not hold`)
        instance.holder = null
        instance.card.burned++
        return
      }
    }
  }

  /** Whether any card of a collection was published or issued so far. */
  hasCards(): boolean {
    return this.cardCount > 0
  }

  /** The verdict so far; `all` lists every card, not only the failing ones. */
  report(all = false): SupplyReport {
    const held = new Map<Card, number>()
    for (const { card, holder } of this.instances.values()) if (holder !== null) held.set(card, (held.get(card) ?? 0) + 1)
    const cards: CardSupply[] = []
    let ok = this.problemCount === 0
    let instances = 0
    for (const collectionId of [...this.collections.keys()].sort())
      for (const [cardId, card] of [...this.collections.get(collectionId)!].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        const c: CardSupply = {
          collectionId,
          cardId,
          supply: card.supply,
          issued: card.issued,
          held: held.get(card) ?? 0,
          burned: card.burned,
        }
        instances += c.issued
        const good = (c.supply === null || c.issued <= c.supply) && c.issued === c.held + c.burned
        if (!good) ok = false
        if (all || !good) cards.push(c)
      }
    return { ok, instances, cards, problems: [...this.problems] }
  }

  private card(collectionId: string, cardId: string): Card {
    let collection = this.collections.get(collectionId)
    if (!collection) this.collections.set(collectionId, (collection = new Map<string, Card>()))
    let card = collection.get(cardId)
    if (!card) {
      collection.set(cardId, (card = { collectionId, cardId, supply: null, issued: 0, burned: 0 }))
      this.cardCount++
    }
    return card
  }

  /** Moves an instance between books: a problem (and the move still made) when `from` does not hold it. */
  private move(r: Receipt, id: string, from: string, to: string): void {
    const instance = this.instances.get(id)
    if (!instance) return // not an instance of a collection in this log
    if (instance.holder !== from) this.problem(r, `moves instance ${id} out of book ${from.replace(' ', '/')}, which does not hold it`)
    if (instance.holder !== null) instance.holder = to
  }

  private problem(r: Receipt, problem: string): void {
    this.problemCount++
    if (this.problems.length < MAX_PROBLEMS) this.problems.push({ eventId: r.eventId, problem })
  }
}
