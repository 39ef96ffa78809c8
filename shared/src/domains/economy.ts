/**
 * The economy domain (ARCHITECTURE §9, docs/economy.md): collections and drops, issued by platform-issuer
 * identities in their own streams, and the cross-stream rules that make packs fair and trades safe.
 *
 * - `collection/{collectionId}`: COLLECTION_CREATED (name, 16-colour palette), then immutable versions
 *   (COLLECTION_VERSION_PUBLISHED adds series and cards, each card's art a content-addressed blob and
 *   its print supply) and SERIES_RETIRED.
 * - `drop/{dropId}`: DROP_SCHEDULED (the catalog of the drop and the commitment sha256(seed)), then
 *   DROP_REVEALED (the seed).
 * - In pixbooks (declared by the pixbook domain, ruled here): PACK_ISSUED, CARD_TRADE_*.
 *
 * Every rule is decided from `log` facts, so an offline verifier replaying a whole log in log order
 * decides exactly as the relay did at acceptance.
 */
import { z } from 'zod'
import { PixpaxError } from '../errors.js'
import {
  cardInstanceId,
  derivePack,
  dropPackId,
  inSupply,
  rankCatalog,
  seedCommitment,
  walkRanking,
  type CatalogCard,
  type IssuedCount,
} from '../economy/derive-pack.js'
import { codePackId, codeTicket, deriveCodeCards, parseCodeToken, type CodeClaims } from '../economy/code-token.js'
import { CreatedAtSchema, IdSchema, Sha256RefSchema } from '../schemas.js'
import type { CheckedReceipt } from '../receipt.js'
import type { IssuerRole } from '../streams.js'
import {
  text,
  type CrossStreamRule,
  type DomainModule,
  type DomainStreamType,
  type FactChange,
  type FactRef,
  type FactView,
} from './domain.js'
import { factKey } from './facts.js'

// ------------------------------------------------------------------------------------------------
// Payloads

