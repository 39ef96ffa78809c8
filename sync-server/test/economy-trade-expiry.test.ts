/**
 * Offer expiry over a real relay (docs/economy.md, "Card instances and trades"): an offer may carry
 * `expiresAt`, which must be after its own createdAt; an acceptance created at or past it is refused
 * `trade_expired` (state unchanged), a decline or a cancel still closes it; the collection route shows an
 * open offer past its expiry as `expired`; the trades rebuild to the same digest. On PGlite and Postgres
 * (migration 004 on both).
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ECONOMY_FACTS, type TradeFact } from '@pixpax/shared'
import { loadFacts } from '../src/domains/economy/load-facts.js'
import { rebuild } from '../src/replay/rebuild.js'
import { claim, ECONOMY_ENV, economyWorld, newCollector, postAs, type CardSpec, type Collector } from './support/economy-fixtures.js'
import {
  dropSchemas,
  http,
  postReceipts,
  startTestRelay,
  storedState,
  uniqueSchema,
  type DbKind,
  type TestRelay,
} from './support/relay-harness.js'

/** This file's schemas: its own random prefix, so another run on the same database keeps its own. */
const PREFIX = `econx_${randomBytes(3).toString('hex')}`

const CARDS: CardSpec[] = Array.from({ length: 10 }, (_, i) => ({ cardId: `x${i}`, seriesId: 's', supply: null }))
const DROP = 'expiry-drop'
const iso = (ms: number): string => new Date(ms).toISOString()

afterAll(async () => {
  await dropSchemas(PREFIX)
})

interface TradeView {
  tradeId: string
  state: string
  expiresAt: string | null
}
interface BookView {
  instances: Array<{ instanceId: string }>
  trades: { inbox: TradeView[]; outbox: TradeView[] }
}

const ref = (c: Collector) => ({ accountId: c.accountId, bookId: c.bookId })

