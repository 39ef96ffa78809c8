/**
 * The economy projector (inline): collections, series, cards and their issued counts, drops, packs,
 * card instances and trades. The receipts it sees passed the economy's cross-stream rules, so each batch
 * is folded in memory to the final state of every row it touches — an instance issued and traded in one
 * batch is inserted once, with its last holder — and written with one multi-row statement per table.
 * What it writes is what the fact loaders (facts.ts) read, so it must agree with the rules' `record`.
 */
import type { Queryable } from '../../db/projection-db.js'
import { unnestRows, type ProjectedReceipt, type Projector } from '../../projection/projector.js'

type Book = { accountId: string; bookId: string }
type Payload = Record<string, unknown>

interface InstanceRow {
  collectionId: string | null
  cardId: string
  packId: string
  accountId: string
  bookId: string
  acquiredEventId: string
  burnedEventId?: string | null
}
interface TradeRow {
  from: Book
  tradeId: string
  to: Book
  instanceId: string
  wantCardId: string | null
  offerEventId: string
  offerHash: string
  state: string
  giveInstanceId: string | null
  closedEventId: string | null
  expiresAt: string | null
}

/** Rows the batch creates (written whole) and changes to rows that already exist (written as updates). */
class Fold<T> {
  readonly created = new Map<string, T>()
  readonly updated = new Map<string, Partial<T>>()
  change(key: string, change: Partial<T>): void {
    const row = this.created.get(key)
    if (row) Object.assign(row as object, change)
    else this.updated.set(key, { ...this.updated.get(key), ...change })
  }
}

const key = (...ids: string[]): string => ids.join(' ')

