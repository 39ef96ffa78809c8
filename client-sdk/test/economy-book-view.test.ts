/**
 * The offline book view against a real relay: two collectors claim packs, swap cards (a trade that moves
 * an instance each way), trade one way, decline, cancel, leave an offer open and burn a card; each then
 * fetches its counterpart receipts (verified: signature, issuer key, relay ack) and computes its book
 * from the local log alone — equal, field for field, to the relay's collection route. A served receipt
 * that fails verification (tampered receipt, tampered ack) is refused, quarantined and not kept.
 */
import { cardArtHash, packCardArt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bookView, type BookView } from '../src/economy/book-view.js'
import { acceptTrade, cancelTrade, claimDrop, declineTrade, offerCard, type BookRef } from '../src/economy/commands.js'
import { CounterpartStore } from '../src/economy/counterpart-store.js'
import { fetchCounterparts } from '../src/economy/counterparts.js'
import { login } from '../src/network/session.js'
import { MemoryLocalLog } from '../src/storage/memory-local-log.js'
import { SyncClient } from '../src/sync/sync-client.js'
import { nodeWebSocket, startTestRelay, type TestRelay } from './support/relay.js'
import { authed, person, post, type Person } from './support/people.js'

const DROP = 'view-drop'
const COLLECTION = 'viewc'

interface Collector {
  person: Person
  book: BookRef
  log: MemoryLocalLog
  client: SyncClient
  token: string
}

