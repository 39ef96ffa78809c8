/**
 * Provably fair packs (docs/economy.md): the cards of a drop's pack are a pure function of the drop's
 * secret seed (committed to by `sha256(seed)` in DROP_SCHEDULED before any pack), the drop id, the
 * collector's identity id, the drop's catalog and the supply already consumed by earlier packs in log
 * order. The seed is revealed at close (DROP_REVEALED); then anyone can recompute every pack.
 *
 * The derivation goes through a per-collector ticket, `sha256(seed ‖ dropId ‖ collector)`, carried in
 * the PACK_ISSUED: the ticket ranks the catalog, and the pack is the first `packSize` cards of that
 * ranking whose supply is not exhausted. Because the ticket is in the receipt, the relay checks at
 * acceptance that a pack is exactly the derivation from its ticket and the supply at its log position;
 * the reveal then proves every ticket came from the committed seed. A ticket reveals nothing of the seed
 * or of other collectors' packs (SHA-256 preimage resistance).
 */
import { nobleSha256 } from '../crypto/noble.js'
import type { Sha256 } from '../crypto/types.js'
import { base64UrlDecode, bytesToHex, hexToBytes, utf8Encode } from '../encoding.js'

/** A card of a drop's catalog: its id and its print supply (null: unlimited). */
export interface CatalogCard {
  readonly cardId: string
  readonly supply: number | null
}

/** How many of a card have been issued so far (0 when never). */
export type IssuedCount = (cardId: string) => number

export const SEED_BYTES = 32
export const DEFAULT_PACK_SIZE = 5

const TICKET_CONTEXT = 'pixpax-pack-ticket/1\n'
const PACK_ID_CONTEXT = 'pixpax-pack-id/1\n'

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** The 32 seed bytes of a base64url seed; throws RangeError for anything else. */
export function seedBytes(seed: string): Uint8Array {
  const bytes = base64UrlDecode(seed)
  if (!bytes || bytes.length !== SEED_BYTES) throw new RangeError(`a drop seed is ${SEED_BYTES} bytes in unpadded base64url`)
  return bytes
}

/** The commitment DROP_SCHEDULED publishes: `"sha256:" + hex(SHA-256(seed bytes))`. */
export function seedCommitment(seed: string, sha256: Sha256 = nobleSha256): string {
  return 'sha256:' + bytesToHex(sha256(seedBytes(seed)))
}

/** The collector's ticket for a drop: hex SHA-256 of context ‖ seed ‖ dropId ‖ "\n" ‖ collector. */
export function packTicket(seed: string, dropId: string, collector: string, sha256: Sha256 = nobleSha256): string {
  return bytesToHex(sha256(concat(utf8Encode(TICKET_CONTEXT), seedBytes(seed), utf8Encode(`${dropId}\n${collector}`))))
}

/**
 * The id of a collector's pack of a drop: `pk` + 40 hex digits of SHA-256(context ‖ dropId ‖ "\n" ‖
 * collector). Anyone can compute it without the seed, so "one pack per collector per drop" is "one
 * PACK_ISSUED per pack id", and a retried claim finds its pack.
 */
export function dropPackId(dropId: string, collector: string, sha256: Sha256 = nobleSha256): string {
  return 'pk' + bytesToHex(sha256(utf8Encode(`${PACK_ID_CONTEXT}${dropId}\n${collector}`))).slice(0, 40)
}

/** The id of the `index`-th card instance (0-based) of a pack: `{packId}-{index}`. */
export function cardInstanceId(packId: string, index: number): string {
  return `${packId}-${index}`
}

/**
 * The catalog in the ticket's order: ascending hex SHA-256(ticket bytes ‖ cardId). Every card gets a
 * distinct rank, so a pack never repeats a card.
 */
export function rankCatalog(ticket: string, catalog: readonly CatalogCard[], sha256: Sha256 = nobleSha256): CatalogCard[] {
  const t = hexToBytes(ticket)
  return catalog
    .map((card) => ({ card, rank: bytesToHex(sha256(concat(t, utf8Encode(card.cardId)))) }))
    .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0))
    .map((r) => r.card)
}

/** Whether one more of `card` may be issued. */
export function inSupply(card: CatalogCard, issued: IssuedCount): boolean {
  return card.supply === null || issued(card.cardId) < card.supply
}

/**
 * The walk a derivation makes: the ranked cards it looks at, in order, and the ones it takes — the first
 * `packSize` in supply. Fewer than `packSize` when the catalog is nearly exhausted; none when sold out.
 */
export function walkRanking(
  ranked: readonly CatalogCard[],
  issued: IssuedCount,
  packSize: number,
): { visited: CatalogCard[]; taken: CatalogCard[] } {
  const visited: CatalogCard[] = []
  const taken: CatalogCard[] = []
  for (const card of ranked) {
    if (taken.length === packSize) break
    visited.push(card)
    if (inSupply(card, issued)) taken.push(card)
  }
  return { visited, taken }
}

/** The card ids of the pack a ticket gives, with the supply consumed before it. */
export function deriveFromTicket(
  ticket: string,
  catalog: readonly CatalogCard[],
  issued: IssuedCount,
  packSize: number = DEFAULT_PACK_SIZE,
  sha256: Sha256 = nobleSha256,
): string[] {
  return walkRanking(rankCatalog(ticket, catalog, sha256), issued, packSize).taken.map((c) => c.cardId)
}

export interface DerivedPack {
  readonly packId: string
  readonly ticket: string
  /** Catalog card ids, in the pack's order (instance `i` is `cardInstanceId(packId, i)`). */
  readonly cardIds: string[]
}

/**
 * The pack of `collector` in drop `dropId`: deterministic in its inputs, no card twice, no card beyond
 * its supply given `issued` (the supply consumed by every earlier pack in log order).
 */
export function derivePack(
  seed: string,
  dropId: string,
  collector: string,
  catalog: readonly CatalogCard[],
  issued: IssuedCount,
  packSize: number = DEFAULT_PACK_SIZE,
  sha256: Sha256 = nobleSha256,
): DerivedPack {
  const ticket = packTicket(seed, dropId, collector, sha256)
  return { packId: dropPackId(dropId, collector, sha256), ticket, cardIds: deriveFromTicket(ticket, catalog, issued, packSize, sha256) }
}