export const economyProjector: Projector = {
  name: 'economy',
  mode: 'inline',
  tables: [
    { name: 'economy_collections', orderBy: 'collection_id' },
    { name: 'economy_series', orderBy: 'collection_id, series_id' },
    { name: 'economy_cards', orderBy: 'collection_id, card_id' },
    { name: 'economy_drops', orderBy: 'drop_id' },
    { name: 'economy_packs', orderBy: 'pack_id' },
    { name: 'economy_instances', orderBy: 'instance_id' },
    { name: 'economy_trades', orderBy: 'from_account_id, from_book_id, trade_id' },
    { name: 'economy_code_revocations', orderBy: 'collection_id, code_id' },
  ],
  async apply(tx: Queryable, batch: readonly ProjectedReceipt[]): Promise<void> {
    const collections: unknown[][] = []
    const versions = new Map<string, number>()
    const series: unknown[][] = []
    const retired: unknown[][] = []
    const cards: unknown[][] = []
    const issued = new Map<string, number>()
    const drops: unknown[][] = []
    const reveals: unknown[][] = []
    const packs: unknown[][] = []
    const revocations: unknown[][] = []
    /** CARD_REMOVED of stored rows (instance id → event id); a batch's own instances burn in the fold. */
    const burns = new Map<string, string>()
    const burnedHere = new Map<string, number>()
    const instances = new Fold<InstanceRow>()
    const trades = new Fold<TradeRow>()
    const offeredBefore = await storedOffers(tx, batch)
    for (const { receipt: r, position } of batch) {
      const p = r.payload as Payload
      const s = r.stream
      switch (r.type) {
        case 'COLLECTION_CREATED':
          collections.push([s.collectionId, r.issuer.identityId, p.name, p.description ?? null, JSON.stringify(p.palette), r.eventId])
          break
        case 'COLLECTION_VERSION_PUBLISHED': {
          const v = p.version as number
          versions.set(s.collectionId!, v)
          for (const x of p.series as Array<{ seriesId: string; name: string }>) series.push([s.collectionId, x.seriesId, x.name, v])
          for (const c of p.cards as Array<{ cardId: string; seriesId: string; name: string; art: string; supply: number | null }>)
            cards.push([s.collectionId, c.cardId, c.seriesId, c.name, c.art, c.supply, v])
          break
        }
        case 'SERIES_RETIRED':
          retired.push([s.collectionId, p.seriesId, r.eventId])
          break
        case 'CODE_REVOKED':
          revocations.push([s.collectionId, p.codeId, p.reason ?? null, r.eventId])
          break
        case 'DROP_SCHEDULED':
          drops.push([
            s.dropId,
            r.issuer.identityId,
            p.collectionId,
            p.version,
            JSON.stringify(p.series),
            p.packSize,
            p.commitment,
            p.opensAt,
            p.closesAt,
            r.eventId,
          ])
          break
        case 'DROP_REVEALED':
          reveals.push([s.dropId, p.seed, r.eventId])
          break
        case 'PACK_ISSUED': {
          if (s.type !== 'pixbook') break
          const packId = p.packId as string
          const collectionId = (p.collectionId as string | undefined) ?? null
          const drop = p.drop as { dropId: string; collector: string; ticket: string } | undefined
          const list = p.cards as Array<{ cardId: string; artHash: string }>
          packs.push([
            packId,
            s.accountId,
            s.bookId,
            collectionId,
            drop?.dropId ?? null,
            drop?.collector ?? null,
            drop?.ticket ?? null,
            JSON.stringify(list),
            r.eventId,
            position,
            (p.code as { codeId: string } | undefined)?.codeId ?? null,
          ])
          list.forEach((c, i) => {
            const id = `${packId}-${i}`
            instances.created.set(id, {
              collectionId,
              cardId: c.cardId,
              packId,
              accountId: s.accountId!,
              bookId: s.bookId!,
              acquiredEventId: r.eventId,
            })
            if (collectionId) issued.set(key(collectionId, c.cardId), (issued.get(key(collectionId, c.cardId)) ?? 0) + 1)
          })
          break
        }
        case 'CARD_TRADE_OFFERED': {
          const from = { accountId: s.accountId!, bookId: s.bookId! }
          trades.created.set(key(from.accountId, from.bookId, p.tradeId as string), {
            from,
            tradeId: p.tradeId as string,
            to: p.to as Book,
            instanceId: p.cardId as string,
            wantCardId: (p.wantCardId as string | undefined) ?? null,
            offerEventId: r.eventId,
            offerHash: r.hash,
            state: 'open',
            giveInstanceId: null,
            closedEventId: null,
            expiresAt: (p.expiresAt as string | undefined) ?? null,
          })
          break
        }
        case 'CARD_TRADE_ACCEPTED': {
          const from = p.from as Book
          const tk = key(from.accountId, from.bookId, p.tradeId as string)
          const give = (p.giveCardId as string | undefined) ?? null
          trades.change(tk, { state: 'accepted', giveInstanceId: give, closedEventId: r.eventId })
          const offered = trades.created.get(tk)?.instanceId ?? offeredBefore.get(tk)!
          instances.change(offered, { accountId: s.accountId!, bookId: s.bookId!, acquiredEventId: r.eventId })
          if (give) instances.change(give, { accountId: from.accountId, bookId: from.bookId, acquiredEventId: r.eventId })
          break
        }
        case 'CARD_REMOVED': {
          // An instance id burns the instance (the rule checked its holder); any other id is a
          // free-form card of the book, and the UPDATE below finds no row for it.
          if (s.type !== 'pixbook') break
          const id = p.cardId as string
          const created = instances.created.get(id)
          if (created) {
            created.burnedEventId = r.eventId
            if (created.collectionId)
              burnedHere.set(
                key(created.collectionId, created.cardId),
                (burnedHere.get(key(created.collectionId, created.cardId)) ?? 0) + 1,
              )
          } else burns.set(id, r.eventId)
          break
        }
        case 'CARD_TRADE_DECLINED':
        case 'CARD_TRADE_CANCELLED': {
          const from = r.type === 'CARD_TRADE_DECLINED' ? (p.from as Book) : { accountId: s.accountId!, bookId: s.bookId! }
          trades.change(key(from.accountId, from.bookId, p.tradeId as string), {
            state: r.type === 'CARD_TRADE_DECLINED' ? 'declined' : 'cancelled',
            closedEventId: r.eventId,
          })
          break
        }
      }
    }
    await writeCollections(tx, collections, versions, series, retired, cards, issued)
    await writeDrops(tx, drops, reveals)
    await writePacks(tx, packs)
    await writeRevocations(tx, revocations)
    await writeTrades(tx, trades)
    await writeInstances(tx, instances)
    await writeBurns(tx, burns, burnedHere)
  },
}

/** The instance each stored trade that this batch accepts offered (trade key → instance id). */
async function storedOffers(tx: Queryable, batch: readonly ProjectedReceipt[]): Promise<Map<string, string>> {
  const keys = batch
    .filter((b) => b.receipt.type === 'CARD_TRADE_ACCEPTED' && b.receipt.stream.type === 'pixbook')
    .map(({ receipt: r }) => {
      const from = r.payload.from as Book
      return key(from.accountId, from.bookId, r.payload.tradeId as string)
    })
  if (!keys.length) return new Map()
  const { rows } = await tx.query<{ k: string; instance_id: string }>(
    `SELECT q.k, t.instance_id FROM unnest($1::text[]) AS q(k)
     JOIN economy_trades t ON t.from_account_id = split_part(q.k, ' ', 1) AND t.from_book_id = split_part(q.k, ' ', 2)
       AND t.trade_id = split_part(q.k, ' ', 3)`,
    [keys],
  )
  return new Map(rows.map((r) => [r.k, r.instance_id]))
}

