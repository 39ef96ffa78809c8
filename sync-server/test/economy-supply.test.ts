/**
 * Burning and supply conservation over a real relay (real sockets; PGlite and Postgres): a CARD_REMOVED
 * of a card instance burns it — by its holder only, once, and a burned card can no longer be traded (each
 * refusal by rule, state unchanged); the catalog counts burned cards and the book no longer shows them;
 * verify-store checks issued ≤ supply and issued = held + burned for every card from the log alone, and
 * so does `pixpax verify` on the export; the rebuild digest is equal.
 */
import { randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Receipt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyStore } from '../src/replay/verify-store.js'
import {
  ECONOMY_ENV,
  economyWorld,
  exportLog,
  ISSUER_ID,
  newCollector,
  postAs,
  type CardSpec,
  type Collector,
  type EconomyWorld,
} from './support/economy-fixtures.js'
import {
  dropSchemas,
  http,
  postReceipts,
  REPO_ROOT,
  startTestRelay,
  storedState,
  type DbKind,
  type TestRelay,
} from './support/relay-harness.js'

/** This file's schemas: its own random prefix, so another run on the same database keeps its own. */
const PREFIX = `econs_${randomBytes(3).toString('hex')}`

const run = promisify(execFile)
const PIXPAX = join(REPO_ROOT, 'shared', 'bin', 'pixpax.mjs')
const CARDS: CardSpec[] = Array.from({ length: 5 }, (_, i) => ({ cardId: `k${i + 1}`, seriesId: 's', supply: 10 }))

afterAll(async () => {
  await dropSchemas(PREFIX)
})

