/**
 * Trades without double spend over a real relay: card instances come from packs; an offer names an
 * instance its book holds, an acceptance names the offer (eventId + hash) and is decided at acceptance
 * from the facts — the offer open and addressed to this book, every instance still its owner's — and
 * the projection moves the instances. Each rule refused with its name and the state unchanged; offer and
 * acceptance in one request (one batch) decide like two; two relay processes on one Postgres race 100
 * acceptances of offers of the same card: exactly one wins.
 */
import { randomBytes } from 'node:crypto'
import type { Receipt } from '@pixpax/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rebuild } from '../src/replay/rebuild.js'
import {
  claim,
  ECONOMY_ENV,
  economyWorld,
  newCollector,
  postAs,
  type CardSpec,
  type Collector,
  type EconomyWorld,
  type Relay,
} from './support/economy-fixtures.js'
import {
  dropSchemas,
  http,
  postReceipts,
  relayEnv,
  startTestRelay,
  startRelayProcess,
  storedState,
  uniqueSchema,
  type DbKind,
  type RelayProcess,
  type TestRelay,
} from './support/relay-harness.js'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** This file's schemas: its own random prefix, so another run on the same database keeps its own. */
const PREFIX = `econt_${randomBytes(3).toString('hex')}`

const CARDS: CardSpec[] = Array.from({ length: 10 }, (_, i) => ({ cardId: `k${i}`, seriesId: 's', supply: null }))
const DROP = 'trade-drop'

afterAll(async () => {
  await dropSchemas(PREFIX)
})

interface BookView {
  instances: Array<{ instanceId: string; cardId: string }>
  trades: { inbox: Array<{ tradeId: string; state: string }>; outbox: Array<{ tradeId: string; state: string }> }
}
const view = async (relay: Relay, c: Collector): Promise<BookView> =>
  (
    await http<BookView>(`${relay.url}/v1/pixbooks/${c.accountId}/${c.bookId}/collection`, {
      headers: { authorization: `Bearer ${c.token}` },
    })
  ).json

async function scheduleDrop(relay: Relay, world: EconomyWorld): Promise<void> {
  const res = await postAs(`${relay.url}/v1/drops`, world.adminToken, {
    issuerId: world.issuer.identityId,
    collectionId: world.collectionId,
    dropId: DROP,
    opensAt: new Date(Date.now() - 60_000).toISOString(),
  })
  if (res.status !== 200) throw new Error(`drop: ${res.text}`)
}

/** Claims c's pack; c.book's head moves past the PACK_ISSUED the relay appended. */
async function claimed(relay: Relay, c: Collector): Promise<Array<{ instanceId: string; cardId: string }>> {
  const res = await claim(relay, c, DROP)
  if (res.status !== 200) throw new Error(`claim: ${res.text}`)
  c.book.advance(res.json.receipt, res.json.seq)
  return res.json.pack.cards
}

const ref = (c: Collector) => ({ accountId: c.accountId, bookId: c.bookId })

/** Posts one receipt of c's book; returns the rule that refused it (state unchanged), or 'accepted'. */
async function act(relay: TestRelay, c: Collector, type: string, payload: Record<string, unknown>): Promise<string> {
  const before = await storedState(relay.deps)
  const receipt = await c.book.build(type, payload, c.who)
  const res = await postReceipts(relay.url, [receipt])
  const result = res.json.results?.[0]
  if (result?.ok) {
    c.book.advance(receipt, result.seq)
    return 'accepted'
  }
  expect(result?.error.code, res.text).toBe('DOMAIN_RULE_VIOLATION')
  expect(await storedState(relay.deps)).toEqual(before)
  return result!.error.details!.rule as string
}

