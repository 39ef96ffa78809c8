/**
 * The pixbook screen's pure parsing (no DOM, no session; unit-tested in Node): a book address typed or
 * pasted as a trade's recipient, the text of a scanned code, and the card of an instance id.
 */
import type { BookView } from '@pixpax/client-sdk'
import type { BookRef } from './book-data.js'

/** `accountId/bookId`, or the full stream key `pixbook/accountId/bookId`, as shown under "Your book address". */
export function parseBookAddress(text: string): BookRef | undefined {
  const parts = text
    .trim()
    .replace(/^pixbook\//, '')
    .split('/')
  if (parts.length !== 2 || !parts.every((p) => /^[A-Za-z0-9_-]{1,64}$/.test(p))) return undefined
  return { accountId: parts[0]!, bookId: parts[1]! }
}

/**
 * The card of an instance id (`{packId}-{index}`): from what the book holds, else from its own packs (an
 * instance it traded away); an instance of another book's pack stays its id.
 */
export function cardOfInstance(view: BookView, instanceId: string): string {
  const held = view.instances.find((i) => i.instanceId === instanceId)
  if (held) return held.cardId
  const cut = instanceId.lastIndexOf('-')
  const pack = view.packs.find((p) => p.packId === instanceId.slice(0, cut))
  return pack?.cards[Number(instanceId.slice(cut + 1))]?.cardId ?? instanceId
}

/** A printed code's QR holds the token, or a link whose `code` parameter (or last segment) is the token. */
export function tokenFromScan(raw: string): string {
  const text = raw.trim()
  try {
    const url = new URL(text)
    return url.searchParams.get('code') ?? url.pathname.split('/').filter(Boolean).at(-1) ?? text
  } catch {
    return text
  }
}
