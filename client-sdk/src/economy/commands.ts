/**
 * Typed economy commands (docs/economy.md). Trades are self-custodied receipts in the collector's own
 * book, signed locally and queued in the outbox (they work offline and are decided by the relay when
 * they arrive); a claim and a code redemption are relay commands (the relay derives the pack and signs
 * it as the issuer).
 */
import type { Receipt } from '@pixpax/shared'
import { RelayRequestError, relayRequest } from '../network/relay-request.js'
import type { SyncClient } from '../sync/sync-client.js'
import { bookStreamKey, type BookRef } from '../book-ref.js'

export type { BookRef }

/** The part of SyncClient the commands use (a test can hand in anything that appends). */
export type Appender = Pick<SyncClient, 'append'>

export interface ClaimedPack {
  eventId: string
  seq: number
  position: number
  hash: string
  receipt: Receipt
  pack: { packId: string; dropId: string; cards: Array<{ instanceId: string; cardId: string; artHash: string }> }
}

/** A relay refusal of an economy command: RelayRequestError, with `details.rule` for DOMAIN_RULE_VIOLATION. */
export class EconomyCommandError extends RelayRequestError {
  override name = 'EconomyCommandError'
  get rule(): string | undefined {
    return typeof this.details?.rule === 'string' ? this.details.rule : undefined
  }
}

/** POSTs a relay economy command as the session; a refusal throws EconomyCommandError. */
async function relayCommand<T>(relayUrl: string, token: string, path: string, body: unknown, fetchImpl: typeof fetch): Promise<T> {
  try {
    return await relayRequest<T>(relayUrl, path, { method: 'POST', token, body, fetchImpl })
  } catch (error) {
    if (error instanceof RelayRequestError) throw new EconomyCommandError(error.status, error.code, error.message, error.details)
    throw error
  }
}

/**
 * Claims the session identity's pack of `dropId` into `book` (`POST /v1/drops/:dropId/claim`). A retry
 * answers the same pack; a second book is refused with rule `drop_already_claimed`.
 */
export function claimDrop(
  relayUrl: string,
  token: string,
  dropId: string,
  book: BookRef,
  fetchImpl: typeof fetch = fetch,
): Promise<ClaimedPack> {
  return relayCommand<ClaimedPack>(relayUrl, token, `/v1/drops/${encodeURIComponent(dropId)}/claim`, book, fetchImpl)
}

export interface RedeemedCode {
  eventId: string
  seq: number
  position: number
  hash: string
  receipt: Receipt
  pack: { packId: string; codeId: string; cards: Array<{ instanceId: string; cardId: string; artHash: string }> }
}

/**
 * Redeems a printed code (the token its QR code holds) into `book`, or into the session identity's only
 * pixbook when `book` is omitted (`POST /v1/codes/redeem`). Once: a second redemption from any book is
 * refused with status 409 and rule `code_already_redeemed` (details name the stream it went to); 410
 * `code_revoked` / `code_expired`; 422 `code_not_official` for a token no issuer signed.
 */
export function redeemCode(
  relayUrl: string,
  token: string,
  code: string,
  book?: BookRef,
  fetchImpl: typeof fetch = fetch,
): Promise<RedeemedCode> {
  return relayCommand<RedeemedCode>(relayUrl, token, '/v1/codes/redeem', { token: code.trim(), ...book }, fetchImpl)
}

export interface CardOffer {
  tradeId: string
  /** The card instance offered (held by the offering book). */
  cardId: string
  to: BookRef
  /** A catalog card id wanted in return. */
  wantCardId?: string
  /** When the offer expires: an acceptance created at or after it is refused `trade_expired`. */
  expiresAt?: string | Date
  /** Or: expires this many milliseconds from now (`options.now`). */
  expiresIn?: number
}

/**
 * Offers a card instance held by `book` to another book, optionally wanting a card (catalog id) back and
 * optionally expiring (`expiresAt`, or `expiresIn` ms from `options.now`, default Date.now). The expiry
 * is written in the receipt format (UTC, milliseconds); it must be after the offer's createdAt
 * (`trade_expired`), so a time already past is refused here before anything is signed.
 */
export async function offerCard(client: Appender, book: BookRef, offer: CardOffer, options: { now?: () => number } = {}): Promise<Receipt> {
  const { expiresAt, expiresIn, ...terms } = offer
  const now = (options.now ?? Date.now)()
  if (expiresAt !== undefined && expiresIn !== undefined) throw new TypeError('give expiresAt or expiresIn, not both')
  const expires = expiresIn !== undefined ? now + expiresIn : expiresAt !== undefined ? new Date(expiresAt).getTime() : undefined
  if (expires !== undefined && !(expires > now)) throw new RangeError('an offer must expire in the future')
  return client.append(bookStreamKey(book), 'CARD_TRADE_OFFERED', {
    ...terms,
    ...(expires !== undefined ? { expiresAt: new Date(expires).toISOString() } : {}),
  })
}

/** Accepts an offer into `book`, naming the offer receipt (eventId and hash); `giveCardId` when it wants a card. */
export function acceptTrade(client: Appender, book: BookRef, offer: Receipt, giveCardId?: string): Promise<Receipt> {
  const { accountId = '', bookId = '' } = offer.stream
  return client.append(bookStreamKey(book), 'CARD_TRADE_ACCEPTED', {
    tradeId: offer.payload.tradeId,
    from: { accountId, bookId },
    offerEventId: offer.eventId,
    offerHash: offer.hash,
    ...(giveCardId ? { giveCardId } : {}),
  })
}

/** Declines an offer made to `book`. */
export function declineTrade(client: Appender, book: BookRef, offer: Pick<Receipt, 'stream' | 'payload'>): Promise<Receipt> {
  const { accountId = '', bookId = '' } = offer.stream
  return client.append(bookStreamKey(book), 'CARD_TRADE_DECLINED', { tradeId: offer.payload.tradeId, from: { accountId, bookId } })
}

/** Cancels an open offer `book` made. */
export function cancelTrade(client: Appender, book: BookRef, tradeId: string): Promise<Receipt> {
  return client.append(bookStreamKey(book), 'CARD_TRADE_CANCELLED', { tradeId })
}