describe('the offline book view', () => {
  let relay: TestRelay
  let alice: Collector
  let bob: Collector

  const open = async (relay: TestRelay, p: Person): Promise<Collector> => {
    const token = (await login(relay.url, p.id, p.signer)).token
    const log = new MemoryLocalLog()
    const client = await SyncClient.open({
      relayUrl: relay.url,
      log,
      identityId: p.id,
      signer: p.signer,
      webSocket: nodeWebSocket,
      verifier: nodeVerifier(),
      sha256: nodeSha256,
      token: () => token,
    })
    const book = { accountId: p.accountId, bookId: 'book' }
    client.follow(`pixbook/${book.accountId}/${book.bookId}`)
    client.start()
    return { person: p, book, log, client, token }
  }

  const relayView = async (c: Collector): Promise<BookView> =>
    (await (
      await fetch(`${relay.url}/v1/pixbooks/${c.book.accountId}/${c.book.bookId}/collection`, { headers: authed(c.token) })
    ).json()) as BookView

  const fetchFor = (c: Collector, fetchImpl: typeof fetch = fetch) =>
    fetchCounterparts({
      relayUrl: relay.url,
      token: c.token,
      book: c.book,
      log: c.log,
      verifier: nodeVerifier(),
      sha256: nodeSha256,
      fetch: fetchImpl,
      identities: async (ids) => {
        for (const id of ids) c.client.follow(`identity/${id}`)
        await c.client.whenSynced()
      },
    })

  beforeAll(async () => {
    relay = await startTestRelay({ env: { PLATFORM_ISSUERS: 'issuer', ADMIN_IDENTITIES: 'admin' } })
    const issuer = await person(relay, 'issuer', 'issuer')
    const issuerToken = (await login(relay.url, 'issuer', issuer.signer)).token
    const key = (await (await fetch(`${relay.url}/v1/identities/issuer/custodial-key`, { headers: authed(issuerToken) })).json()) as {
      publicKey: unknown
    }
    await post(relay, issuer, { type: 'identity', identityId: 'issuer' }, 'KEY_ADDED', { publicKey: key.publicKey })
    const collection = { type: 'collection', collectionId: COLLECTION }
    await post(relay, issuer, collection, 'COLLECTION_CREATED', { name: 'View', palette: Array.from({ length: 16 }, () => '#000000') })
    const card = (cardId: string, seriesId: string, i: number) => ({
      cardId,
      seriesId,
      name: cardId,
      art: cardArtHash(packCardArt(new Array<number>(256).fill(i % 16))),
      supply: null,
    })
    const cards = [
      ...Array.from({ length: 6 }, (_, i) => card(`c${i}`, 'one', i)),
      ...Array.from({ length: 4 }, (_, i) => card(`d${i}`, 'two', i + 6)),
    ]
    const series = [
      { seriesId: 'one', name: 'One' },
      { seriesId: 'two', name: 'Two' },
    ]
    await post(relay, issuer, collection, 'COLLECTION_VERSION_PUBLISHED', { version: 1, series, cards })
    const admin = await person(relay, 'admin')
    const adminToken = (await login(relay.url, 'admin', admin.signer)).token
    const drop = await fetch(`${relay.url}/v1/drops`, {
      method: 'POST',
      headers: authed(adminToken),
      body: JSON.stringify({
        issuerId: 'issuer',
        collectionId: COLLECTION,
        dropId: DROP,
        opensAt: new Date(Date.now() - 60_000).toISOString(),
      }),
    })
    expect(drop.status).toBe(200)
    const people = [await person(relay, 'alice'), await person(relay, 'bob')]
    for (const p of people)
      await post(relay, p, { type: 'pixbook', accountId: p.accountId, bookId: 'book' }, 'PIXBOOK_CREATED', { title: p.id })
    ;[alice, bob] = [await open(relay, people[0]!), await open(relay, people[1]!)]
  }, 60_000)
  afterAll(async () => {
    await alice?.client.stop()
    await bob?.client.stop()
    await relay?.close()
  })

  it('computes each book offline exactly as the relay does, and refuses what does not verify', async () => {
    const a = (await claimDrop(relay.url, alice.token, DROP, alice.book)).pack.cards
    const b = (await claimDrop(relay.url, bob.token, DROP, bob.book)).pack.cards
    await alice.client.whenSynced()
    await bob.client.whenSynced()
    const synced = async () => {
      await alice.client.whenSynced()
      await bob.client.whenSynced()
    }

    // A swap: alice's a[0] for bob's b[0] (her offer wants its card).
    const swap = await offerCard(alice.client, alice.book, {
      tradeId: 'swap',
      cardId: a[0]!.instanceId,
      to: bob.book,
      wantCardId: b[0]!.cardId,
    })
    await synced()
    await acceptTrade(bob.client, bob.book, swap, b[0]!.instanceId)
    // One way: bob's b[1] to alice.
    const gift = await offerCard(bob.client, bob.book, { tradeId: 'gift', cardId: b[1]!.instanceId, to: alice.book })
    await synced()
    await acceptTrade(alice.client, alice.book, gift)
    // Declined, cancelled, left open (with an expiry), and a burn.
    const declined = await offerCard(alice.client, alice.book, { tradeId: 'no', cardId: a[1]!.instanceId, to: bob.book })
    await offerCard(bob.client, bob.book, { tradeId: 'undo', cardId: b[2]!.instanceId, to: alice.book })
    await offerCard(alice.client, alice.book, { tradeId: 'later', cardId: a[2]!.instanceId, to: bob.book, expiresIn: 3600_000 })
    await synced()
    await declineTrade(bob.client, bob.book, declined)
    await cancelTrade(bob.client, bob.book, 'undo')
    await alice.client.append(`pixbook/${alice.book.accountId}/book`, 'CARD_REMOVED', { cardId: a[3]!.instanceId })
    await synced()
    expect([...alice.client.pending(), ...bob.client.pending()]).toEqual([])

    // Tampered on the way: one receipt's body, another's ack. Both refused and quarantined; the rest kept.
    const tampering: typeof fetch = async (input, init) => {
      const res = await fetch(input, init)
      const body = (await res.json()) as { receipts: Array<{ receipt: { idempotencyKey: string }; ack: { position: number } }> }
      // The last two: trade receipts of bob's book (the catalog comes first, by position).
      body.receipts.at(-1)!.receipt.idempotencyKey = 'forged'
      body.receipts.at(-2)!.ack.position += 1
      return new Response(JSON.stringify(body), { status: res.status, headers: { 'content-type': 'application/json' } })
    }
    const tampered = await fetchFor(alice, tampering)
    expect(tampered.refused.map((r) => r.code).sort()).toEqual(['HASH_MISMATCH', 'SIGNATURE_INVALID'])
    const kept = await new CounterpartStore(alice.log).list(alice.book)
    expect(kept.map((k) => k.receipt.eventId)).not.toContain(tampered.refused[0]!.eventId)
    expect(kept.map((k) => k.receipt.eventId)).not.toContain(tampered.refused[1]!.eventId)
    expect((await alice.log.listQuarantine()).filter((q) => q.id.startsWith('counterpart'))).toHaveLength(2)
    expect((await bookView(alice.log, alice.book)).view).not.toEqual(await relayView(alice))

    for (const c of [alice, bob]) {
      const fetched = await fetchFor(c)
      expect(fetched.refused).toEqual([])
      expect(fetched.kept.length).toBeGreaterThan(0)
    }
    const expected = { alice: await relayView(alice), bob: await relayView(bob) }
    // Offline from here: the clients stop, the view reads only the local logs.
    await alice.client.stop()
    await bob.client.stop()
    const offline = { alice: await bookView(alice.log, alice.book), bob: await bookView(bob.log, bob.book) }
    expect(offline.alice.gaps).toEqual({ instances: [], collections: [] })
    expect(offline.bob.gaps).toEqual({ instances: [], collections: [] })
    expect(offline.alice.view).toEqual(expected.alice)
    expect(offline.bob.view).toEqual(expected.bob)

    // What the scenario was, to be sure the comparison covered it.
    const held = offline.alice.view.instances.map((i) => i.instanceId)
    expect(held).toEqual(expect.arrayContaining([b[0]!.instanceId, b[1]!.instanceId, a[1]!.instanceId, a[2]!.instanceId, a[4]!.instanceId]))
    expect(held).not.toContain(a[0]!.instanceId)
    expect(held).not.toContain(a[3]!.instanceId)
    expect(offline.alice.view.trades.outbox.map((t) => [t.tradeId, t.state]).sort()).toEqual([
      ['later', 'open'],
      ['no', 'declined'],
      ['swap', 'accepted'],
    ])
    expect(offline.alice.view.trades.inbox.map((t) => [t.tradeId, t.state]).sort()).toEqual([
      ['gift', 'accepted'],
      ['undo', 'cancelled'],
    ])
    expect(offline.alice.view.packs).toHaveLength(1)
    expect(offline.alice.view.completion.map((c) => c.series.map((s) => s.seriesId))).toEqual([['one', 'two']])
    // An offer past its expiry reads expired against the `now` given.
    const later = await bookView(alice.log, alice.book, { now: new Date(Date.now() + 2 * 3600_000) })
    expect(later.view.trades.outbox.find((t) => t.tradeId === 'later')).toMatchObject({ state: 'expired' })
  }, 90_000)
})
