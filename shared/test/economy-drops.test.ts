/**
 * The economy's derivation and rules, offline: packs are deterministic, never repeat a card, never go
 * beyond supply; a whole log replayed by ChainVerifier (crossStream) decides the economy rules as the
 * relay does; verifyDrop recomputes every pack from the receipts and catches a forged one.
 */
import { describe, expect, it } from 'vitest'
import {
  base64UrlEncode,
  cardArtHash,
  cardArtSvg,
  derivePack,
  dropPackPayload,
  isoWeekDropId,
  packCardArt,
  packTicket,
  seedCommitment,
  unpackCardArt,
  verifyDrop,
  type CatalogCard,
} from '../src/index.js'
import { pixbookStream } from '../src/testing/index.js'
import { arts, DROP, economyWorld, PALETTE, SEED } from './support/economy-world.js'

function catalog(n: number, supply: (i: number) => number | null): CatalogCard[] {
  return Array.from({ length: n }, (_, i) => ({ cardId: `c${String(i).padStart(2, '0')}`, supply: supply(i) }))
}

describe('derivePack', () => {
  it('is deterministic in its inputs and differs between collectors and drops', () => {
    const cat = catalog(30, () => null)
    const a = derivePack(SEED, 'week-2026-W49', 'alice', cat, () => 0)
    expect(derivePack(SEED, 'week-2026-W49', 'alice', [...cat].reverse(), () => 0)).toEqual(a)
    expect(a.cardIds).toHaveLength(5)
    expect(new Set(a.cardIds).size).toBe(5)
    expect(a.ticket).toBe(packTicket(SEED, 'week-2026-W49', 'alice'))
    expect(derivePack(SEED, 'week-2026-W49', 'bob', cat, () => 0).cardIds).not.toEqual(a.cardIds)
    expect(derivePack(SEED, 'week-2026-W50', 'alice', cat, () => 0).cardIds).not.toEqual(a.cardIds)
  })

  it('never issues beyond supply when claims consume it in log order, and sells out', () => {
    const cat = catalog(12, (i) => (i % 3 === 0 ? null : i + 1))
    const issued = new Map<string, number>()
    const limited = cat.filter((c) => c.supply !== null)
    for (let n = 0; n < 400; n++) {
      const pack = derivePack(SEED, 'd1', `collector-${n}`, cat, (id) => issued.get(id) ?? 0, 5)
      expect(new Set(pack.cardIds).size).toBe(pack.cardIds.length)
      for (const id of pack.cardIds) issued.set(id, (issued.get(id) ?? 0) + 1)
    }
    for (const c of limited) expect(issued.get(c.cardId)).toBe(c.supply) // consumed exactly, never more

    const tiny = catalog(3, () => 1)
    const used = new Map<string, number>()
    const first = derivePack(SEED, 'd2', 'x', tiny, (id) => used.get(id) ?? 0, 5)
    expect(first.cardIds).toHaveLength(3) // fewer than packSize left: the pack holds what is left
    for (const id of first.cardIds) used.set(id, 1)
    expect(derivePack(SEED, 'd2', 'y', tiny, (id) => used.get(id) ?? 0, 5).cardIds).toEqual([])
  })

  it('commits to the seed bytes and names ISO weeks', () => {
    expect(seedCommitment(SEED)).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(() => seedCommitment('short')).toThrow(RangeError)
    expect(isoWeekDropId(new Date('2026-12-01T23:00:00Z'))).toBe('week-2026-W49')
    expect(isoWeekDropId(new Date('2021-01-01T00:00:00Z'))).toBe('week-2020-W53')
    expect(isoWeekDropId(new Date('2024-12-30T00:00:00Z'))).toBe('week-2025-W01')
  })
})

describe('card art', () => {
  it('packs 256 4-bit indices into 128 bytes and renders them with the palette', () => {
    const pixels = Array.from({ length: 256 }, (_, i) => (i * 5) % 16)
    const art = packCardArt(pixels)
    expect(art).toHaveLength(128)
    expect(art[0]).toBe(0x05)
    expect(unpackCardArt(art)).toEqual(pixels)
    expect(cardArtHash(art)).toMatch(/^sha256:/)
    const svg = cardArtSvg(art, PALETTE, 2)
    expect(svg).toContain('width="32"')
    expect(svg).toContain(`fill="${PALETTE[5]}"`)
    expect(() => packCardArt([16, ...pixels.slice(1)])).toThrow(RangeError)
    expect(() => unpackCardArt(new Uint8Array(127))).toThrow(RangeError)
  })
})

const DROP_FACT = { collectionId: 'pixpax-1', version: 1, series: ['s1'], packSize: 5 }