export const PaletteSchema = z.array(z.string().regex(/^#[0-9a-f]{6}$/, 'a colour #rrggbb (lowercase hex)')).length(16)

export const CollectionCreatedPayload = z.strictObject({
  name: text(100),
  description: text(2000).optional(),
  palette: PaletteSchema,
})

const unique = <T>(items: readonly T[], key: (item: T) => string): boolean => new Set(items.map(key)).size === items.length

export const CollectionCardSchema = z.strictObject({
  cardId: IdSchema,
  seriesId: IdSchema,
  name: text(100),
  /** The card's 128-byte art blob (docs/economy.md, "Card art"). */
  art: Sha256RefSchema,
  /** How many may ever be issued; null: unlimited. */
  supply: z.number().int().min(1).max(1_000_000_000).nullable(),
})
export const SeriesSchema = z.strictObject({ seriesId: IdSchema, name: text(100) })

export const CollectionVersionPublishedPayload = z.strictObject({
  version: z.number().int().min(1).max(1_000_000),
  series: z
    .array(SeriesSchema)
    .max(64)
    .refine((s) => unique(s, (x) => x.seriesId), 'series ids must be unique'),
  cards: z
    .array(CollectionCardSchema)
    .max(256)
    .refine((c) => unique(c, (x) => x.cardId), 'card ids must be unique'),
  note: text(500).optional(),
})
export const SeriesRetiredPayload = z.strictObject({ seriesId: IdSchema })

export const DropScheduledPayload = z
  .strictObject({
    collectionId: IdSchema,
    /** The collection version whose cards (of `series`) make the drop's catalog. */
    version: z.number().int().min(1).max(1_000_000),
    series: z
      .array(IdSchema)
      .min(1)
      .max(64)
      .refine((s) => unique(s, (x) => x), 'series ids must be unique'),
    packSize: z.number().int().min(1).max(20),
    /** `"sha256:" + hex(SHA-256(seed bytes))`. */
    commitment: Sha256RefSchema,
    opensAt: CreatedAtSchema,
    closesAt: CreatedAtSchema,
  })
  .refine((p) => p.opensAt < p.closesAt, { message: 'opensAt must be before closesAt', path: ['closesAt'] })
export const DropRevealedPayload = z.strictObject({ seed: z.string().regex(/^[A-Za-z0-9_-]{43}$/, '32 bytes, unpadded base64url') })

/** The drop fields of a PACK_ISSUED that a claim produced (see the pixbook domain's PackIssuedPayload). */
export const PackDropSchema = z.strictObject({
  dropId: IdSchema,
  /** The identity that claimed it (whose ticket this is). */
  collector: IdSchema,
  /** hex SHA-256 ticket (economy/derive-pack.ts `packTicket`). */
  ticket: z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits'),
})

/** The code fields of a PACK_ISSUED that redeemed a printed code (economy/code-token.ts). */
export const PackCodeSchema = z.strictObject({
  codeId: IdSchema,
  /** The token as printed: the claims and the issuer's signature over them. */
  token: z.string().max(4200),
})
export const CodeRevokedPayload = z.strictObject({ codeId: IdSchema, reason: text(500).optional() })

/** The default drop id of a date: its ISO 8601 week, `week-YYYY-Www`. */
export function isoWeekDropId(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()))
  const day = d.getUTCDay() || 7
  d.setUTCDate(d.getUTCDate() + 4 - day) // the Thursday of this week decides its year
  const year = d.getUTCFullYear()
  const week = Math.ceil(((d.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7)
  return `week-${year}-W${String(week).padStart(2, '0')}`
}

// ------------------------------------------------------------------------------------------------
// Facts

/** The fact kinds of the economy domain (all `log`: derived from receipts alone). */
export const ECONOMY_FACTS = {
  /** collectionId → CollectionFact. */
  collection: 'economy.collection',
  /** dropId → DropFact. */
  drop: 'economy.drop',
  /** packId → PackFact: a pack id is issued once, in one book. */
  pack: 'economy.pack',
  /** `{collectionId} {cardId}` → how many were issued (a number). */
  issued: 'economy.issued',
  /** instanceId → InstanceFact: the book that holds a card instance. */
  instance: 'economy.instance',
  /** `{accountId} {bookId} {tradeId}` of the offering book → TradeFact. */
  trade: 'economy.trade',
  /** `{collectionId} {codeId}` → CodeFact: a printed code revoked (its redemption is its pack). */
  code: 'economy.code',
} as const

export interface CollectionFact {
  owner: string
  /** Last published version (0 before the first). */
  version: number
  series: Record<string, { retired: boolean }>
  cards: Record<string, { seriesId: string; version: number; art: string; supply: number | null }>
}
export interface DropFact {
  owner: string
  collectionId: string
  version: number
  series: string[]
  packSize: number
  commitment: string
  opensAt: string
  closesAt: string
  revealed: boolean
}
export interface PackFact {
  /** `{accountId} {bookId}`. */
  book: string
}
export interface InstanceFact {
  /** The book that holds it, or held it last when burned. */
  book: string
  collectionId: string | null
  cardId: string
  /** Burned by a CARD_REMOVED: no one holds it any more. */
  burned?: true
}
export interface CodeFact {
  revoked: true
}
export type TradeState = 'open' | 'accepted' | 'declined' | 'cancelled'
export interface TradeFact {
  eventId: string
  hash: string
  /** The recipient book, `{accountId} {bookId}`. */
  to: string
  instanceId: string
  wantCardId: string | null
  state: TradeState
  /** Only when the offer has one, so offers without keep the facts they always had. */
  expiresAt?: string
}

const F = ECONOMY_FACTS

function refuse(rule: string, message: string, details: Record<string, unknown> = {}): never {
  throw new PixpaxError('DOMAIN_RULE_VIOLATION', message, { rule, ...details })
}

const get = <T>(facts: FactView, kind: string, key: string): T | undefined => facts.fact(kind, key) as T | undefined
const bookOf = (checked: CheckedReceipt): string => factKey(checked.receipt.stream.accountId!, checked.receipt.stream.bookId!)
const bookRef = (ref: { accountId: string; bookId: string }): string => factKey(ref.accountId, ref.bookId)

/** The catalog of a drop: the collection's cards of its series, up to its version, by card id. */
export function dropCatalog(collection: CollectionFact, drop: Pick<DropFact, 'version' | 'series'>): CatalogCard[] {
  const series = new Set(drop.series)
  return Object.entries(collection.cards)
    .filter(([, c]) => c.version <= drop.version && series.has(c.seriesId))
    .map(([cardId, c]) => ({ cardId, supply: c.supply }))
    .sort((a, b) => (a.cardId < b.cardId ? -1 : a.cardId > b.cardId ? 1 : 0))
}

/**
 * The PACK_ISSUED payload of `collector`'s claim on a drop (what the relay signs with the issuer key):
 * the derivation from the seed, the collection and the supply consumed so far. Empty `cards`: sold out.
 */
export function dropPackPayload(input: {
  seed: string
  dropId: string
  collector: string
  drop: Pick<DropFact, 'collectionId' | 'version' | 'series' | 'packSize'>
  collection: CollectionFact
  issued: IssuedCount
}): { packId: string; collectionId: string; cards: Array<{ cardId: string; artHash: string }>; drop: z.infer<typeof PackDropSchema> } {
  const { seed, dropId, collector, drop, collection } = input
  const pack = derivePack(seed, dropId, collector, dropCatalog(collection, drop), input.issued, drop.packSize)
  return {
    packId: pack.packId,
    collectionId: drop.collectionId,
    cards: pack.cardIds.map((cardId) => ({ cardId, artHash: collection.cards[cardId]!.art })),
    drop: { dropId, collector, ticket: pack.ticket },
  }
}

/** The catalog of a pack code: the collection's cards published at a version ≤ `version`, of series not retired. */
export function codeCatalog(collection: CollectionFact, version: number): CatalogCard[] {
  return Object.entries(collection.cards)
    .filter(([, c]) => c.version <= version && !collection.series[c.seriesId]?.retired)
    .map(([cardId, c]) => ({ cardId, supply: c.supply }))
    .sort((a, b) => (a.cardId < b.cardId ? -1 : a.cardId > b.cardId ? 1 : 0))
}

/** The card ids a code gives at a log position (the supply consumed so far); empty: none left. */
export function codeCardIds(claims: CodeClaims, token: string, collection: CollectionFact, issued: IssuedCount): string[] {
  if (claims.kind === 'fixed-card') {
    const card = collection.cards[claims.cardId!]
    return card && inSupply({ cardId: claims.cardId!, supply: card.supply }, issued) ? [claims.cardId!] : []
  }
  return deriveCodeCards(codeTicket(token), codeCatalog(collection, claims.version!), issued, claims.cards!)
}

/** The PACK_ISSUED payload that redeems a code (what the relay signs with the issuer key). */
export function codePackPayload(input: { token: string; claims: CodeClaims; collection: CollectionFact; issued: IssuedCount }): {
  packId: string
  collectionId: string
  cards: Array<{ cardId: string; artHash: string }>
  code: z.infer<typeof PackCodeSchema>
} {
  const { token, claims, collection } = input
  return {
    packId: codePackId(claims.collectionId, claims.codeId),
    collectionId: claims.collectionId,
    cards: codeCardIds(claims, token, collection, input.issued).map((cardId) => ({ cardId, artHash: collection.cards[cardId]!.art })),
    code: { codeId: claims.codeId, token },
  }
}

// ------------------------------------------------------------------------------------------------
// Collection and drop streams

const collectionRead = (checked: CheckedReceipt): FactRef[] => [{ kind: F.collection, key: checked.receipt.stream.collectionId! }]

const collectionCreated: CrossStreamRule = {
  reads: collectionRead,
  record: (checked) => [
    {
      kind: F.collection,
      key: checked.receipt.stream.collectionId!,
      value: { owner: checked.receipt.issuer.identityId, version: 0, series: {}, cards: {} } satisfies CollectionFact,
    },
  ],
}

type VersionPayload = z.infer<typeof CollectionVersionPublishedPayload>

const collectionVersionPublished: CrossStreamRule = {
  reads: collectionRead,
  decide: (checked, facts) => {
    const id = checked.receipt.stream.collectionId!
    const c = get<CollectionFact>(facts, F.collection, id)!
    const p = checked.receipt.payload as VersionPayload
    if (p.version !== c.version + 1)
      refuse('collection_version_order', `collection ${id} is at version ${c.version}; the next is ${c.version + 1}`, {
        version: c.version,
      })
    for (const s of p.series)
      if (Object.hasOwn(c.series, s.seriesId)) refuse('series_exists', `series ${s.seriesId} is already in collection ${id}`)
    const added = new Set(p.series.map((s) => s.seriesId))
    for (const card of p.cards) {
      // Versions are immutable: a card, once published, never changes (its art, series or supply).
      if (Object.hasOwn(c.cards, card.cardId)) refuse('card_exists', `card ${card.cardId} is already in collection ${id}`)
      const series = c.series[card.seriesId]
      if (!series && !added.has(card.seriesId)) refuse('series_unknown', `card ${card.cardId} names unknown series ${card.seriesId}`)
      if (series?.retired) refuse('series_retired', `series ${card.seriesId} is retired`)
    }
  },
  record: (checked, facts) => {
    const id = checked.receipt.stream.collectionId!
    const c = structuredClone(get<CollectionFact>(facts, F.collection, id)!)
    const p = checked.receipt.payload as VersionPayload
    c.version = p.version
    for (const s of p.series) c.series[s.seriesId] = { retired: false }
    for (const card of p.cards) c.cards[card.cardId] = { seriesId: card.seriesId, version: p.version, art: card.art, supply: card.supply }
    return [{ kind: F.collection, key: id, value: c }]
  },
}

const seriesRetired: CrossStreamRule = {
  reads: collectionRead,
  decide: (checked, facts) => {
    const c = get<CollectionFact>(facts, F.collection, checked.receipt.stream.collectionId!)!
    const seriesId = checked.receipt.payload.seriesId as string
    const series = c.series[seriesId]
    if (!series) refuse('series_unknown', `series ${seriesId} is not in this collection`)
    if (series.retired) refuse('series_retired', `series ${seriesId} is already retired`)
  },
  record: (checked, facts) => {
    const id = checked.receipt.stream.collectionId!
    const c = structuredClone(get<CollectionFact>(facts, F.collection, id)!)
    c.series[checked.receipt.payload.seriesId as string] = { retired: true }
    return [{ kind: F.collection, key: id, value: c }]
  },
}

const codeKey = (collectionId: string, codeId: string): string => factKey(collectionId, codeId)

/** CODE_REVOKED: a code not yet redeemed (its pack not issued) and not revoked before. */
const codeRevoked: CrossStreamRule = {
  reads: (checked) => {
    const collectionId = checked.receipt.stream.collectionId!
    const codeId = checked.receipt.payload.codeId as string
    return [
      { kind: F.code, key: codeKey(collectionId, codeId) },
      { kind: F.pack, key: codePackId(collectionId, codeId) },
    ]
  },
  decide: (checked, facts) => {
    const collectionId = checked.receipt.stream.collectionId!
    const codeId = checked.receipt.payload.codeId as string
    if (get(facts, F.code, codeKey(collectionId, codeId))) refuse('code_revoked', `code ${codeId} is already revoked`, { codeId })
    if (get(facts, F.pack, codePackId(collectionId, codeId)))
      refuse('code_already_redeemed', `code ${codeId} was already redeemed`, { codeId, packId: codePackId(collectionId, codeId) })
  },
  record: (checked) => [
    {
      kind: F.code,
      key: codeKey(checked.receipt.stream.collectionId!, checked.receipt.payload.codeId as string),
      value: { revoked: true } satisfies CodeFact,
    },
  ],
}

type DropPayload = z.infer<typeof DropScheduledPayload>

const dropScheduled: CrossStreamRule = {
  reads: (checked) => [
    { kind: F.drop, key: checked.receipt.stream.dropId! },
    { kind: F.collection, key: checked.receipt.payload.collectionId as string },
  ],
  decide: (checked, facts) => {
    const p = checked.receipt.payload as DropPayload
    const c = get<CollectionFact>(facts, F.collection, p.collectionId)
    if (!c) refuse('collection_unknown', `collection ${p.collectionId} does not exist`)
    if (c.owner !== checked.receipt.issuer.identityId)
      refuse('collection_not_owned', `collection ${p.collectionId} belongs to ${c.owner}`, { owner: c.owner })
    if (p.version > c.version)
      refuse('collection_version_unknown', `collection ${p.collectionId} has no version ${p.version} (latest ${c.version})`)
    for (const s of p.series) {
      const series = c.series[s]
      if (!series) refuse('series_unknown', `series ${s} is not in collection ${p.collectionId}`)
      if (series.retired) refuse('series_retired', `series ${s} is retired`)
    }
    if (dropCatalog(c, p).length === 0) refuse('drop_empty', `the drop's series have no cards at version ${p.version}`)
  },
  record: (checked) => {
    const p = checked.receipt.payload as DropPayload
    const value: DropFact = { owner: checked.receipt.issuer.identityId, ...p, revealed: false }
    return [{ kind: F.drop, key: checked.receipt.stream.dropId!, value }]
  },
}

const dropRevealed: CrossStreamRule = {
  reads: (checked) => [{ kind: F.drop, key: checked.receipt.stream.dropId! }],
  decide: (checked, facts) => {
    const drop = get<DropFact>(facts, F.drop, checked.receipt.stream.dropId!)!
    if (drop.revealed) refuse('drop_already_revealed', 'the drop seed is already revealed')
    const seed = checked.receipt.payload.seed as string
    let commitment: string
    try {
      commitment = seedCommitment(seed)
    } catch {
      refuse('drop_seed_mismatch', 'the seed is not 32 bytes of base64url')
    }
    if (commitment !== drop.commitment)
      refuse('drop_seed_mismatch', `sha256(seed) is ${commitment}, not the commitment ${drop.commitment}`, { commitment: drop.commitment })
  },
  record: (checked, facts) => {
    const key = checked.receipt.stream.dropId!
    return [{ kind: F.drop, key, value: { ...get<DropFact>(facts, F.drop, key)!, revealed: true } }]
  },
}

// ------------------------------------------------------------------------------------------------
// Packs

interface PackPayload {
  packId: string
  cards: Array<{ cardId: string; artHash: string }>
  collectionId?: string
  drop?: z.infer<typeof PackDropSchema>
  code?: z.infer<typeof PackCodeSchema>
}

const issuedKey = (collectionId: string, cardId: string): string => factKey(collectionId, cardId)

/** The drop and collection of a drop pack, when both are known and agree. */
function dropContext(p: PackPayload, facts: FactView): { drop: DropFact; collection: CollectionFact } | undefined {
  if (!p.drop) return undefined
  const drop = get<DropFact>(facts, F.drop, p.drop.dropId)
  if (!drop || drop.collectionId !== p.collectionId) return undefined
  const collection = get<CollectionFact>(facts, F.collection, drop.collectionId)
  return collection ? { drop, collection } : undefined
}

/**
 * PACK_ISSUED: a pack id is issued once; its cards become instances `{packId}-{i}` of the book; cards
 * of a collection count against their supply. A drop's pack must be exactly the derivation from its
 * ticket at this log position (the reveal later proves the ticket came from the committed seed).
 */
export const packIssuedRule: CrossStreamRule = {
  reads: (checked, facts) => {
    const p = checked.receipt.payload as unknown as PackPayload
    const refs: FactRef[] = [{ kind: F.pack, key: p.packId }]
    p.cards.forEach((_, i) => refs.push({ kind: F.instance, key: cardInstanceId(p.packId, i) }))
    if (p.collectionId) refs.push({ kind: F.collection, key: p.collectionId })
    if (p.drop) refs.push({ kind: F.drop, key: p.drop.dropId })
    const ctx = dropContext(p, facts)
    // A drop pack's derivation may look at any card of the drop's catalog: read (and lock) the supply of
    // all of them, so the rule needs two rounds whatever the catalog's state.
    if (ctx)
      for (const card of dropCatalog(ctx.collection, ctx.drop))
        refs.push({ kind: F.issued, key: issuedKey(ctx.drop.collectionId, card.cardId) })
    if (p.collectionId) for (const card of p.cards) refs.push({ kind: F.issued, key: issuedKey(p.collectionId, card.cardId) })
    const claims = p.code && parseCodeToken(p.code.token)?.claims
    if (claims && p.collectionId) {
      refs.push({ kind: F.code, key: codeKey(p.collectionId, claims.codeId) })
      // A pack code's derivation may look at any card of its catalog (as a drop pack's).
      const collection = get<CollectionFact>(facts, F.collection, p.collectionId)
      if (collection && claims.kind === 'pack')
        for (const card of codeCatalog(collection, claims.version!))
          refs.push({ kind: F.issued, key: issuedKey(p.collectionId, card.cardId) })
    }
    return refs
  },
  decide: (checked, facts) => {
    const { receipt } = checked
    const p = receipt.payload as unknown as PackPayload
    const issued = (collectionId: string) => (cardId: string) => get<number>(facts, F.issued, issuedKey(collectionId, cardId)) ?? 0
    const existing = get<PackFact>(facts, F.pack, p.packId)
    if (p.drop) {
      const { dropId, collector, ticket } = p.drop
      if (existing) refuse('drop_already_claimed', `${collector} already has the pack of drop ${dropId}`, { packId: p.packId, dropId })
      const drop = get<DropFact>(facts, F.drop, dropId)
      if (!drop) refuse('drop_unknown', `drop ${dropId} is not scheduled`)
      if (drop.owner !== receipt.issuer.identityId) refuse('drop_not_owned', `drop ${dropId} belongs to ${drop.owner}`)
      if (drop.revealed || receipt.createdAt >= drop.closesAt)
        refuse('drop_closed', `drop ${dropId} is closed`, { closesAt: drop.closesAt })
      if (receipt.createdAt < drop.opensAt) refuse('drop_not_open', `drop ${dropId} opens at ${drop.opensAt}`, { opensAt: drop.opensAt })
      const ctx = dropContext(p, facts)
      if (!ctx) refuse('pack_not_derived', `a pack of drop ${dropId} names collection ${drop.collectionId}`)
      if (p.packId !== dropPackId(dropId, collector))
        refuse('pack_not_derived', `the pack of ${collector} in drop ${dropId} has id ${dropPackId(dropId, collector)}`)
      const ranked = rankCatalog(ticket, dropCatalog(ctx.collection, drop))
      const taken = walkRanking(ranked, issued(drop.collectionId), drop.packSize).taken
      if (taken.length === 0) refuse('drop_sold_out', `every card of drop ${dropId} is out of supply`)
      const expected = taken.map((c) => ({ cardId: c.cardId, artHash: ctx.collection.cards[c.cardId]!.art }))
      if (JSON.stringify(expected) !== JSON.stringify(p.cards.map((c) => ({ cardId: c.cardId, artHash: c.artHash })))) {
        refuse('pack_not_derived', 'the cards are not the derivation from the ticket and the supply at this position', {
          expected: expected.map((c) => c.cardId),
        })
      }
      return
    }
    if (p.code) return decideCodePack(checked, facts, p, existing !== undefined)
    if (existing) refuse('pack_already_issued', `pack ${p.packId} was already issued`, { packId: p.packId })
    if (!p.collectionId) return // cards outside any collection: no supply to keep
    const collection = get<CollectionFact>(facts, F.collection, p.collectionId)
    if (!collection) refuse('collection_unknown', `collection ${p.collectionId} does not exist`)
    if (collection.owner !== receipt.issuer.identityId)
      refuse('collection_not_owned', `collection ${p.collectionId} belongs to ${collection.owner}`)
    const count = new Map<string, number>()
    for (const { cardId, artHash } of p.cards) {
      const card = collection.cards[cardId]
      if (!card) refuse('card_unknown', `card ${cardId} is not in collection ${p.collectionId}`)
      if (card.art !== artHash) refuse('card_art_mismatch', `card ${cardId} has art ${card.art}`)
      if (collection.series[card.seriesId]?.retired) refuse('series_retired', `series ${card.seriesId} is retired`)
      count.set(cardId, (count.get(cardId) ?? 0) + 1)
    }
    for (const [cardId, n] of count) {
      const c = { cardId, supply: collection.cards[cardId]!.supply }
      if (!inSupply(c, (id) => issued(p.collectionId!)(id) + n - 1))
        refuse('supply_exhausted', `card ${cardId} has a supply of ${c.supply}`, { cardId, supply: c.supply })
    }
  },
  record: (checked, facts) => {
    const p = checked.receipt.payload as unknown as PackPayload
    const book = bookOf(checked)
    const changes: FactChange[] = [{ kind: F.pack, key: p.packId, value: { book } satisfies PackFact }]
    const counts = new Map<string, number>()
    p.cards.forEach((card, i) => {
      const value: InstanceFact = { book, collectionId: p.collectionId ?? null, cardId: card.cardId }
      changes.push({ kind: F.instance, key: cardInstanceId(p.packId, i), value })
      if (p.collectionId) {
        const key = issuedKey(p.collectionId, card.cardId)
        counts.set(key, (counts.get(key) ?? get<number>(facts, F.issued, key) ?? 0) + 1)
      }
    })
    for (const [key, value] of counts) changes.push({ kind: F.issued, key, value })
    return changes
  },
}

/**
 * A PACK_ISSUED that redeems a printed code: the token is well formed and names this collection and
 * this issuer (`code_not_official`; its signature is checked by the relay at redemption and by
 * `verifyCodeSignature` offline — the receipt itself is the issuer's signed statement), the pack id is
 * the code's, the code was never redeemed nor revoked and has not expired at the receipt's `createdAt`,
 * and the cards are exactly what the code gives at this log position.
 */
function decideCodePack(checked: CheckedReceipt, facts: FactView, p: PackPayload, redeemed: boolean): void {
  const { receipt } = checked
  const code = p.code!
  const claims = parseCodeToken(code.token)?.claims
  if (
    !claims ||
    claims.codeId !== code.codeId ||
    claims.collectionId !== p.collectionId ||
    claims.issuer.identityId !== receipt.issuer.identityId
  )
    refuse(
      'code_not_official',
      `the token of code ${code.codeId} is not a code of collection ${p.collectionId ?? '(none)'} by ${receipt.issuer.identityId}`,
    )
  if (p.drop) refuse('pack_not_derived', 'a pack is either a drop pack or a code pack')
  const packId = codePackId(claims.collectionId, claims.codeId)
  if (p.packId !== packId) refuse('pack_not_derived', `the pack of code ${claims.codeId} has id ${packId}`)
  if (redeemed) refuse('code_already_redeemed', `code ${claims.codeId} was already redeemed`, { codeId: claims.codeId, packId })
  if (get(facts, F.code, codeKey(claims.collectionId, claims.codeId)))
    refuse('code_revoked', `code ${claims.codeId} is revoked`, { codeId: claims.codeId })
  if (receipt.createdAt >= claims.expiresAt)
    refuse('code_expired', `code ${claims.codeId} expired at ${claims.expiresAt}`, { expiresAt: claims.expiresAt })
  const collection = get<CollectionFact>(facts, F.collection, claims.collectionId)
  if (!collection) refuse('collection_unknown', `collection ${claims.collectionId} does not exist`)
  if (collection.owner !== receipt.issuer.identityId)
    refuse('collection_not_owned', `collection ${claims.collectionId} belongs to ${collection.owner}`)
  if (claims.kind === 'fixed-card') {
    const card = collection.cards[claims.cardId!]
    if (!card) refuse('card_unknown', `card ${claims.cardId} is not in collection ${claims.collectionId}`)
    if (collection.series[card.seriesId]?.retired) refuse('series_retired', `series ${card.seriesId} is retired`)
  }
  const issued = (cardId: string) => get<number>(facts, F.issued, issuedKey(claims.collectionId, cardId)) ?? 0
  const cardIds = codeCardIds(claims, code.token, collection, issued)
  if (cardIds.length === 0) refuse('supply_exhausted', `no card code ${claims.codeId} gives is left in supply`, { codeId: claims.codeId })
  const expected = cardIds.map((cardId) => ({ cardId, artHash: collection.cards[cardId]!.art }))
  if (JSON.stringify(expected) !== JSON.stringify(p.cards.map((c) => ({ cardId: c.cardId, artHash: c.artHash }))))
    refuse('pack_not_derived', `the cards are not what code ${claims.codeId} gives at this position`, { expected: cardIds })
}

// ------------------------------------------------------------------------------------------------
// Trades

const tradeKey = (book: string, tradeId: string): string => factKey(book, tradeId)

function openTrade(facts: FactView, key: string, tradeId: string): TradeFact {
  const trade = get<TradeFact>(facts, F.trade, key)
  if (!trade) refuse('trade_not_open', `there is no offer ${tradeId}`, { tradeId })
  if (trade.state !== 'open') refuse('trade_not_open', `trade ${tradeId} is ${trade.state}`, { tradeId, state: trade.state })
  return trade
}

function owned(facts: FactView, instanceId: string, book: string): InstanceFact {
  const instance = get<InstanceFact>(facts, F.instance, instanceId)
  if (!instance || instance.book !== book || instance.burned)
    refuse('card_not_owned', `card instance ${instanceId} is not held by book ${book.replace(' ', '/')}`, { cardId: instanceId })
  return instance
}

/**
 * CARD_TRADE_OFFERED: the offered instance is the offering book's; a trade id is used once per book; an
 * `expiresAt` must be after the offer's own createdAt (the receipts' createdAt is the only clock).
 */
export const tradeOfferedRule: CrossStreamRule = {
  reads: (checked) => [
    { kind: F.instance, key: checked.receipt.payload.cardId as string },
    { kind: F.trade, key: tradeKey(bookOf(checked), checked.receipt.payload.tradeId as string) },
  ],
  decide: (checked, facts) => {
    const p = checked.receipt.payload as { tradeId: string; cardId: string; to: { accountId: string; bookId: string }; expiresAt?: string }
    if (get(facts, F.trade, tradeKey(bookOf(checked), p.tradeId))) refuse('trade_exists', `trade ${p.tradeId} already exists in this book`)
    if (bookRef(p.to) === bookOf(checked)) refuse('trade_to_self', 'a book cannot offer a card to itself')
    // Both are CreatedAtSchema strings (fixed width, UTC), so string order is time order.
    if (p.expiresAt !== undefined && p.expiresAt <= checked.receipt.createdAt)
      refuse('trade_expired', `offer ${p.tradeId} expires at ${p.expiresAt}, not after its createdAt ${checked.receipt.createdAt}`, {
        expiresAt: p.expiresAt,
      })
    owned(facts, p.cardId, bookOf(checked))
  },
  record: (checked) => {
    const { receipt } = checked
    const p = receipt.payload as {
      tradeId: string
      cardId: string
      to: { accountId: string; bookId: string }
      wantCardId?: string
      expiresAt?: string
    }
    const value: TradeFact = {
      eventId: receipt.eventId,
      hash: receipt.hash,
      to: bookRef(p.to),
      instanceId: p.cardId,
      wantCardId: p.wantCardId ?? null,
      state: 'open',
      ...(p.expiresAt !== undefined ? { expiresAt: p.expiresAt } : {}),
    }
    return [{ kind: F.trade, key: tradeKey(bookOf(checked), p.tradeId), value }]
  },
}

interface AcceptPayload {
  tradeId: string
  from: { accountId: string; bookId: string }
  offerEventId: string
  offerHash: string
  giveCardId?: string
}

/**
 * CARD_TRADE_ACCEPTED: the offer it names (eventId and hash) is open, addressed to this book and not
 * expired at the acceptance's createdAt, the offered instance is still the offerer's and the given one (if the offer wants a card) is this book's
 * and of that card; then both instances change hands.
 */
export const tradeAcceptedRule: CrossStreamRule = {
  reads: (checked, facts) => {
    const p = checked.receipt.payload as unknown as AcceptPayload
    const key = tradeKey(bookRef(p.from), p.tradeId)
    const refs: FactRef[] = [{ kind: F.trade, key }]
    if (p.giveCardId) refs.push({ kind: F.instance, key: p.giveCardId })
    const trade = get<TradeFact>(facts, F.trade, key)
    if (trade) refs.push({ kind: F.instance, key: trade.instanceId })
    return refs
  },
  decide: (checked, facts) => {
    const p = checked.receipt.payload as unknown as AcceptPayload
    const me = bookOf(checked)
    const trade = openTrade(facts, tradeKey(bookRef(p.from), p.tradeId), p.tradeId)
    if (trade.eventId !== p.offerEventId || trade.hash !== p.offerHash)
      refuse('trade_not_open', `offer ${p.tradeId} is receipt ${trade.eventId} (${trade.hash})`, {
        offerEventId: trade.eventId,
        offerHash: trade.hash,
      })
    if (trade.to !== me) refuse('trade_not_open', `offer ${p.tradeId} is addressed to another book`)
    // The acceptance's own createdAt decides, as for code_expired and drop_closed (docs/economy.md).
    if (trade.expiresAt !== undefined && checked.receipt.createdAt >= trade.expiresAt)
      refuse('trade_expired', `offer ${p.tradeId} expired at ${trade.expiresAt}`, { tradeId: p.tradeId, expiresAt: trade.expiresAt })
    owned(facts, trade.instanceId, bookRef(p.from))
    if (trade.wantCardId === null) {
      if (p.giveCardId) refuse('trade_terms', `offer ${p.tradeId} wants nothing in return`)
      return
    }
    if (!p.giveCardId)
      refuse('trade_terms', `offer ${p.tradeId} wants card ${trade.wantCardId} in return`, { wantCardId: trade.wantCardId })
    const give = owned(facts, p.giveCardId, me)
    if (give.cardId !== trade.wantCardId)
      refuse('trade_terms', `instance ${p.giveCardId} is card ${give.cardId}, not the wanted ${trade.wantCardId}`, {
        wantCardId: trade.wantCardId,
      })
  },
  record: (checked, facts) => {
    const p = checked.receipt.payload as unknown as AcceptPayload
    const from = bookRef(p.from)
    const key = tradeKey(from, p.tradeId)
    const trade = get<TradeFact>(facts, F.trade, key)!
    const offered = get<InstanceFact>(facts, F.instance, trade.instanceId)!
    const changes: FactChange[] = [
      { kind: F.trade, key, value: { ...trade, state: 'accepted' } },
      { kind: F.instance, key: trade.instanceId, value: { ...offered, book: bookOf(checked) } },
    ]
    if (p.giveCardId) {
      const given = get<InstanceFact>(facts, F.instance, p.giveCardId)!
      changes.push({ kind: F.instance, key: p.giveCardId, value: { ...given, book: from } })
    }
    return changes
  },
}

/**
 * CARD_REMOVED of a card instance burns it (supply conservation: issued = held + burned): the instance
 * must be this book's (`card_not_owned`); no one holds it afterwards, so it can be neither traded nor
 * burned again. A CARD_REMOVED naming no instance is a free-form card of the book, outside any supply.
 */
export const cardRemovedRule: CrossStreamRule = {
  reads: (checked) => [{ kind: F.instance, key: checked.receipt.payload.cardId as string }],
  decide: (checked, facts) => {
    const id = checked.receipt.payload.cardId as string
    if (get(facts, F.instance, id)) owned(facts, id, bookOf(checked))
  },
  record: (checked, facts) => {
    const id = checked.receipt.payload.cardId as string
    const instance = get<InstanceFact>(facts, F.instance, id)
    return instance ? [{ kind: F.instance, key: id, value: { ...instance, burned: true } satisfies InstanceFact }] : []
  },
}

/** CARD_TRADE_DECLINED (in the recipient's book) and CARD_TRADE_CANCELLED (in the offerer's): an open offer closes. */
function closeTrade(state: TradeState, offerer: (checked: CheckedReceipt) => string): CrossStreamRule {
  const key = (checked: CheckedReceipt) => tradeKey(offerer(checked), checked.receipt.payload.tradeId as string)
  return {
    reads: (checked) => [{ kind: F.trade, key: key(checked) }],
    decide: (checked, facts) => {
      const trade = openTrade(facts, key(checked), checked.receipt.payload.tradeId as string)
      if (state === 'declined' && trade.to !== bookOf(checked)) refuse('trade_not_open', 'the offer is addressed to another book')
    },
    record: (checked, facts) => [{ kind: F.trade, key: key(checked), value: { ...get<TradeFact>(facts, F.trade, key(checked))!, state } }],
  }
}

export const tradeDeclinedRule = closeTrade('declined', (checked) =>
  bookRef(checked.receipt.payload.from as { accountId: string; bookId: string }),
)
export const tradeCancelledRule = closeTrade('cancelled', bookOf)

// ------------------------------------------------------------------------------------------------
// Stream types

const owner: readonly IssuerRole[] = ['owner']
const platformIssuer: readonly IssuerRole[] = ['platformIssuer']

const collection: DomainStreamType = {
  type: 'collection',
  plural: 'collections',
  idFields: ['collectionId'],
  owner: 'genesis',
  genesis: 'COLLECTION_CREATED',
  receipts: {
    COLLECTION_CREATED: { payload: CollectionCreatedPayload, issuers: platformIssuer, crossStream: collectionCreated },
    COLLECTION_VERSION_PUBLISHED: { payload: CollectionVersionPublishedPayload, issuers: owner, crossStream: collectionVersionPublished },
    SERIES_RETIRED: { payload: SeriesRetiredPayload, issuers: owner, crossStream: seriesRetired },
    CODE_REVOKED: { payload: CodeRevokedPayload, issuers: owner, crossStream: codeRevoked },
  },
}

const drop: DomainStreamType = {
  type: 'drop',
  plural: 'drops',
  idFields: ['dropId'],
  owner: 'genesis',
  genesis: 'DROP_SCHEDULED',
  receipts: {
    DROP_SCHEDULED: {
      payload: DropScheduledPayload,
      issuers: platformIssuer,
      crossStream: dropScheduled,
    },
    DROP_REVEALED: { payload: DropRevealedPayload, issuers: owner, crossStream: dropRevealed },
  },
}

/** Collections and drops; the rules of packs and trades in pixbooks are exported above for the pixbook domain. */
export const economyDomain: DomainModule = {
  name: 'economy',
  streamTypes: [collection, drop],
  factKinds: Object.values(ECONOMY_FACTS).map((name) => ({ name, source: 'log' as const })),
}