describe.each<DbKind>(['pglite', 'pg'])('burning and supply conservation on %s', (db) => {
  let relay: TestRelay
  let world: EconomyWorld
  let alice: Collector
  let bob: Collector
  let instances: Array<{ instanceId: string; cardId: string }>

  beforeAll(async () => {
    relay = await startTestRelay({ db, store: 'fs', schema: `${PREFIX}_${db}_${Date.now() % 100000}`, env: ECONOMY_ENV })
    world = await economyWorld(relay, CARDS)
    alice = await newCollector(relay, 'alice')
    bob = await newCollector(relay, 'bob')
    const minted = await postAs<{ codes: Array<{ token: string }> }>(`${relay.url}/v1/codes`, world.adminToken, {
      issuerId: ISSUER_ID,
      collectionId: world.collectionId,
      cards: 5,
    })
    const redeemed = await postAs<{ pack: { cards: Array<{ instanceId: string; cardId: string }> } }>(
      `${relay.url}/v1/codes/redeem`,
      alice.token,
      { token: minted.json.codes[0]!.token },
    )
    expect(redeemed.status, redeemed.text).toBe(200)
    instances = redeemed.json.pack.cards
    alice.book.advance(await latest(alice))
  }, 60_000)
  afterAll(async () => {
    await relay?.close()
  })

  /** The book's head as the relay has it (the relay appended the PACK_ISSUED). */
  async function latest(c: Collector): Promise<Receipt> {
    const { rows } = await relay.deps.db.query<{ body: string }>(
      'SELECT body FROM receipts WHERE stream_key = $1 ORDER BY seq DESC LIMIT 1',
      [`pixbook/${c.accountId}/${c.bookId}`],
    )
    return JSON.parse(rows[0]!.body) as Receipt
  }

  /** Posts one receipt of `c`'s book: 'ok' (and the writer advances) or the refusal's rule, state unchanged then. */
  async function post(c: Collector, type: string, payload: Record<string, unknown>): Promise<string> {
    const before = await storedState(relay.deps)
    const receipt = await c.book.build(type, payload, c.who)
    const result = (await postReceipts(relay.url, [receipt])).json.results![0]!
    if (result.ok) {
      c.book.advance(receipt)
      return 'ok'
    }
    expect(await storedState(relay.deps)).toEqual(before)
    return `${result.error.code}:${String(result.error.details?.rule)}`
  }

  const view = async (c: Collector) =>
    (
      await http<{ instances: Array<{ instanceId: string }> }>(`${relay.url}/v1/pixbooks/${c.accountId}/${c.bookId}/collection`, {
        headers: { authorization: `Bearer ${c.token}` },
      })
    ).json.instances.map((i) => i.instanceId)

  it('burns an instance by its holder, once; a burned card cannot be traded', async () => {
    const [first, second] = instances as [(typeof instances)[0], (typeof instances)[0]]
    expect(await post(bob, 'CARD_REMOVED', { cardId: first.instanceId })).toBe('DOMAIN_RULE_VIOLATION:card_not_owned')
    const offer = await alice.book.build(
      'CARD_TRADE_OFFERED',
      { tradeId: 'before-burn', cardId: first.instanceId, to: { accountId: bob.accountId, bookId: bob.bookId } },
      alice.who,
    )
    expect((await postReceipts(relay.url, [offer])).json.results![0]!.ok).toBe(true)
    alice.book.advance(offer)
    expect(await post(alice, 'CARD_REMOVED', { cardId: first.instanceId, reason: 'discarded' })).toBe('ok')
    expect(await post(alice, 'CARD_REMOVED', { cardId: first.instanceId })).toBe('DOMAIN_RULE_VIOLATION:card_not_owned')
    expect(
      await post(alice, 'CARD_TRADE_OFFERED', {
        tradeId: 'after-burn',
        cardId: first.instanceId,
        to: { accountId: bob.accountId, bookId: bob.bookId },
      }),
    ).toBe('DOMAIN_RULE_VIOLATION:card_not_owned')
    expect(
      await post(bob, 'CARD_TRADE_ACCEPTED', {
        tradeId: 'before-burn',
        from: { accountId: alice.accountId, bookId: alice.bookId },
        offerEventId: offer.eventId,
        offerHash: offer.hash,
      }),
    ).toBe('DOMAIN_RULE_VIOLATION:card_not_owned')
    expect(await post(alice, 'CARD_REMOVED', { cardId: 'a-free-form-card' })).toBe('ok') // not an instance

    // A traded card burns in its new book.
    const gift = await alice.book.build(
      'CARD_TRADE_OFFERED',
      { tradeId: 'gift', cardId: second.instanceId, to: { accountId: bob.accountId, bookId: bob.bookId } },
      alice.who,
    )
    expect((await postReceipts(relay.url, [gift])).json.results![0]!.ok).toBe(true)
    alice.book.advance(gift)
    expect(
      await post(bob, 'CARD_TRADE_ACCEPTED', {
        tradeId: 'gift',
        from: { accountId: alice.accountId, bookId: alice.bookId },
        offerEventId: gift.eventId,
        offerHash: gift.hash,
      }),
    ).toBe('ok')
    expect(await post(alice, 'CARD_REMOVED', { cardId: second.instanceId })).toBe('DOMAIN_RULE_VIOLATION:card_not_owned')
    expect(await post(bob, 'CARD_REMOVED', { cardId: second.instanceId })).toBe('ok')

    expect((await view(alice)).sort()).toEqual(
      instances
        .slice(2)
        .map((i) => i.instanceId)
        .sort(),
    )
    expect(await view(bob)).toEqual([])
    const catalog = await http<{ cards: Array<{ cardId: string; issued: number; burned: number }> }>(
      `${relay.url}/v1/collections/pixpax-one`,
    )
    const burned = catalog.json.cards.reduce((n, c) => n + c.burned, 0)
    const issued = catalog.json.cards.reduce((n, c) => n + c.issued, 0)
    expect({ issued, burned }).toEqual({ issued: 5, burned: 2 })
  })

  it('verify-store and pixpax verify find every card conserved, from the log alone', async () => {
    const result = await verifyStore(relay.deps.store, nodeVerifier(), nodeSha256, { platformIssuers: new Set([ISSUER_ID]) })
    expect(result.errors).toEqual([])
    expect(result).toMatchObject({ ok: true, supply: { ok: true, instances: 5, cards: [], problems: [] } })

    const file = join(relay.options.dataDir, 'export.ndjson')
    await writeFile(file, (await exportLog(relay)).join('\n') + '\n')
    const cli = await run(process.execPath, [PIXPAX, 'verify', file, '--issuer', ISSUER_ID])
    expect(JSON.parse(cli.stdout)).toMatchObject({ ok: true, supply: { ok: true, instances: 5, cards: [], problems: [] } })
  }, 120_000)

  it('rebuilds the burns to the same digest', async () => {
    const before = await http<{ digest: string }>(`${relay.url}/v1/admin/digest`, {
      headers: { authorization: `Bearer ${world.adminToken}` },
    })
    const rebuilt = await postAs<{ digest: string }>(`${relay.url}/v1/admin/rebuild`, world.adminToken)
    expect(rebuilt.status, rebuilt.text).toBe(200)
    expect(rebuilt.json.digest).toBe(before.json.digest)
  }, 120_000)
})