describe.each<DbKind>(['pglite', 'pg'])('economy trades on %s', (db) => {
  let relay: TestRelay
  let alice: Collector
  let bob: Collector
  let carol: Collector
  let aliceCards: Array<{ instanceId: string; cardId: string }>
  let bobCards: Array<{ instanceId: string; cardId: string }>

  beforeAll(async () => {
    relay = await startTestRelay({ db, store: 'fs', schema: uniqueSchema(`${PREFIX}_${db}`), env: ECONOMY_ENV })
    const world = await economyWorld(relay, CARDS)
    await scheduleDrop(relay, world)
    ;[alice, bob, carol] = [await newCollector(relay, 'alice'), await newCollector(relay, 'bob'), await newCollector(relay, 'carol')]
    aliceCards = await claimed(relay, alice)
    bobCards = await claimed(relay, bob)
  }, 60_000)
  afterAll(async () => {
    await relay?.close()
  })

  it('moves an offered instance on acceptance and refuses every double spend by name', async () => {
    const card = aliceCards[0]!.instanceId
    expect(await act(relay, alice, 'CARD_TRADE_OFFERED', { tradeId: 't0', cardId: bobCards[0]!.instanceId, to: ref(bob) })).toBe(
      'card_not_owned',
    )
    expect(await act(relay, alice, 'CARD_TRADE_OFFERED', { tradeId: 't0', cardId: card, to: ref(alice) })).toBe('trade_to_self')
    expect(await act(relay, alice, 'CARD_TRADE_OFFERED', { tradeId: 't1', cardId: card, to: ref(bob) })).toBe('accepted')
    const offer1 = { eventId: alice.book.head!.eventId, hash: alice.book.head!.hash }
    expect(await act(relay, alice, 'CARD_TRADE_OFFERED', { tradeId: 't1', cardId: card, to: ref(bob) })).toBe('trade_exists')
    expect(await act(relay, alice, 'CARD_TRADE_OFFERED', { tradeId: 't2', cardId: card, to: ref(carol) })).toBe('accepted')
    const offer2 = { eventId: alice.book.head!.eventId, hash: alice.book.head!.hash }

    const accept = (tradeId: string, o: { eventId: string; hash: string }, extra: Record<string, unknown> = {}) => ({
      tradeId,
      from: ref(alice),
      offerEventId: o.eventId,
      offerHash: o.hash,
      ...extra,
    })
    expect(await act(relay, bob, 'CARD_TRADE_ACCEPTED', accept('t1', offer2))).toBe('trade_not_open') // names another receipt
    expect(await act(relay, carol, 'CARD_TRADE_ACCEPTED', accept('t1', offer1))).toBe('trade_not_open') // not addressed to carol
    expect(await act(relay, bob, 'CARD_TRADE_ACCEPTED', accept('t1', offer1, { giveCardId: bobCards[0]!.instanceId }))).toBe('trade_terms')
    expect(await act(relay, bob, 'CARD_TRADE_ACCEPTED', accept('t1', offer1))).toBe('accepted')
    expect(await act(relay, bob, 'CARD_TRADE_ACCEPTED', accept('t1', offer1))).toBe('trade_not_open')
    // Carol's offer of the same card is still open, but the card is no longer alice's.
    expect(await act(relay, carol, 'CARD_TRADE_ACCEPTED', accept('t2', offer2))).toBe('card_not_owned')
    expect(await act(relay, alice, 'CARD_TRADE_OFFERED', { tradeId: 't3', cardId: card, to: ref(carol) })).toBe('card_not_owned')
    expect(await act(relay, carol, 'CARD_TRADE_DECLINED', { tradeId: 't2', from: ref(alice) })).toBe('accepted')
    expect(await act(relay, alice, 'CARD_TRADE_CANCELLED', { tradeId: 't2' })).toBe('trade_not_open')

    const [a, b] = [await view(relay, alice), await view(relay, bob)]
    expect(a.instances.map((i) => i.instanceId)).not.toContain(card)
    expect(b.instances.map((i) => i.instanceId)).toContain(card)
    expect(a.trades.outbox).toMatchObject([
      { tradeId: 't1', state: 'accepted' },
      { tradeId: 't2', state: 'declined' },
    ])
    expect(b.trades.inbox).toMatchObject([{ tradeId: 't1', state: 'accepted' }])
  })

  it('swaps two instances when the offer wants a card and the acceptance gives one', async () => {
    const mine = aliceCards[1]!
    const wanted = bobCards.find((c) => !aliceCards.some((a) => a.cardId === c.cardId)) ?? bobCards[1]!
    expect(
      await act(relay, alice, 'CARD_TRADE_OFFERED', { tradeId: 's1', cardId: mine.instanceId, to: ref(bob), wantCardId: wanted.cardId }),
    ).toBe('accepted')
    const offer = { offerEventId: alice.book.head!.eventId, offerHash: alice.book.head!.hash }
    const other = bobCards.find((c) => c.cardId !== wanted.cardId)!
    expect(await act(relay, bob, 'CARD_TRADE_ACCEPTED', { tradeId: 's1', from: ref(alice), ...offer })).toBe('trade_terms')
    expect(await act(relay, bob, 'CARD_TRADE_ACCEPTED', { tradeId: 's1', from: ref(alice), ...offer, giveCardId: other.instanceId })).toBe(
      'trade_terms',
    )
    expect(await act(relay, bob, 'CARD_TRADE_ACCEPTED', { tradeId: 's1', from: ref(alice), ...offer, giveCardId: wanted.instanceId })).toBe(
      'accepted',
    )
    const [a, b] = [await view(relay, alice), await view(relay, bob)]
    expect(a.instances.map((i) => i.instanceId)).toContain(wanted.instanceId)
    expect(b.instances.map((i) => i.instanceId)).toContain(mine.instanceId)
    expect(b.instances.map((i) => i.instanceId)).not.toContain(wanted.instanceId)
  })

  it('decides an offer and its acceptances in one request (one batch) like one by one', async () => {
    const card = aliceCards[2]!.instanceId
    const offer = await alice.book.build('CARD_TRADE_OFFERED', { tradeId: 'b1', cardId: card, to: ref(carol) }, alice.who)
    const accept = await carol.book.build(
      'CARD_TRADE_ACCEPTED',
      { tradeId: 'b1', from: ref(alice), offerEventId: offer.eventId, offerHash: offer.hash },
      carol.who,
    )
    carol.book.advance(accept)
    // Carol offers the card on at once, and bob tries to take alice's old offer of it in the same batch.
    const onward = await carol.book.build('CARD_TRADE_OFFERED', { tradeId: 'b2', cardId: card, to: ref(bob) }, carol.who)
    const res = await postReceipts(relay.url, [offer, accept, onward])
    expect(res.json.results!.map((r) => r.ok)).toEqual([true, true, true])
    alice.book.advance(offer)
    carol.book.advance(onward)
    expect((await view(relay, carol)).instances.map((i) => i.instanceId)).toContain(card)
  })

  it('rebuilds trades and instances to the same digest', async () => {
    const before = await storedState(relay.deps)
    await rebuild({
      db: relay.deps.db,
      store: relay.deps.store,
      sha256: relay.deps.sha256,
      verifier: relay.deps.verifier,
      policy: relay.app.relay.policy,
    })
    expect((await storedState(relay.deps)).digest).toBe(before.digest)
  }, 60_000)
})

