/**
 * Supply conservation (docs/economy.md, "Supply conservation"): for every card of every collection,
 * from the accepted receipts alone, in log order — issued ≤ supply, and issued = held + burned.
 *
 * A second bookkeeping, independent of the economy's rules and facts: each book's set of card instances,
 * filled by PACK_ISSUED, moved by CARD_TRADE_ACCEPTED (the offered instance from the offering book, the
 * given one back), emptied by a burn (CARD_REMOVED of an instance). Held is counted from the books' sets,
 * so a receipt that moved an instance its book did not hold — a double spend a broken rule let through —
 * shows as an instance in two books (held > issued − burned), and is listed as a problem where it happens.
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

interface Instance {
  /** `{collectionId} {cardId}`. */
  readonly card: string
}

const MAX_PROBLEMS = 1000

export class SupplyCheck {
  private readonly supply = new Map<string, number | null>()
  private readonly issued = new Map<string, number>()
  private readonly burned = new Map<string, number>()
  private readonly instances = new Map<string, Instance>()
  /** Instance ids per book. */
  private readonly books = new Map<string, Set<string>>()
  /** `{book} {tradeId}` of the offering book → the offered instance. */
  private readonly offers = new Map<string, string>()
  private readonly problems: SupplyProblem[] = []
  private problemCount = 0

  /** Adds one accepted receipt (in log order). */
  add(r: Receipt): void {
    const s = r.stream
    const p = r.payload
    if (s.type === 'collection' && r.type === 'COLLECTION_VERSION_PUBLISHED') {
      for (const c of p.cards as Array<{ cardId: string; supply: number | null }>)
        this.supply.set(factKey(s.collectionId!, c.cardId), c.supply)
      return
    }
    if (s.type !== 'pixbook') return
    const book = factKey(s.accountId!, s.bookId!)
    switch (r.type) {
      case 'PACK_ISSUED': {
        const collectionId = p.collectionId as string | undefined
        if (!collectionId) return // free-form cards: outside any supply
        ;(p.cards as Array<{ cardId: string }>).forEach((c, i) => {
          const id = `${p.packId as string}-${i}`
          const card = factKey(collectionId, c.cardId)
          if (this.instances.has(id)) return this.problem(r, `instance ${id} issued again`)
          this.instances.set(id, { card })
          this.bookSet(book).add(id)
          this.issued.set(card, (this.issued.get(card) ?? 0) + 1)
        })
        return
      }
      case 'CARD_TRADE_OFFERED':
        this.offers.set(factKey(book, p.tradeId as string), p.cardId as string)
        return
      case 'CARD_TRADE_ACCEPTED': {
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
        if (!this.bookSet(book).delete(id)) this.problem(r, `burns instance ${id}, which book ${book.replace(' ', '/')} does not hold`)
        this.burned.set(instance.card, (this.burned.get(instance.card) ?? 0) + 1)
        return
      }
    }
  }

  /** Whether any card of a collection was published or issued so far. */
  hasCards(): boolean {
    return this.supply.size > 0 || this.issued.size > 0
  }

  /** The verdict so far; `all` lists every card, not only the failing ones. */
  report(all = false): SupplyReport {
    const held = new Map<string, number>()
    for (const ids of this.books.values())
      for (const id of ids) {
        const card = this.instances.get(id)!.card
        held.set(card, (held.get(card) ?? 0) + 1)
      }
    const cards: CardSupply[] = []
    let ok = this.problemCount === 0
    const keys = new Set([...this.supply.keys(), ...this.issued.keys()])
    for (const key of [...keys].sort()) {
      const [collectionId, cardId] = key.split(' ') as [string, string]
      const supply = this.supply.get(key) ?? null
      const c = {
        collectionId,
        cardId,
        supply,
        issued: this.issued.get(key) ?? 0,
        held: held.get(key) ?? 0,
        burned: this.burned.get(key) ?? 0,
      }
      const good = (c.supply === null || c.issued <= c.supply) && c.issued === c.held + c.burned
      if (!good) ok = false
      if (all || !good) cards.push(c)
    }
    let instances = 0
    for (const n of this.issued.values()) instances += n
    return { ok, instances, cards, problems: [...this.problems] }
  }

  private move(r: Receipt, id: string, from: string, to: string): void {
    if (!this.instances.has(id)) return // not an instance of a collection in this log
    if (!this.bookSet(from).delete(id))
      this.problem(r, `moves instance ${id} out of book ${from.replace(' ', '/')}, which does not hold it`)
    this.bookSet(to).add(id)
  }

  private bookSet(book: string): Set<string> {
    let set = this.books.get(book)
    if (!set) this.books.set(book, (set = new Set()))
    return set
  }

  private problem(r: Receipt, problem: string): void {
    this.problemCount++
    if (this.problems.length < MAX_PROBLEMS) this.problems.push({ eventId: r.eventId, problem })
  }
}
