/**
 * `GET /v1/pixbooks/:accountId/:bookId/counterparts` over a real relay (docs/economy.md, "Offline book
 * view"): a book's readers get exactly the receipts of other books that decide its trades — offers to it
 * and their cancels, acceptances and declines of its offers, the packs of instances it received — and
 * the catalog, each with the relay ack naming it; nothing else of the other books (their other offers,
 * their genesis), and nobody else may read them. On PGlite and Postgres.
 */
import { randomBytes } from 'node:crypto'
import type { Receipt } from '@pixpax/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claim, ECONOMY_ENV, economyWorld, newCollector, postAs, type CardSpec, type Collector } from './support/economy-fixtures.js'
import { dropSchemas, http, postReceipts, startTestRelay, uniqueSchema, type DbKind, type TestRelay } from './support/relay-harness.js'

/** This file's schemas: its own random prefix, so another run on the same database keeps its own. */
const PREFIX = `econp_${randomBytes(3).toString('hex')}`

const CARDS: CardSpec[] = Array.from({ length: 8 }, (_, i) => ({ cardId: `q${i}`, seriesId: 's', supply: null }))
const DROP = 'counterpart-drop'

afterAll(async () => {
  await dropSchemas(PREFIX)
})

interface Served {
  streamKey: string
  seq: number
  position: number
  receipt: Receipt
  ack: { stream: string; seq: number; position: number; eventId: string; hash: string }
}

const ref = (c: Collector) => ({ accountId: c.accountId, bookId: c.bookId })

describe.each<DbKind>(['pglite', 'pg'])('counterpart receipts on %s', (db) => {
  let relay: TestRelay
  let alice: Collector
  let bob: Collector
  let carol: Collector
  const sent: Record<string, Receipt> = {}

  async function act(name: string, c: Collector, type: string, payload: Record<string, unknown>): Promise<Receipt> {
    const receipt = await c.book.build(type, payload, c.who)
    const res = await postReceipts(relay.url, [receipt])
    const result = res.json.results?.[0]
    if (!result?.ok) throw new Error(`${type}: ${res.text}`)
    c.book.advance(receipt, result.seq)
    sent[name] = receipt
    return receipt
  }
  const served = async (c: Collector, token = c.token) =>
    http<{ receipts: Served[] }>(`${relay.url}/v1/pixbooks/${c.accountId}/${c.bookId}/counterparts`, {
      headers: { authorization: `Bearer ${token}` },
    })

  beforeAll(async () => {
    relay = await startTestRelay({ db, store: 'fs', schema: uniqueSchema(`${PREFIX}_${db}`), env: ECONOMY_ENV })
    const world = await economyWorld(relay, CARDS)
    const drop = await postAs(`${relay.url}/v1/drops`, world.adminToken, {
      issuerId: world.issuer.identityId,
      collectionId: world.collectionId,
      dropId: DROP,
      opensAt: new Date(Date.now() - 60_000).toISOString(),
    })
    if (drop.status !== 200) throw new Error(`drop: ${drop.text}`)
    ;[alice, bob, carol] = [await newCollector(relay, 'alice'), await newCollector(relay, 'bob'), await newCollector(relay, 'carol')]
    const packs: Record<string, string[]> = {}
    for (const c of [alice, bob, carol]) {
      const res = await claim(relay, c, DROP)
      if (res.status !== 200) throw new Error(`claim: ${res.text}`)
      c.book.advance(res.json.receipt, res.json.seq)
      sent[`pack-${c.accountId}`] = res.json.receipt
      packs[c.accountId] = res.json.pack.cards.map((x) => x.instanceId)
    }
    const [a, b] = [packs[alice.accountId]!, packs[bob.accountId]!]
    // bob → alice, accepted; bob → alice, cancelled; alice → bob, declined; bob → carol (not alice's business).
    const gift = await act('gift', bob, 'CARD_TRADE_OFFERED', { tradeId: 'g', cardId: b[0], to: ref(alice) })
    await act('gift-accepted', alice, 'CARD_TRADE_ACCEPTED', {
      tradeId: 'g',
      from: ref(bob),
      offerEventId: gift.eventId,
      offerHash: gift.hash,
    })
    await act('undo', bob, 'CARD_TRADE_OFFERED', { tradeId: 'u', cardId: b[1], to: ref(alice) })
    await act('undo-cancelled', bob, 'CARD_TRADE_CANCELLED', { tradeId: 'u' })
    await act('no', alice, 'CARD_TRADE_OFFERED', { tradeId: 'n', cardId: a[0], to: ref(bob) })
    await act('no-declined', bob, 'CARD_TRADE_DECLINED', { tradeId: 'n', from: ref(alice) })
    await act('other', bob, 'CARD_TRADE_OFFERED', { tradeId: 'o', cardId: b[2], to: ref(carol) })
  }, 60_000)
  afterAll(async () => {
    await relay?.close()
  })

  it("serves exactly the receipts of other books that decide a book's trades, with their acks, in log order", async () => {
    const res = await served(alice)
    expect(res.status, res.text).toBe(200)
    const list = res.json.receipts
    const books = list.filter((s) => s.streamKey.startsWith('pixbook/'))
    expect(books.map((s) => s.receipt.eventId)).toEqual(
      [sent[`pack-${bob.accountId}`]!, sent.gift!, sent.undo!, sent['undo-cancelled']!, sent['no-declined']!].map((r) => r.eventId),
    )
    expect(list.filter((s) => !s.streamKey.startsWith('pixbook/')).map((s) => s.receipt.type)).toEqual([
      'COLLECTION_CREATED',
      'COLLECTION_VERSION_PUBLISHED',
    ])
    expect(list.map((s) => s.position)).toEqual([...list.map((s) => s.position)].sort((x, y) => x - y))
    for (const s of list) {
      expect(s.ack).toMatchObject({
        stream: s.streamKey,
        seq: s.seq,
        position: s.position,
        eventId: s.receipt.eventId,
        hash: s.receipt.hash,
      })
    }
    // Nothing of alice's own book, nothing of bob's that is not about alice.
    expect(list.some((s) => s.streamKey === `pixbook/${alice.accountId}/${alice.bookId}`)).toBe(false)
    expect(list.map((s) => s.receipt.eventId)).not.toContain(sent.other!.eventId)
    expect(list.map((s) => s.receipt.type)).not.toContain('PIXBOOK_CREATED')
  })

  it("refuses another collector's session, and a book with no packs nor trades gets nothing", async () => {
    const refused = await served(alice, carol.token)
    expect(refused.status).toBe(403)
    expect((refused.json as unknown as { error: { code: string } }).error.code).toBe('FORBIDDEN')
    const fresh = await newCollector(relay, 'dave')
    expect((await served(fresh)).json.receipts).toEqual([])
  })
})