describe('two relay processes on one Postgres', () => {
  const RIVALS = 100
  let relays: RelayProcess[] = []

  afterAll(async () => {
    await Promise.all(relays.map((r) => r.stop()))
  })

  it(`lets exactly one of ${RIVALS} concurrent acceptances of offers of the same card win`, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pixpax-econ-'))
    const env = {
      ...relayEnv({ db: 'pg', store: 'fs', dataDir, schema: uniqueSchema(`${PREFIX}_two`), env: ECONOMY_ENV }),
      LOG_LEVEL: 'error',
    }
    relays = await Promise.all([startRelayProcess(env), startRelayProcess(env)])
    const [one, two] = relays as [RelayProcess, RelayProcess]
    const world = await economyWorld(one, CARDS)
    await scheduleDrop(one, world)
    const alice = await newCollector(one, 'alice')
    const card = (await claimed(one, alice))[0]!.instanceId
    const rivals: Collector[] = []
    for (let i = 0; i < RIVALS; i += 25)
      rivals.push(
        ...(await Promise.all(Array.from({ length: Math.min(25, RIVALS - i) }, (_, j) => newCollector(i % 50 ? two : one, `r${i + j}`)))),
      )
    // Alice offers the same card to every rival (her stream, in order), in one request.
    const offers: Receipt[] = []
    for (const [i, r] of rivals.entries()) {
      const offer = await alice.book.build('CARD_TRADE_OFFERED', { tradeId: `o${i}`, cardId: card, to: ref(r) }, alice.who)
      alice.book.advance(offer)
      offers.push(offer)
    }
    const posted = await postReceipts(one.url, offers)
    expect(posted.json.results!.every((r) => r.ok)).toBe(true)
    const accepts = await Promise.all(
      rivals.map((r, i) =>
        r.book.build(
          'CARD_TRADE_ACCEPTED',
          { tradeId: `o${i}`, from: ref(alice), offerEventId: offers[i]!.eventId, offerHash: offers[i]!.hash },
          r.who,
        ),
      ),
    )
    const results = await Promise.all(accepts.map((a, i) => postReceipts((i % 2 ? two : one).url, [a])))
    const outcomes = results.map((r) => {
      const result = r.json.results![0]!
      return result.ok ? 'accepted' : (result.error.details?.rule as string)
    })
    expect(outcomes.filter((o) => o === 'accepted')).toHaveLength(1)
    expect(outcomes.filter((o) => o === 'card_not_owned')).toHaveLength(RIVALS - 1)
    const winner = rivals[outcomes.indexOf('accepted')]!
    const held = await view(two, winner)
    expect(held.instances.map((i) => i.instanceId)).toContain(card)
    expect((await view(one, alice)).instances.map((i) => i.instanceId)).not.toContain(card)
  }, 180_000)
})
