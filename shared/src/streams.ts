/**
 * The stream registry: which stream types exist, how their keys are spelled, which receipt types each
 * accepts, the payload schema of each, and who may issue it. The verifier in chain.ts and the relay read
 * only this table, so adding a stream type is adding an entry here (and its payload schemas).
 */
import { z } from 'zod'
import { PublicJwkSchema } from './crypto/jwk.js'
import { PixpaxError } from './errors.js'
import { IdSchema, PublicKeyIdSchema, Sha256RefSchema, UlidSchema, type StreamRef } from './schemas.js'

/**
 * Who may issue a receipt type into a stream:
 * - `owner`: the stream's owner (the identity named in its key, or the issuer of its genesis receipt);
 * - `accountOwner`: an owner of the account the stream belongs to (account streams);
 * - `platformIssuer`: an identity of kind `issuer` (pinned by the verifier's trust settings when given);
 * - `moderator`: an identity of kind `moderator` (likewise).
 */
export type IssuerRole = 'owner' | 'accountOwner' | 'platformIssuer' | 'moderator'

export interface ReceiptTypeSpec {
  readonly payload: z.ZodType<Record<string, unknown>>
  readonly issuers: readonly IssuerRole[]
}

export interface StreamTypeSpec {
  /** The stream type, first segment of its key, e.g. `pixbook`. */
  readonly type: string
  /** Plural used in object-store paths, e.g. `pixbooks` (ARCHITECTURE §4). */
  readonly plural: string
  /** The ids that follow the type in the key, in key order. */
  readonly idFields: readonly string[]
  /**
   * How the owner is found: an id field of the key that names an identity (`identity/{identityId}`), or
   * `genesis`: whoever issued the stream's first receipt.
   */
  readonly owner: { readonly idField: string } | 'genesis'
  /** The receipt type that must open the stream, and only open it. */
  readonly genesis: string
  readonly receipts: Readonly<Record<string, ReceiptTypeSpec>>
}

const text = (max: number) => z.string().min(1).max(max)
const BookRefSchema = z.strictObject({ accountId: IdSchema, bookId: IdSchema })
const CardSchema = z.strictObject({ cardId: IdSchema, artHash: Sha256RefSchema })

export const IdentityKindSchema = z.enum(['person', 'device', 'issuer', 'moderator'])
export type IdentityKind = z.infer<typeof IdentityKindSchema>

export const IdentityCreatedPayload = z.strictObject({
  publicKey: PublicJwkSchema,
  accountId: IdSchema,
  kind: IdentityKindSchema,
  displayName: text(100).optional(),
})
export const KeyAddedPayload = z.strictObject({ publicKey: PublicJwkSchema })
export const KeyRevokedPayload = z.strictObject({ publicKeyId: PublicKeyIdSchema })

export const AccountRoleSchema = z.enum(['owner', 'member'])
export const AccountCreatedPayload = z.strictObject({ displayName: text(100).optional() })
export const MemberAddedPayload = z.strictObject({ identityId: IdSchema, role: AccountRoleSchema })
export const MemberRemovedPayload = z.strictObject({ identityId: IdSchema })

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

export const STREAM_TYPES: Readonly<Record<string, StreamTypeSpec>> = {
  identity: {
    type: 'identity',
    plural: 'identities',
    idFields: ['identityId'],
    owner: { idField: 'identityId' },
    genesis: 'IDENTITY_CREATED',
    receipts: {
      IDENTITY_CREATED: { payload: IdentityCreatedPayload, issuers: owner },
      KEY_ADDED: { payload: KeyAddedPayload, issuers: owner },
      KEY_REVOKED: { payload: KeyRevokedPayload, issuers: owner },
    },
  },
  account: {
    type: 'account',
    plural: 'accounts',
    idFields: ['accountId'],
    owner: 'genesis',
    genesis: 'ACCOUNT_CREATED',
    receipts: {
      ACCOUNT_CREATED: { payload: AccountCreatedPayload, issuers: owner },
      MEMBER_ADDED: { payload: MemberAddedPayload, issuers: ['accountOwner'] },
      MEMBER_REMOVED: { payload: MemberRemovedPayload, issuers: ['accountOwner'] },
    },
  },
  pixbook: {
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
  },
}

export function streamTypeSpec(type: string): StreamTypeSpec | undefined {
  return Object.hasOwn(STREAM_TYPES, type) ? STREAM_TYPES[type] : undefined
}

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/

/**
 * Checks a receipt's `stream` object against the registry (known type, exactly its id fields, each a
 * safe id) and returns its spec. Throws SCHEMA_INVALID.
 */
export function checkStreamRef(stream: Record<string, unknown>): StreamTypeSpec {
  const spec = typeof stream.type === 'string' ? streamTypeSpec(stream.type) : undefined
  if (!spec)
    throw new PixpaxError('SCHEMA_INVALID', `stream.type ${JSON.stringify(stream.type)} is not a known stream type`, {
      path: 'stream.type',
    })
  for (const key of Object.keys(stream)) {
    if (key !== 'type' && !spec.idFields.includes(key)) {
      throw new PixpaxError('SCHEMA_INVALID', `stream has unknown field "${key}" for type ${spec.type}`, { path: `stream.${key}` })
    }
  }
  for (const field of spec.idFields) {
    const value = stream[field]
    if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
      throw new PixpaxError('SCHEMA_INVALID', `stream.${field} must be an id matching [A-Za-z0-9_-]{1,64}`, { path: `stream.${field}` })
    }
  }
  return spec
}

/** The stream key of a stream reference: `{type}/{ids in declared order}`, e.g. `pixbook/acc/book`. */
export function streamKey(stream: StreamRef): string {
  const spec = checkStreamRef(stream)
  return [spec.type, ...spec.idFields.map((f) => stream[f]!)].join('/')
}

/** Parses a stream key back into its stream reference. Throws SCHEMA_INVALID. */
export function parseStreamKey(key: string): StreamRef {
  const [type = '', ...ids] = key.split('/')
  const spec = streamTypeSpec(type)
  if (!spec) throw new PixpaxError('SCHEMA_INVALID', `unknown stream type in key ${JSON.stringify(key)}`)
  if (ids.length !== spec.idFields.length) {
    throw new PixpaxError('SCHEMA_INVALID', `stream key for ${type} is ${[type, ...spec.idFields.map((f) => `{${f}}`)].join('/')}`)
  }
  const ref: StreamRef = { type }
  spec.idFields.forEach((field, i) => (ref[field] = ids[i]!))
  checkStreamRef(ref)
  return ref
}

/** The object-store prefix of a stream's receipts: `pixpax/{plural}/{ids…}/events/` (ARCHITECTURE §4). */
export function streamEventsPrefix(stream: StreamRef): string {
  const spec = checkStreamRef(stream)
  return `pixpax/${spec.plural}/${spec.idFields.map((f) => stream[f]!).join('/')}/events/`
}