describe('economy rules over a whole log', () => {
  it('accepts the derived pack once per collector, refuses forged, repeated and over-supply packs', async () => {
    const { w, collection } = await economyWorld()
    const issued = new Map<string, number>()
    const count = (id: string) => issued.get(id) ?? 0
    const payload = dropPackPayload({ seed: SEED, dropId: DROP.dropId, collector: 'alice', drop: DROP_FACT, collection, issued: count })
    const aliceBook = pixbookStream('acc-a', 'book')
    await w.ok(aliceBook, 'PACK_ISSUED', payload, w.issuer)
    for (const c of payload.cards) issued.set(c.cardId, count(c.cardId) + 1)
    await w.refused(aliceBook, 'PACK_ISSUED', payload, w.issuer, 'drop_already_claimed')

    const bobPack = dropPackPayload({ seed: SEED, dropId: DROP.dropId, collector: 'bob', drop: DROP_FACT, collection, issued: count })
    const forged = { ...bobPack, cards: [...bobPack.cards].reverse() }
    const bobBook = pixbookStream('acc-b', 'book')
    await w.refused(bobBook, 'PACK_ISSUED', forged, w.issuer, 'pack_not_derived')
    await w.refused(bobBook, 'PACK_ISSUED', { ...bobPack, drop: { ...bobPack.drop, dropId: 'other' } }, w.issuer, 'drop_unknown')
    await w.ok(bobBook, 'PACK_ISSUED', bobPack, w.issuer)

    // A free pack of the collection counts against supply too: card-0 has a supply of 2.
    const used = count('card-0') + (bobPack.cards.some((c) => c.cardId === 'card-0') ? 1 : 0)
    const extra = (packId: string) => ({ packId, collectionId: 'pixpax-1', cards: [{ cardId: 'card-0', artHash: arts(0) }] })
    for (let i = used; i < 2; i++) await w.ok(aliceBook, 'PACK_ISSUED', extra(`promo-${i}`), w.issuer)
    await w.refused(aliceBook, 'PACK_ISSUED', extra('promo-x'), w.issuer, 'supply_exhausted')
    await w.refused(
      aliceBook,
      'PACK_ISSUED',
      { ...extra('promo-y'), cards: [{ cardId: 'card-1', artHash: arts(2) }] },
      w.issuer,
      'card_art_mismatch',
    )

    await w.refused(DROP, 'DROP_REVEALED', { seed: base64UrlEncode(new Uint8Array(32)) }, w.issuer, 'drop_seed_mismatch')
    await w.ok(DROP, 'DROP_REVEALED', { seed: SEED }, w.issuer)
    await w.refused(
      bobBook,
      'PACK_ISSUED',
      dropPackPayload({ seed: SEED, dropId: DROP.dropId, collector: 'carol', drop: DROP_FACT, collection, issued: () => 0 }),
      w.issuer,
      'drop_closed',
    )

    const report = verifyDrop(w.log, DROP.dropId)
    expect(report).toEqual({ ok: true, dropId: DROP.dropId, revealed: true, packs: 2, problems: [] })
  })

  it('verifyDrop fails a pack whose ticket is not from the committed seed', async () => {
    const { w, collection } = await economyWorld()
    const otherSeed = base64UrlEncode(new Uint8Array(32).fill(9))
    // The issuer "chooses" a pack by using another seed: consistent with its own ticket, so acceptance
    // cannot tell — the reveal does.
    const chosen = dropPackPayload({
      seed: otherSeed,
      dropId: DROP.dropId,
      collector: 'alice',
      drop: DROP_FACT,
      collection,
      issued: () => 0,
    })
    await w.ok(pixbookStream('acc-a', 'book'), 'PACK_ISSUED', chosen, w.issuer)
    await w.ok(DROP, 'DROP_REVEALED', { seed: SEED }, w.issuer)
    const report = verifyDrop(w.log, DROP.dropId)
    expect(report.ok).toBe(false)
    expect(report.problems.map((p) => p.problem)).toContain('the ticket is not sha256(seed, dropId, collector)')
  })

  it('moves instances on an accepted trade and refuses double spends', async () => {
    const { w, collection, alice, bob } = await economyWorld()
    const aliceBook = pixbookStream('acc-a', 'book')
    const bobBook = pixbookStream('acc-b', 'book')
    const pack = dropPackPayload({ seed: SEED, dropId: DROP.dropId, collector: 'alice', drop: DROP_FACT, collection, issued: () => 0 })
    await w.ok(aliceBook, 'PACK_ISSUED', pack, w.issuer)
    const instance = `${pack.packId}-0`
    const toBob = { accountId: 'acc-b', bookId: 'book' }
    await w.refused(aliceBook, 'CARD_TRADE_OFFERED', { tradeId: 't0', cardId: 'nope-0', to: toBob }, alice, 'card_not_owned')
    const offer1 = await w.ok(aliceBook, 'CARD_TRADE_OFFERED', { tradeId: 't1', cardId: instance, to: toBob }, alice)
    const offer2 = await w.ok(aliceBook, 'CARD_TRADE_OFFERED', { tradeId: 't2', cardId: instance, to: toBob }, alice)
    const fromAlice = { accountId: 'acc-a', bookId: 'book' }
    await w.refused(
      bobBook,
      'CARD_TRADE_ACCEPTED',
      { tradeId: 't1', from: fromAlice, offerEventId: offer2.eventId, offerHash: offer2.hash },
      bob,
      'trade_not_open',
    )
    await w.ok(
      bobBook,
      'CARD_TRADE_ACCEPTED',
      { tradeId: 't1', from: fromAlice, offerEventId: offer1.eventId, offerHash: offer1.hash },
      bob,
    )
    await w.refused(
      bobBook,
      'CARD_TRADE_ACCEPTED',
      { tradeId: 't1', from: fromAlice, offerEventId: offer1.eventId, offerHash: offer1.hash },
      bob,
      'trade_not_open',
    )
    await w.refused(
      bobBook,
      'CARD_TRADE_ACCEPTED',
      { tradeId: 't2', from: fromAlice, offerEventId: offer2.eventId, offerHash: offer2.hash },
      bob,
      'card_not_owned',
    )
    await w.refused(aliceBook, 'CARD_TRADE_OFFERED', { tradeId: 't3', cardId: instance, to: toBob }, alice, 'card_not_owned')
    // Bob now holds it and can offer it back; alice cancels her stale offer.
    await w.ok(bobBook, 'CARD_TRADE_OFFERED', { tradeId: 'b1', cardId: instance, to: fromAlice, wantCardId: pack.cards[1]!.cardId }, bob)
    await w.ok(aliceBook, 'CARD_TRADE_CANCELLED', { tradeId: 't2' }, alice)
    await w.refused(aliceBook, 'CARD_TRADE_CANCELLED', { tradeId: 't2' }, alice, 'trade_not_open')
  })
})
