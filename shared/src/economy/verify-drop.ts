/**
 * Recomputes every pack of a drop from the receipts (docs/economy.md, "Verifying a drop"): given a log
 * in log order, it replays the collection (catalog and supply), checks that the revealed seed matches
 * the commitment, and for every PACK_ISSUED of the drop that its ticket is the collector's ticket from
 * the seed and its cards are the derivation with the supply consumed before it. Independent of the
 * relay's rules (a second implementation of the same derivation), so a forged pack shows either way.
 */
import { nobleSha256 } from '../crypto/noble.js'
import type { Sha256 } from '../crypto/types.js'
import type { Receipt } from '../schemas.js'
import { dropCatalog, type CollectionFact, type DropFact } from '../domains/economy.js'
import { deriveFromTicket, dropPackId, packTicket, seedCommitment } from './derive-pack.js'

export interface DropProblem {
  readonly eventId?: string
  readonly packId?: string
  readonly problem: string
}

export interface DropReport {
  readonly ok: boolean
  readonly dropId: string
  readonly revealed: boolean
  /** PACK_ISSUED receipts of the drop, in log order. */
  readonly packs: number
  readonly problems: DropProblem[]
}

interface PackPayload {
  packId: string
  cards: Array<{ cardId: string; artHash: string }>
  collectionId?: string
  drop?: { dropId: string; collector: string; ticket: string }
}

/** Verifies drop `dropId` over `receipts` (a whole log, accepted receipts only, in log order). */
export function verifyDrop(receipts: Iterable<Receipt>, dropId: string, sha256: Sha256 = nobleSha256): DropReport {
  const log = [...receipts]
  const problems: DropProblem[] = []
  let drop: (DropFact & { eventId: string }) | undefined
  let seed: string | undefined
  for (const r of log) {
    if (r.stream.type !== 'drop' || r.stream.dropId !== dropId) continue
    if (r.type === 'DROP_SCHEDULED')
      drop = { ...(r.payload as unknown as DropFact), owner: r.issuer.identityId, revealed: false, eventId: r.eventId }
    if (r.type === 'DROP_REVEALED') seed = r.payload.seed as string
  }
  if (!drop) return { ok: false, dropId, revealed: false, packs: 0, problems: [{ problem: `drop ${dropId} is not scheduled in this log` }] }
  if (seed === undefined) problems.push({ problem: 'the seed is not revealed yet: tickets cannot be checked against the commitment' })
  else if (seedCommitment(seed, sha256) !== drop.commitment) problems.push({ problem: 'sha256(revealed seed) is not the commitment' })

  const collections = new Map<string, CollectionFact>()
  const issued = new Map<string, number>()
  const collectors = new Set<string>()
  let packs = 0
  let scheduled = false
  for (const r of log) {
    if (r.stream.type === 'collection') {
      const id = r.stream.collectionId!
      if (r.type === 'COLLECTION_CREATED') collections.set(id, { owner: r.issuer.identityId, version: 0, series: {}, cards: {} })
      const c = collections.get(id)
      if (!c) continue
      if (r.type === 'COLLECTION_VERSION_PUBLISHED') {
        const p = r.payload as {
          version: number
          series: Array<{ seriesId: string }>
          cards: Array<{ cardId: string; seriesId: string; art: string; supply: number | null }>
        }
        c.version = p.version
        for (const s of p.series) c.series[s.seriesId] = { retired: false }
        for (const card of p.cards)
          c.cards[card.cardId] = { seriesId: card.seriesId, version: p.version, art: card.art, supply: card.supply }
      }
      if (r.type === 'SERIES_RETIRED') c.series[r.payload.seriesId as string] = { retired: true }
      continue
    }
    if (r.eventId === drop.eventId && r.stream.type === 'drop') scheduled = true
    if (r.type !== 'PACK_ISSUED') continue
    const p = r.payload as unknown as PackPayload
    if (p.drop?.dropId === dropId) {
      packs++
      const where = { eventId: r.eventId, packId: p.packId }
      const collection = collections.get(drop.collectionId)
      const { collector, ticket } = p.drop
      if (!scheduled) problems.push({ ...where, problem: 'the pack comes before the drop (and its commitment) in the log' })
      if (collectors.has(collector)) problems.push({ ...where, problem: `a second pack for ${collector}` })
      collectors.add(collector)
      if (p.packId !== dropPackId(dropId, collector, sha256))
        problems.push({ ...where, problem: 'the pack id is not the id of this collector in this drop' })
      if (seed !== undefined && ticket !== packTicket(seed, dropId, collector, sha256))
        problems.push({ ...where, problem: 'the ticket is not sha256(seed, dropId, collector)' })
      if (!collection || p.collectionId !== drop.collectionId)
        problems.push({ ...where, problem: 'the pack is not of the drop collection' })
      else {
        const fromSeed = seed !== undefined ? packTicket(seed, dropId, collector, sha256) : ticket
        const expected = deriveFromTicket(
          fromSeed,
          dropCatalog(collection, drop),
          (id) => issued.get(`${drop.collectionId} ${id}`) ?? 0,
          drop.packSize,
          sha256,
        )
        const got = p.cards.map((c) => c.cardId)
        if (expected.join(',') !== got.join(','))
          problems.push({ ...where, problem: `cards ${got.join(',')} are not the derived ${expected.join(',')}` })
        else if (p.cards.some((c) => collection.cards[c.cardId]?.art !== c.artHash))
          problems.push({ ...where, problem: 'a card names art other than the catalog' })
      }
    }
    if (p.collectionId)
      for (const c of p.cards) issued.set(`${p.collectionId} ${c.cardId}`, (issued.get(`${p.collectionId} ${c.cardId}`) ?? 0) + 1)
  }
  return { ok: problems.length === 0, dropId, revealed: seed !== undefined, packs, problems }
}
