/**
 * The client-sdk's economy commands against a real relay: a claim (the relay derives and signs the
 * pack as the issuer), a retry answering the same pack, and trades signed locally through the outbox —
 * an offer, its acceptance moving the card, and a double spend refused with its rule, surfaced.
 */
import { cardArtHash, packCardArt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { acceptTrade, claimDrop, EconomyCommandError, offerCard, redeemCode } from '../src/economy/commands.js'
import { login } from '../src/network/session.js'
import { MemoryLocalLog } from '../src/storage/memory-local-log.js'
import type { OutboxEntry } from '../src/storage/local-log.js'
import { SyncClient } from '../src/sync/sync-client.js'
import { nodeWebSocket, startTestRelay, type TestRelay } from './support/relay.js'
import { authed, person, post, type Person } from './support/people.js'

const DROP = 'sdk-drop'

describe('economy commands through the client-sdk', () => {
  let relay: TestRelay
  let alice: Person
  let bob: Person
  let adminToken: string
  beforeAll(async () => {
    relay = await startTestRelay({ env: { PLATFORM_ISSUERS: 'issuer', ADMIN_IDENTITIES: 'admin' } })
    const issuer = await person(relay, 'issuer', 'issuer')
    const issuerToken = (await login(relay.url, 'issuer', issuer.signer)).token
    const key = (await (await fetch(`${relay.url}/v1/identities/issuer/custodial-key`, { headers: authed(issuerToken) })).json()) as {
      publicKey: unknown
    }
    await post(relay, issuer, { type: 'identity', identityId: 'issuer' }, 'KEY_ADDED', { publicKey: key.publicKey })
    const collection = { type: 'collection', collectionId: 'sdk' }
    await post(relay, issuer, collection, 'COLLECTION_CREATED', { name: 'SDK', palette: Array.from({ length: 16 }, () => '#000000') })
    const cards = Array.from({ length: 6 }, (_, i) => ({
      cardId: `c${i}`,
      seriesId: 's',
      name: `C${i}`,
      art: cardArtHash(packCardArt(new Array<number>(256).fill(i))),
      supply: null,
    }))
    await post(relay, issuer, collection, 'COLLECTION_VERSION_PUBLISHED', { version: 1, series: [{ seriesId: 's', name: 'S' }], cards })
    const admin = await person(relay, 'admin')
    adminToken = (await login(relay.url, 'admin', admin.signer)).token
    const drop = await fetch(`${relay.url}/v1/drops`, {
      method: 'POST',
      headers: authed(adminToken),
      body: JSON.stringify({ issuerId: 'issuer', collectionId: 'sdk', dropId: DROP, opensAt: new Date(Date.now() - 60_000).toISOString() }),
    })
    expect(drop.status).toBe(200)
    alice = await person(relay, 'alice')
    bob = await person(relay, 'bob')
    for (const p of [alice, bob])
      await post(relay, p, { type: 'pixbook', accountId: p.accountId, bookId: 'book' }, 'PIXBOOK_CREATED', { title: p.id })
  }, 60_000)
  afterAll(async () => relay.close())

  const open = async (p: Person) => {
    const token = (await login(relay.url, p.id, p.signer)).token
    const client = await SyncClient.open({
      relayUrl: relay.url,
      log: new MemoryLocalLog(),
      identityId: p.id,
      signer: p.signer,
      webSocket: nodeWebSocket,
      verifier: nodeVerifier(),
      sha256: nodeSha256,
      token: () => token,
    })
    return { client, token }
  }

  it('claims a pack, trades a card, and surfaces a double spend as its rule', async () => {
    const a = await open(alice)
    const b = await open(bob)
    const aliceBook = { accountId: alice.accountId, bookId: 'book' }
    const bobBook = { accountId: bob.accountId, bookId: 'book' }
    const claimed = await claimDrop(relay.url, a.token, DROP, aliceBook)
    expect(claimed.pack.cards).toHaveLength(5)
    expect((await claimDrop(relay.url, a.token, DROP, aliceBook)).eventId).toBe(claimed.eventId)
    const refused = await claimDrop(relay.url, b.token, 'no-such-drop', bobBook).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(EconomyCommandError)
    expect((refused as EconomyCommandError).code).toBe('NOT_FOUND')

    // Both clients follow their books (alice's now holds the relay's PACK_ISSUED), then trade.
    for (const [c, book] of [
      [a.client, `pixbook/${alice.accountId}/book`],
      [b.client, `pixbook/${bob.accountId}/book`],
    ] as const) {
      c.follow(book)
      c.start()
    }
    await a.client.whenSynced()
    await b.client.whenSynced()
    const card = claimed.pack.cards[0]!.instanceId
    const offer = await offerCard(a.client, aliceBook, { tradeId: 't1', cardId: card, to: bobBook })
    await a.client.whenSynced()
    await acceptTrade(b.client, bobBook, offer)
    await b.client.whenSynced()
    const view = (await (
      await fetch(`${relay.url}/v1/pixbooks/${bob.accountId}/book/collection`, { headers: authed(b.token) })
    ).json()) as {
      instances: Array<{ instanceId: string }>
    }
    expect(view.instances.map((i) => i.instanceId)).toEqual([card])

    const rejected = new Promise<OutboxEntry>((resolve) => a.client.on('rejected', resolve))
    await offerCard(a.client, aliceBook, { tradeId: 't2', cardId: card, to: bobBook })
    const entry = await rejected
    expect(entry.error).toMatchObject({ code: 'DOMAIN_RULE_VIOLATION', details: { rule: 'card_not_owned' } })
    await a.client.stop()
    await b.client.stop()
  }, 60_000)

  it('redeems a printed code once, and surfaces a second redemption as 409 code_already_redeemed', async () => {
    const minted = await fetch(`${relay.url}/v1/codes`, {
      method: 'POST',
      headers: authed(adminToken),
      body: JSON.stringify({ issuerId: 'issuer', collectionId: 'sdk', cards: 3 }),
    })
    const { codes } = (await minted.json()) as { codes: Array<{ token: string; packId: string }> }
    const a = (await login(relay.url, alice.id, alice.signer)).token
    const b = (await login(relay.url, bob.id, bob.signer)).token
    const redeemed = await redeemCode(relay.url, a, `  ${codes[0]!.token}\n`) // as scanned: whitespace around it
    expect(redeemed.pack).toMatchObject({ packId: codes[0]!.packId })
    expect(redeemed.pack.cards).toHaveLength(3)
    expect(redeemed.receipt.stream).toEqual({ type: 'pixbook', accountId: alice.accountId, bookId: 'book' })
    const again = await redeemCode(relay.url, b, codes[0]!.token, { accountId: bob.accountId, bookId: 'book' }).catch((e: unknown) => e)
    expect(again).toBeInstanceOf(EconomyCommandError)
    expect(again).toMatchObject({ status: 409, code: 'DOMAIN_RULE_VIOLATION', rule: 'code_already_redeemed' })
  }, 60_000)
})
