/**
 * The collector's book as the pixbook screen shows it: computed on this device with the SDK's
 * `bookView` from the verified local log and the kept counterpart receipts, so it renders offline. When
 * a session can be had, the counterparts (offers to the book, answers to its offers, the catalog) are
 * fetched and verified first (`fetchCounterparts`); offline the last kept ones are used. Receipts still
 * in the outbox are not in the view (the relay has not accepted them yet): they are listed as pending.
 */
import { bookView, CounterpartStore, fetchCounterparts, type BookView, type BookViewGaps, type OutboxEntry } from '@pixpax/client-sdk'
import { useEffect, useState } from 'preact/hooks'
import { useStore } from '../app/store.js'
import { changes, identityState, localLogAndClient, token } from '../identity/identity-session.js'

/** A pixbook: `pixbook/{accountId}/{bookId}`. */
export interface BookRef {
  accountId: string
  bookId: string
}

export interface BookData {
  view: BookView
  gaps: BookViewGaps
  /** Our receipts in the book's stream not yet accepted by the relay (queued, sent or refused). */
  pending: OutboxEntry[]
  /** Why the counterparts could not be refreshed just now (offline, refused); the view is the kept one. */
  stale?: string
  /** Counterpart receipts the relay served that did not verify (not kept). */
  refused: number
  /** The catalog cards as the kept (verified) catalog receipts name them, by card id: works offline. */
  catalog: Map<string, CatalogCard>
}

export interface CatalogCard {
  collectionId: string
  cardId: string
  seriesId: string
  name: string
}

/** Every card the kept COLLECTION_VERSION_PUBLISHED receipts name (a later version's name wins). */
async function keptCatalog(book: BookRef): Promise<Map<string, CatalogCard>> {
  const local = localLogAndClient()
  const cards = new Map<string, CatalogCard>()
  if (!local) return cards
  for (const c of await new CounterpartStore(local.log).list(book)) {
    if (c.receipt.type !== 'COLLECTION_VERSION_PUBLISHED') continue
    const collectionId = c.streamKey.slice('collection/'.length)
    for (const card of c.receipt.payload.cards as Array<{ cardId: string; seriesId: string; name: string }>)
      cards.set(card.cardId, { collectionId, cardId: card.cardId, seriesId: card.seriesId, name: card.name })
  }
  return cards
}

export const bookKeyOf = (book: BookRef): string => `pixbook/${book.accountId}/${book.bookId}`

/** Brings in the identity streams the counterparts' signatures need (other collectors, the issuer). */
function followIdentities(ids: string[]): Promise<void> {
  const c = localLogAndClient()?.client
  if (!c) return Promise.resolve()
  for (const id of ids) c.follow(`identity/${id}`)
  return c.whenSynced(15_000).catch(() => undefined)
}

/**
 * One refresh per book at a time: a tick that comes while one runs waits for it and then runs one more
 * (what changed may have reached the relay after the running fetch read it); further ticks share that.
 */
const running = new Map<string, Promise<unknown>>()
const next = new Map<string, Promise<{ stale?: string; refused: number }>>()

function refreshCounterparts(book: BookRef): Promise<{ stale?: string; refused: number }> {
  const key = bookKeyOf(book)
  const queuedNext = next.get(key)
  if (queuedNext) return queuedNext
  const current = running.get(key)
  const start = (): Promise<{ stale?: string; refused: number }> => {
    next.delete(key)
    const p = fetchAndKeep(book).finally(() => running.get(key) === p && running.delete(key))
    running.set(key, p)
    return p
  }
  if (!current) return start()
  const p = current.then(start, start)
  next.set(key, p)
  return p
}

async function fetchAndKeep(book: BookRef): Promise<{ stale?: string; refused: number }> {
  const local = localLogAndClient()
  if (!local) return { stale: 'no local log', refused: 0 }
  if (!navigator.onLine) return { stale: 'You are offline: this is the book as this device last verified it.', refused: 0 }
  const t = await token()
  if (!t) return { stale: 'Not signed in to the relay: this is the book as this device last verified it.', refused: 0 }
  try {
    const result = await fetchCounterparts({ relayUrl: location.origin, token: t, book, log: local.log, identities: followIdentities })
    return { refused: result.refused.length }
  } catch (error) {
    return { stale: `Could not refresh from the relay (${(error as Error).message}): showing the kept book.`, refused: 0 }
  }
}

/** The book of `book`, recomputed whenever the local log, the outbox or the relay's log changed. */
export function useBook(book: BookRef | undefined): BookData | undefined {
  const tick = useStore(changes)
  const state = useStore(identityState)
  const [data, setData] = useState<BookData | undefined>()
  const key = book ? bookKeyOf(book) : undefined
  useEffect(() => {
    if (!book || state.phase !== 'ready') return
    let cancelled = false
    const compute = async (extra: { stale?: string; refused: number }) => {
      const local = localLogAndClient()
      if (!local || cancelled) return
      const [{ view, gaps }, catalog] = await Promise.all([bookView(local.log, book), keptCatalog(book)])
      const pending = local.client.pending().filter((e) => e.streamKey === key && e.state !== 'acked')
      if (!cancelled) setData({ view, gaps, pending, catalog, ...extra })
    }
    // The kept book first (instant, offline too), then again once the counterparts are refreshed.
    void compute({ refused: 0 }).then(() => refreshCounterparts(book).then((extra) => compute(extra)))
    return () => {
      cancelled = true
    }
  }, [key, tick, state.phase])
  return data
}
