/**
 * Golden vectors of the economy (docs/vectors/economy/): a whole log — an issuer, two collectors, a
 * collection with art, a drop with its commitment, both collectors' packs, a trade offered and accepted,
 * the reveal — with each pack's derivation spelled out, and forged variants with the verdict a verifier
 * must reach. Deterministic (fixed keys, clock, seed; RFC 6979 signatures), so the test regenerates and
 * compares them byte for byte; `node --import tsx scripts/economy-vectors.ts` rewrites them.
 */
import {
  base64UrlEncode,
  canonicalJson,
  cardArtHash,
  dropPackPayload,
  packCardArt,
  seedCommitment,
  type CollectionFact,
  type Receipt,
  type StreamRef,
} from '../../src/index.js'
import { actor, author, headOf, makeIdentityCreated, make, type Identity } from '../../src/testing/index.js'

export const ECONOMY_SEED = base64UrlEncode(new Uint8Array(32).map((_, i) => (i * 31 + 7) % 256))
const PALETTE = Array.from({ length: 16 }, (_, i) => `#${(i * 0x0f0f0f).toString(16).padStart(6, '0')}`)

export interface EconomyVectorCase {
  name: string
  description: string
  /** Feed the first `after` lines of drop.ndjson, then `line`. */
  after: number
  line: string
  /** `ok`, or `DOMAIN_RULE_VIOLATION:{rule}`. */
  expected: string
}

/**
 * Cases that need receipts beyond drop.ndjson: feed its first `after` lines, then every `prelude` line
 * (each accepted), then one case's `line`.
 */
export interface ExpiryVectors {
  after: number
  prelude: string[]
  cases: Array<Omit<EconomyVectorCase, 'after'>>
}

