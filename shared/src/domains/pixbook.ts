/**
 * The pixbook domain (ARCHITECTURE §9): a collector's book inside an account — its saves, its cards,
 * the packs issued into it and its trades. The rules across books — a pack issued once and within
 * supply, a card instance traded only by its holder — are the economy domain's (domains/economy.ts).
 */
import { z } from 'zod'
import { CreatedAtSchema, IdSchema, Sha256RefSchema, UlidSchema } from '../schemas.js'
import type { IssuerRole } from '../streams.js'
import { text, type DomainModule, type DomainStreamType } from './domain.js'
import {
  cardRemovedRule,
  PackCodeSchema,
  PackDropSchema,
  packIssuedRule,
  tradeAcceptedRule,
  tradeCancelledRule,
  tradeDeclinedRule,
  tradeOfferedRule,
} from './economy.js'

const BookRefSchema = z.strictObject({ accountId: IdSchema, bookId: IdSchema })
const CardSchema = z.strictObject({ cardId: IdSchema, artHash: Sha256RefSchema })

export const PixbookCreatedPayload = z.strictObject({
  title: text(200),
  description: text(2000).optional(),
  seriesId: IdSchema.optional(),
})
export const PixbookSavePayload = z.strictObject({
  snapshotHash: Sha256RefSchema,
  documentUrl: z
    .string()
    .regex(/^automerge:[1-9A-HJ-NP-Za-km-z]{1,64}$/, 'an automerge: document URL')
    .optional(),
  heads: z
    .array(z.string().regex(/^[0-9a-f]{64}$/))
    .max(256)
    .optional(),
  note: text(500).optional(),
})
export const CardAddedPayload = z.strictObject({
  cardId: IdSchema,
  artHash: Sha256RefSchema,
  packId: IdSchema.optional(),
  tradeId: IdSchema.optional(),
})
export const CardRemovedPayload = z.strictObject({
  cardId: IdSchema,
  reason: z.enum(['traded', 'discarded']).optional(),
  tradeId: IdSchema.optional(),
})
export const PackIssuedPayload = z.strictObject({
  packId: IdSchema,
  seriesId: IdSchema.optional(),
  cards: z.array(CardSchema).min(1).max(100),
  /** The collection the cards are of (their supply is kept); absent: free-form cards. */
  collectionId: IdSchema.optional(),
  /** Set when a drop claim produced the pack (economy domain: derived, provably fair). */
  drop: PackDropSchema.optional(),
  /** Set when redeeming a printed code produced the pack (economy domain). */
  code: PackCodeSchema.optional(),
})
export const PackOpenedPayload = z.strictObject({ packId: IdSchema })
export const CardTradeOfferedPayload = z.strictObject({
  tradeId: IdSchema,
  cardId: IdSchema,
  to: BookRefSchema,
  wantCardId: IdSchema.optional(),
  /** When the offer stops being acceptable (an acceptance's createdAt at or past it: trade_expired). */
  expiresAt: CreatedAtSchema.optional(),
})
export const CardTradeAcceptedPayload = z.strictObject({
  tradeId: IdSchema,
  from: BookRefSchema,
  offerEventId: UlidSchema,
  offerHash: Sha256RefSchema,
  giveCardId: IdSchema.optional(),
})
export const CardTradeDeclinedPayload = z.strictObject({ tradeId: IdSchema, from: BookRefSchema })
export const CardTradeCancelledPayload = z.strictObject({ tradeId: IdSchema })

const owner: readonly IssuerRole[] = ['owner']

const pixbook: DomainStreamType = {
  type: 'pixbook',
  plural: 'pixbooks',
  idFields: ['accountId', 'bookId'],
  owner: 'genesis',
  genesis: 'PIXBOOK_CREATED',
  receipts: {
    PIXBOOK_CREATED: { payload: PixbookCreatedPayload, issuers: owner },
    PIXBOOK_SAVE: { payload: PixbookSavePayload, issuers: owner },
    CARD_ADDED: { payload: CardAddedPayload, issuers: owner },
    // Removing a card instance burns it (the economy's rule); other card ids are the book's own.
    CARD_REMOVED: { payload: CardRemovedPayload, issuers: owner, crossStream: cardRemovedRule },
    PACK_ISSUED: { payload: PackIssuedPayload, issuers: ['platformIssuer'], crossStream: packIssuedRule },
    PACK_OPENED: { payload: PackOpenedPayload, issuers: owner },
    // Ownership of card instances across books is the economy domain's rule (domains/economy.ts).
    CARD_TRADE_OFFERED: { payload: CardTradeOfferedPayload, issuers: owner, crossStream: tradeOfferedRule },
    CARD_TRADE_ACCEPTED: { payload: CardTradeAcceptedPayload, issuers: owner, crossStream: tradeAcceptedRule },
    CARD_TRADE_DECLINED: { payload: CardTradeDeclinedPayload, issuers: owner, crossStream: tradeDeclinedRule },
    CARD_TRADE_CANCELLED: { payload: CardTradeCancelledPayload, issuers: owner, crossStream: tradeCancelledRule },
  },
}

/** Pixbooks and the card economy inside them. */
export const pixbookDomain: DomainModule = { name: 'pixbook', streamTypes: [pixbook] }