async function writeCollections(
  tx: Queryable,
  collections: unknown[][],
  versions: Map<string, number>,
  series: unknown[][],
  retired: unknown[][],
  cards: unknown[][],
  issued: Map<string, number>,
): Promise<void> {
  if (collections.length) {
    const v = unnestRows(
      [
        ['collection_id', 'text'],
        ['owner_identity_id', 'text'],
        ['name', 'text'],
        ['description', 'text'],
        ['palette', 'jsonb'],
        ['created_event_id', 'text'],
      ],
      collections,
    )
    await tx.query(`INSERT INTO economy_collections (${v.names}, version) SELECT ${v.names}, 0 FROM ${v.from}`, v.params)
  }
  if (versions.size) {
    const v = unnestRows(
      [
        ['collection_id', 'text'],
        ['version', 'int4'],
      ],
      [...versions],
    )
    await tx.query(`UPDATE economy_collections c SET version = v.version FROM ${v.from} WHERE c.collection_id = v.collection_id`, v.params)
  }
  if (series.length) {
    const v = unnestRows(
      [
        ['collection_id', 'text'],
        ['series_id', 'text'],
        ['name', 'text'],
        ['version', 'int4'],
      ],
      series,
    )
    await tx.query(`INSERT INTO economy_series (${v.names}) SELECT * FROM ${v.from}`, v.params)
  }
  if (retired.length) {
    const v = unnestRows(
      [
        ['collection_id', 'text'],
        ['series_id', 'text'],
        ['event_id', 'text'],
      ],
      retired,
    )
    await tx.query(
      `UPDATE economy_series s SET retired_event_id = v.event_id FROM ${v.from} WHERE s.collection_id = v.collection_id AND s.series_id = v.series_id`,
      v.params,
    )
  }
  if (cards.length) {
    const v = unnestRows(
      [
        ['collection_id', 'text'],
        ['card_id', 'text'],
        ['series_id', 'text'],
        ['name', 'text'],
        ['art', 'text'],
        ['supply', 'int8'],
        ['version', 'int4'],
      ],
      cards,
    )
    await tx.query(`INSERT INTO economy_cards (${v.names}, issued) SELECT ${v.names}, 0 FROM ${v.from}`, v.params)
  }
  if (issued.size) {
    const v = unnestRows(
      [
        ['k', 'text'],
        ['n', 'int8'],
      ],
      [...issued],
    )
    await tx.query(
      `UPDATE economy_cards c SET issued = c.issued + v.n FROM ${v.from}
       WHERE c.collection_id = split_part(v.k, ' ', 1) AND c.card_id = split_part(v.k, ' ', 2)`,
      v.params,
    )
  }
}

async function writeDrops(tx: Queryable, drops: unknown[][], reveals: unknown[][]): Promise<void> {
  if (drops.length) {
    const v = unnestRows(
      [
        ['drop_id', 'text'],
        ['owner_identity_id', 'text'],
        ['collection_id', 'text'],
        ['version', 'int4'],
        ['series', 'jsonb'],
        ['pack_size', 'int4'],
        ['commitment', 'text'],
        ['opens_at', 'text'],
        ['closes_at', 'text'],
        ['scheduled_event_id', 'text'],
      ],
      drops,
    )
    await tx.query(`INSERT INTO economy_drops (${v.names}) SELECT * FROM ${v.from}`, v.params)
  }
  if (reveals.length) {
    const v = unnestRows(
      [
        ['drop_id', 'text'],
        ['seed', 'text'],
        ['event_id', 'text'],
      ],
      reveals,
    )
    await tx.query(
      `UPDATE economy_drops d SET seed = v.seed, revealed_event_id = v.event_id FROM ${v.from} WHERE d.drop_id = v.drop_id`,
      v.params,
    )
  }
}

async function writePacks(tx: Queryable, packs: unknown[][]): Promise<void> {
  if (!packs.length) return
  const v = unnestRows(
    [
      ['pack_id', 'text'],
      ['account_id', 'text'],
      ['book_id', 'text'],
      ['collection_id', 'text'],
      ['drop_id', 'text'],
      ['collector', 'text'],
      ['ticket', 'text'],
      ['cards', 'jsonb'],
      ['issued_event_id', 'text'],
      ['position', 'int8'],
      ['code_id', 'text'],
    ],
    packs,
  )
  await tx.query(`INSERT INTO economy_packs (${v.names}) SELECT * FROM ${v.from}`, v.params)
}

async function writeRevocations(tx: Queryable, revocations: unknown[][]): Promise<void> {
  if (!revocations.length) return
  const v = unnestRows(
    [
      ['collection_id', 'text'],
      ['code_id', 'text'],
      ['reason', 'text'],
      ['event_id', 'text'],
    ],
    revocations,
  )
  await tx.query(`INSERT INTO economy_code_revocations (${v.names}) SELECT * FROM ${v.from}`, v.params)
}

