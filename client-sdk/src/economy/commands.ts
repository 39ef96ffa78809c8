/**
 * Typed economy commands (docs/economy.md). Trades are self-custodied receipts in the collector's own
 * book, signed locally and queued in the outbox (they work offline and are decided by the relay when
 * they arrive); a claim is a relay command (the relay derives the pack and signs it as the issuer).
 */
import type { Receipt } from '@pixpax/shared'
import type { SyncClient } from '../sync/sync-client.js'

export interface BookRef {
  accountId: string
  bookId: string
}

/** The part of SyncClient the commands use (a test can hand in anything that appends). */
export type Appender = Pick<SyncClient, 'append'>

const bookStream = (book: BookRef): string => `pixbook/${book.accountId}/${book.bookId}`

export interface ClaimedPack {
  eventId: string
  seq: number
  position: number
  hash: string
  receipt: Receipt
  pack: { packId: string; dropId: string; cards: Array<{ instanceId: string; cardId: string; artHash: string }> }
}

/** A relay refusal, with the envelope's code and `details.rule` for DOMAIN_RULE_VIOLATION. */
export class EconomyCommandError extends Error {
  override name = 'EconomyCommandError'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message)
  }
  get rule(): string | undefined {
    return typeof this.details?.rule === 'string' ? this.details.rule : undefined
  }
}

/**
 * Claims the session identity's pack of `dropId` into `book` (`POST /v1/drops/:dropId/claim`). A retry
 * answers the same pack; a second book is refused with rule `drop_already_claimed`.
 */
export async function claimDrop(
  relayUrl: string,
  token: string,
  dropId: string,
  book: BookRef,
  fetchImpl: typeof fetch = fetch,
): Promise<ClaimedPack> {
  const res = await fetchImpl(`${relayUrl.replace(/\/$/, '')}/v1/drops/${encodeURIComponent(dropId)}/claim`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(book),
  })
  const body = (await res.json()) as ClaimedPack & { error?: { code: string; message: string; details?: Record<string, unknown> } }
  if (!res.ok || body.error) {
    throw new EconomyCommandError(
      res.status,
      body.error?.code ?? 'INTERNAL',
      body.error?.message ?? `claim failed (${res.status})`,
      body.error?.details,
    )
  }
  return body
}

/** Offers a card instance held by `book` to another book, optionally wanting a card (catalog id) back. */
export function offerCard(
  client: Appender,
  book: BookRef,
  offer: { tradeId: string; cardId: string; to: BookRef; wantCardId?: string },
): Promise<Receipt> {
  return client.append(bookStream(book), 'CARD_TRADE_OFFERED', { ...offer })
}

/** Accepts an offer into `book`, naming the offer receipt (eventId and hash); `giveCardId` when it wants a card. */
export function acceptTrade(client: Appender, book: BookRef, offer: Receipt, giveCardId?: string): Promise<Receipt> {
  const { accountId = '', bookId = '' } = offer.stream
  return client.append(bookStream(book), 'CARD_TRADE_ACCEPTED', {
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
  return client.append(bookStream(book), 'CARD_TRADE_DECLINED', { tradeId: offer.payload.tradeId, from: { accountId, bookId } })
}

/** Cancels an open offer `book` made. */
export function cancelTrade(client: Appender, book: BookRef, tradeId: string): Promise<Receipt> {
  return client.append(bookStream(book), 'CARD_TRADE_CANCELLED', { tradeId })
}
