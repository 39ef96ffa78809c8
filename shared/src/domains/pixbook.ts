/**
 * The pixbook domain (ARCHITECTURE §9): a collector's book inside an account — its saves, its cards,
 * the packs issued into it and its trades. Its receipts need no stateful rule at acceptance beyond the
 * shared ones: ownership across books is the projections' business (docs/receipts.md §4).
 */
import { z } from 'zod'
import { IdSchema, Sha256RefSchema, UlidSchema } from '../schemas.js'
import type { IssuerRole } from '../streams.js'
import { text, type DomainModule, type DomainStreamType } from './domain.js'

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
})
export const PackOpenedPayload = z.strictObject({ packId: IdSchema })
export const CardTradeOfferedPayload = z.strictObject({
  tradeId: IdSchema,
  cardId: IdSchema,
  to: BookRefSchema,
  wantCardId: IdSchema.optional(),
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
    CARD_REMOVED: { payload: CardRemovedPayload, issuers: owner },
    PACK_ISSUED: { payload: PackIssuedPayload, issuers: ['platformIssuer'] },
    PACK_OPENED: { payload: PackOpenedPayload, issuers: owner },
    CARD_TRADE_OFFERED: { payload: CardTradeOfferedPayload, issuers: owner },
    CARD_TRADE_ACCEPTED: { payload: CardTradeAcceptedPayload, issuers: owner },
    CARD_TRADE_DECLINED: { payload: CardTradeDeclinedPayload, issuers: owner },
    CARD_TRADE_CANCELLED: { payload: CardTradeCancelledPayload, issuers: owner },
  },
}

/** Pixbooks and the card economy inside them. */
export const pixbookDomain: DomainModule = { name: 'pixbook', streamTypes: [pixbook] }