async function writeTrades(tx: Queryable, trades: Fold<TradeRow>): Promise<void> {
  if (trades.created.size) {
    const v = unnestRows(
      [
        ['from_account_id', 'text'],
        ['from_book_id', 'text'],
        ['trade_id', 'text'],
        ['to_account_id', 'text'],
        ['to_book_id', 'text'],
        ['instance_id', 'text'],
        ['want_card_id', 'text'],
        ['offer_event_id', 'text'],
        ['offer_hash', 'text'],
        ['state', 'text'],
        ['give_instance_id', 'text'],
        ['closed_event_id', 'text'],
        ['expires_at', 'text'],
      ],
      [...trades.created.values()].map((t) => [
        t.from.accountId,
        t.from.bookId,
        t.tradeId,
        t.to.accountId,
        t.to.bookId,
        t.instanceId,
        t.wantCardId,
        t.offerEventId,
        t.offerHash,
        t.state,
        t.giveInstanceId,
        t.closedEventId,
        t.expiresAt,
      ]),
    )
    await tx.query(`INSERT INTO economy_trades (${v.names}) SELECT * FROM ${v.from}`, v.params)
  }
  if (trades.updated.size) {
    const v = unnestRows(
      [
        ['k', 'text'],
        ['state', 'text'],
        ['give_instance_id', 'text'],
        ['closed_event_id', 'text'],
      ],
      [...trades.updated].map(([k, t]) => [k, t.state, t.giveInstanceId ?? null, t.closedEventId]),
    )
    await tx.query(
      `UPDATE economy_trades t SET state = v.state, give_instance_id = v.give_instance_id, closed_event_id = v.closed_event_id
       FROM ${v.from}
       WHERE t.from_account_id = split_part(v.k, ' ', 1) AND t.from_book_id = split_part(v.k, ' ', 2) AND t.trade_id = split_part(v.k, ' ', 3)`,
      v.params,
    )
  }
}

async function writeInstances(tx: Queryable, instances: Fold<InstanceRow>): Promise<void> {
  if (instances.created.size) {
    const v = unnestRows(
      [
        ['instance_id', 'text'],
        ['collection_id', 'text'],
        ['card_id', 'text'],
        ['pack_id', 'text'],
        ['account_id', 'text'],
        ['book_id', 'text'],
        ['acquired_event_id', 'text'],
        ['burned_event_id', 'text'],
      ],
      [...instances.created].map(([id, i]) => [
        id,
        i.collectionId,
        i.cardId,
        i.packId,
        i.accountId,
        i.bookId,
        i.acquiredEventId,
        i.burnedEventId ?? null,
      ]),
    )
    await tx.query(`INSERT INTO economy_instances (${v.names}) SELECT * FROM ${v.from}`, v.params)
  }
  if (instances.updated.size) {
    const v = unnestRows(
      [
        ['k', 'text'],
        ['account_id', 'text'],
        ['book_id', 'text'],
        ['acquired_event_id', 'text'],
      ],
      [...instances.updated].map(([k, i]) => [k, i.accountId, i.bookId, i.acquiredEventId]),
    )
    await tx.query(
      `UPDATE economy_instances i SET account_id = v.account_id, book_id = v.book_id, acquired_event_id = v.acquired_event_id
       FROM ${v.from} WHERE i.instance_id = v.k`,
      v.params,
    )
  }
}

/** Burns stored instances and counts every burned instance on its card. */
async function writeBurns(tx: Queryable, burns: Map<string, string>, burned: Map<string, number>): Promise<void> {
  if (burns.size) {
    const v = unnestRows(
      [
        ['k', 'text'],
        ['event_id', 'text'],
      ],
      [...burns],
    )
    const { rows } = await tx.query<{ collection_id: string | null; card_id: string }>(
      `UPDATE economy_instances i SET burned_event_id = v.event_id FROM ${v.from}
       WHERE i.instance_id = v.k AND i.burned_event_id IS NULL RETURNING i.collection_id, i.card_id`,
      v.params,
    )
    for (const r of rows)
      if (r.collection_id) burned.set(key(r.collection_id, r.card_id), (burned.get(key(r.collection_id, r.card_id)) ?? 0) + 1)
  }
  if (!burned.size) return
  const v = unnestRows(
    [
      ['k', 'text'],
      ['n', 'int8'],
    ],
    [...burned],
  )
  await tx.query(
    `UPDATE economy_cards c SET burned = c.burned + v.n FROM ${v.from}
     WHERE c.collection_id = split_part(v.k, ' ', 1) AND c.card_id = split_part(v.k, ' ', 2)`,
    v.params,
  )
}