export async function buildEconomyVectors(): Promise<{ files: Record<string, string> }> {
  const a = author()
  const issuer = actor('issuer', 'platform', 'issuer', 'economy issuer')
  const alice = actor('alice', 'acc-a', 'person', 'economy alice')
  const bob = actor('bob', 'acc-b', 'person', 'economy bob')
  const log: Receipt[] = []
  const heads = new Map<string, { eventId: string; hash: string }>()
  const add = async (stream: StreamRef, type: string, payload: Record<string, unknown>, by: Identity): Promise<Receipt> => {
    const key = Object.values(stream).join('/')
    const r = await make(a, { stream, type, payload, by, prev: heads.get(key) ?? null })
    log.push(r)
    heads.set(key, headOf(r))
    return r
  }
  for (const who of [issuer, alice, bob]) log.push(await makeIdentityCreated(a, who))
  const collectionStream = { type: 'collection', collectionId: 'pixpax-one' }
  await add(collectionStream, 'COLLECTION_CREATED', { name: 'PixPax One', palette: PALETTE }, issuer)
  const art = (i: number) => cardArtHash(packCardArt(Array.from({ length: 256 }, (_, p) => (p + i * 3) % 16)))
  const cards = Array.from({ length: 8 }, (_, i) => ({
    cardId: `card-${i + 1}`,
    seriesId: 'one',
    name: `Card ${i + 1}`,
    art: art(i),
    supply: i === 0 ? 1 : null,
  }))
  await add(
    collectionStream,
    'COLLECTION_VERSION_PUBLISHED',
    { version: 1, series: [{ seriesId: 'one', name: 'Series one' }], cards },
    issuer,
  )
  const drop = { collectionId: 'pixpax-one', version: 1, series: ['one'], packSize: 5 }
  const dropStream = { type: 'drop', dropId: 'week-2026-W09' }
  await add(
    dropStream,
    'DROP_SCHEDULED',
    { ...drop, commitment: seedCommitment(ECONOMY_SEED), opensAt: '2026-02-23T00:00:00.000Z', closesAt: '2026-03-02T00:00:00.000Z' },
    issuer,
  )
  const aliceBook = { type: 'pixbook', accountId: 'acc-a', bookId: 'book' }
  const bobBook = { type: 'pixbook', accountId: 'acc-b', bookId: 'book' }
  await add(aliceBook, 'PIXBOOK_CREATED', { title: "Alice's book" }, alice)
  await add(bobBook, 'PIXBOOK_CREATED', { title: "Bob's book" }, bob)
  const collection: CollectionFact = { owner: 'issuer', version: 1, series: { one: { retired: false } }, cards: {} }
  for (const c of cards) collection.cards[c.cardId] = { seriesId: c.seriesId, version: 1, art: c.art, supply: c.supply }
  const issued = new Map<string, number>()
  const packs: Array<{ collector: string; eventId: string; packId: string; ticket: string; cards: string[] }> = []
  for (const [who, book] of [
    ['alice', aliceBook],
    ['bob', bobBook],
  ] as const) {
    const payload = dropPackPayload({
      seed: ECONOMY_SEED,
      dropId: dropStream.dropId,
      collector: who,
      drop,
      collection,
      issued: (id) => issued.get(id) ?? 0,
    })
    for (const c of payload.cards) issued.set(c.cardId, (issued.get(c.cardId) ?? 0) + 1)
    const r = await add(book, 'PACK_ISSUED', payload, issuer)
    packs.push({
      collector: who,
      eventId: r.eventId,
      packId: payload.packId,
      ticket: payload.drop.ticket,
      cards: payload.cards.map((c) => c.cardId),
    })
  }
  const instance = `${packs[0]!.packId}-0`
  const offer = await add(
    aliceBook,
    'CARD_TRADE_OFFERED',
    { tradeId: 'trade-1', cardId: instance, to: { accountId: 'acc-b', bookId: 'book' } },
    alice,
  )
  const acceptPayload = {
    tradeId: 'trade-1',
    from: { accountId: 'acc-a', bookId: 'book' },
    offerEventId: offer.eventId,
    offerHash: offer.hash,
  }
  const beforeAccept = log.length
  await add(bobBook, 'CARD_TRADE_ACCEPTED', acceptPayload, bob)
  const beforeReveal = log.length
  await add(dropStream, 'DROP_REVEALED', { seed: ECONOMY_SEED }, issuer)

  // Forged variants, each correctly hashed and signed: only the rules can refuse them.
  const at = (n: number, stream: StreamRef) => {
    const key = Object.values(stream).join('/')
    return [...log.slice(0, n)].reverse().find((r) => Object.values(r.stream).join('/') === key)!
  }
  const forge = async (after: number, stream: StreamRef, type: string, payload: Record<string, unknown>, by: Identity) =>
    canonicalJson(await make(a, { stream, type, payload, by, prev: headOf(at(after, stream)) }))
  const bobPackIndex = log.findIndex((r) => r.eventId === packs[1]!.eventId)
  const bobPack = log[bobPackIndex]!.payload as { cards: Array<{ cardId: string; artHash: string }> }
  const cases: EconomyVectorCase[] = [
    {
      name: 'pack-reordered',
      description: "Bob's pack with its cards in another order: not the derivation from its ticket",
      after: bobPackIndex,
      line: await forge(
        bobPackIndex,
        bobBook,
        'PACK_ISSUED',
        { ...log[bobPackIndex]!.payload, cards: [...bobPack.cards].reverse() },
        issuer,
      ),
      expected: 'DOMAIN_RULE_VIOLATION:pack_not_derived',
    },
    {
      name: 'pack-again',
      description: "Alice's pack issued a second time (into Bob's book)",
      after: bobPackIndex,
      line: await forge(bobPackIndex, bobBook, 'PACK_ISSUED', log.find((r) => r.eventId === packs[0]!.eventId)!.payload, issuer),
      expected: 'DOMAIN_RULE_VIOLATION:drop_already_claimed',
    },
    {
      name: 'supply-exhausted',
      description: 'a free pack of card-1, whose supply of 1 the drop used up',
      after: beforeAccept,
      line: await forge(
        beforeAccept,
        bobBook,
        'PACK_ISSUED',
        { packId: 'promo', collectionId: 'pixpax-one', cards: [{ cardId: 'card-1', artHash: art(0) }] },
        issuer,
      ),
      expected: 'DOMAIN_RULE_VIOLATION:supply_exhausted',
    },
    {
      name: 'accept-wrong-hash',
      description: 'the acceptance names the offer with another hash',
      after: beforeAccept,
      line: await forge(beforeAccept, bobBook, 'CARD_TRADE_ACCEPTED', { ...acceptPayload, offerHash: 'sha256:' + '0'.repeat(64) }, bob),
      expected: 'DOMAIN_RULE_VIOLATION:trade_not_open',
    },
    {
      name: 'offer-not-owned',
      description: 'after the trade, Alice offers the instance she gave away',
      after: beforeReveal,
      line: await forge(
        beforeReveal,
        aliceBook,
        'CARD_TRADE_OFFERED',
        { tradeId: 'trade-2', cardId: instance, to: { accountId: 'acc-b', bookId: 'book' } },
        alice,
      ),
      expected: 'DOMAIN_RULE_VIOLATION:card_not_owned',
    },
    {
      name: 'reveal-wrong-seed',
      description: 'a seed that does not hash to the commitment',
      after: beforeReveal,
      line: await forge(beforeReveal, dropStream, 'DROP_REVEALED', { seed: base64UrlEncode(new Uint8Array(32)) }, issuer),
      expected: 'DOMAIN_RULE_VIOLATION:drop_seed_mismatch',
    },
  ]
  // Offer expiry (appended after every case above, so their bytes stay as they were). The receipts'
  // createdAt is the clock: explicit here, an hour after the log, so the boundary is exact.
  const forgeAt = async (
    after: number,
    stream: StreamRef,
    type: string,
    payload: Record<string, unknown>,
    by: Identity,
    createdAt: string,
  ) => make(a, { stream, type, payload, by, prev: headOf(at(after, stream)), createdAt })
  const OFFERED_AT = '2026-02-24T13:00:00.000Z'
  const EXPIRES_AT = '2026-02-24T14:00:00.000Z'
  const end = log.length
  cases.push({
    name: 'offer-expires-at-created',
    description: 'Alice offers a card with expiresAt equal to the offer createdAt: it must be after it',
    after: end,
    line: canonicalJson(
      await forgeAt(
        end,
        aliceBook,
        'CARD_TRADE_OFFERED',
        { tradeId: 'trade-x0', cardId: `${packs[0]!.packId}-1`, to: { accountId: 'acc-b', bookId: 'book' }, expiresAt: OFFERED_AT },
        alice,
        OFFERED_AT,
      ),
    ),
    expected: 'DOMAIN_RULE_VIOLATION:trade_expired',
  })
  const expiring = await forgeAt(
    end,
    aliceBook,
    'CARD_TRADE_OFFERED',
    { tradeId: 'trade-x1', cardId: `${packs[0]!.packId}-1`, to: { accountId: 'acc-b', bookId: 'book' }, expiresAt: EXPIRES_AT },
    alice,
    OFFERED_AT,
  )
  const acceptExpiring = (createdAt: string) =>
    forgeAt(
      end,
      bobBook,
      'CARD_TRADE_ACCEPTED',
      { tradeId: 'trade-x1', from: { accountId: 'acc-a', bookId: 'book' }, offerEventId: expiring.eventId, offerHash: expiring.hash },
      bob,
      createdAt,
    )
  const expiry: ExpiryVectors = {
    after: end,
    prelude: [canonicalJson(expiring)],
    cases: [
      {
        name: 'accept-before-expiry',
        description: 'Bob accepts the expiring offer one millisecond before its expiresAt',
        line: canonicalJson(await acceptExpiring('2026-02-24T13:59:59.999Z')),
        expected: 'ok',
      },
      {
        name: 'accept-at-expiry',
        description: 'Bob accepts it with createdAt equal to its expiresAt',
        line: canonicalJson(await acceptExpiring(EXPIRES_AT)),
        expected: 'DOMAIN_RULE_VIOLATION:trade_expired',
      },
      {
        name: 'accept-after-expiry',
        description: 'Bob accepts it a day after its expiresAt',
        line: canonicalJson(await acceptExpiring('2026-02-25T14:00:00.000Z')),
        expected: 'DOMAIN_RULE_VIOLATION:trade_expired',
      },
    ],
  }
  const expected = {
    seed: ECONOMY_SEED,
    commitment: seedCommitment(ECONOMY_SEED),
    dropId: dropStream.dropId,
    packs,
    verifyDrop: { ok: true, dropId: dropStream.dropId, revealed: true, packs: 2, problems: [] },
  }
  return {
    files: {
      'drop.ndjson': log.map((r) => canonicalJson(r)).join('\n') + '\n',
      'expected.json': JSON.stringify(expected, null, 2) + '\n',
      'cases.json': JSON.stringify(cases, null, 2) + '\n',
      'expiry.json': JSON.stringify(expiry, null, 2) + '\n',
    },
  }
}