describe.each<DbKind>(['pglite', 'pg'])('offer expiry on %s', (db) => {
  let relay: TestRelay
  let alice: Collector
  let bob: Collector
  let cards: string[]

  const view = async (c: Collector): Promise<BookView> =>
    (
      await http<BookView>(`${relay.url}/v1/pixbooks/${c.accountId}/${c.bookId}/collection`, {
        headers: { authorization: `Bearer ${c.token}` },
      })
    ).json

  /** Posts one receipt of c's book (createdAt as given); the rule that refused it (state unchanged), or 'accepted'. */
  async function act(c: Collector, type: string, payload: Record<string, unknown>, createdAt?: string): Promise<string> {
    const before = await storedState(relay.deps)
    const receipt = await c.book.build(type, payload, c.who, createdAt ? { createdAt } : {})
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
  const offerHead = () => ({ offerEventId: alice.book.head!.eventId, offerHash: alice.book.head!.hash })

  beforeAll(async () => {
    relay = await startTestRelay({ db, store: 'fs', schema: uniqueSchema(`${PREFIX}_${db}`), env: ECONOMY_ENV })
    const world = await economyWorld(relay, CARDS)
    const drop = await postAs(`${relay.url}/v1/drops`, world.adminToken, {
      issuerId: world.issuer.identityId,
      collectionId: world.collectionId,
      dropId: DROP,
      opensAt: iso(Date.now() - 3600_000),
    })
    if (drop.status !== 200) throw new Error(`drop: ${drop.text}`)
    ;[alice, bob] = [await newCollector(relay, 'alice'), await newCollector(relay, 'bob')]
    const res = await claim(relay, alice, DROP)
    if (res.status !== 200) throw new Error(`claim: ${res.text}`)
    alice.book.advance(res.json.receipt, res.json.seq)
    cards = res.json.pack.cards.map((c) => c.instanceId)
  }, 60_000)
  afterAll(async () => {
    await relay?.close()
  })

  it('refuses an offer whose expiresAt is not after its own createdAt', async () => {
    const now = Date.now()
    const at = iso(now)
    expect(await act(alice, 'CARD_TRADE_OFFERED', { tradeId: 'e0', cardId: cards[0], to: ref(bob), expiresAt: at }, at)).toBe(
      'trade_expired',
    )
    expect(await act(alice, 'CARD_TRADE_OFFERED', { tradeId: 'e0', cardId: cards[0], to: ref(bob), expiresAt: iso(now - 1) }, at)).toBe(
      'trade_expired',
    )
  })

  it('accepts before the expiry and refuses at and after it, decided by the acceptance createdAt', async () => {
    const now = Date.now()
    expect(await act(alice, 'CARD_TRADE_OFFERED', { tradeId: 'e1', cardId: cards[0], to: ref(bob), expiresAt: iso(now + 3600_000) })).toBe(
      'accepted',
    )
    const e1 = offerHead()
    // Offered a minute ago, expired half a minute ago (a valid offer: it expires after its createdAt).
    const expiresAt = iso(now - 30_000)
    expect(await act(alice, 'CARD_TRADE_OFFERED', { tradeId: 'e2', cardId: cards[1], to: ref(bob), expiresAt }, iso(now - 60_000))).toBe(
      'accepted',
    )
    const e2 = offerHead()
    expect(await act(bob, 'CARD_TRADE_ACCEPTED', { tradeId: 'e2', from: ref(alice), ...e2 })).toBe('trade_expired')
    expect(await act(bob, 'CARD_TRADE_ACCEPTED', { tradeId: 'e2', from: ref(alice), ...e2 }, expiresAt)).toBe('trade_expired')
    expect(await act(bob, 'CARD_TRADE_ACCEPTED', { tradeId: 'e1', from: ref(alice), ...e1 })).toBe('accepted')

    const [a, b] = [await view(alice), await view(bob)]
    expect(b.instances.map((i) => i.instanceId)).toContain(cards[0])
    expect(a.instances.map((i) => i.instanceId)).toContain(cards[1])
    expect(a.trades.outbox).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ tradeId: 'e1', state: 'accepted', expiresAt: iso(now + 3600_000) }),
        expect.objectContaining({ tradeId: 'e2', state: 'expired', expiresAt }),
      ]),
    )
    expect(b.trades.inbox.find((t) => t.tradeId === 'e2')).toMatchObject({ state: 'expired' })

    // The documented limit: the acceptance's own createdAt is the clock, so a backdated one passes.
    expect(await act(bob, 'CARD_TRADE_ACCEPTED', { tradeId: 'e2', from: ref(alice), ...e2 }, iso(now - 45_000))).toBe('accepted')
    expect((await view(alice)).trades.outbox.find((t) => t.tradeId === 'e2')).toMatchObject({ state: 'accepted' })
  })

  it('still lets an expired offer be declined or cancelled', async () => {
    const now = Date.now()
    const expired = { to: ref(bob), expiresAt: iso(now - 30_000) }
    expect(await act(alice, 'CARD_TRADE_OFFERED', { tradeId: 'e3', cardId: cards[2], ...expired }, iso(now - 60_000))).toBe('accepted')
    expect(await act(alice, 'CARD_TRADE_OFFERED', { tradeId: 'e4', cardId: cards[3], ...expired }, iso(now - 60_000))).toBe('accepted')
    expect(await act(bob, 'CARD_TRADE_DECLINED', { tradeId: 'e3', from: ref(alice) })).toBe('accepted')
    expect(await act(alice, 'CARD_TRADE_CANCELLED', { tradeId: 'e4' })).toBe('accepted')
    const outbox = (await view(alice)).trades.outbox
    expect(outbox.find((t) => t.tradeId === 'e3')).toMatchObject({ state: 'declined' })
    expect(outbox.find((t) => t.tradeId === 'e4')).toMatchObject({ state: 'cancelled' })
  })

  it('loads a trade fact with expiresAt only when the offer has one, as the rule records it', async () => {
    expect(await act(alice, 'CARD_TRADE_OFFERED', { tradeId: 'e5', cardId: cards[4], to: ref(bob) })).toBe('accepted')
    const key = (tradeId: string) => `${alice.accountId} ${alice.bookId} ${tradeId}`
    const facts = await loadFacts<TradeFact>(relay.deps.db, ECONOMY_FACTS.trade, [key('e1'), key('e5')])
    expect(facts.get(key('e1'))?.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT/)
    expect(facts.get(key('e5'))).toBeDefined()
    expect(Object.keys(facts.get(key('e5'))!)).not.toContain('expiresAt')
  })

  it('rebuilds offers with and without expiry to the same digest', async () => {
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
