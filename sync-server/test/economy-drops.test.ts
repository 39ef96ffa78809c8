/**
 * Collections and provably fair drops over a real relay (real sockets; PGlite and Postgres): the public
 * catalog and card art; a drop scheduled with a commitment; claims signed by the issuer's custodial key,
 * one pack per collector (a retry gets the same pack), never beyond supply under concurrent claims; the
 * reveal; every pack recomputed from the exported log (shared verifyDrop and `pixpax verify-drop`), a
 * forged pack caught; each rule refused with its name leaving the state unchanged; rebuild digest equal.
 */
import { randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ChainVerifier, derivePack, parseStrictJson, verifyDrop, type Receipt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyStore } from '../src/replay/verify-store.js'
import {
  claim,
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
  StreamWriter,
  pixbookStream,
  type DbKind,
  type TestRelay,
} from './support/relay-harness.js'

/** This file's schemas: its own random prefix, so another run on the same database keeps its own. */
const PREFIX = `econd_${randomBytes(3).toString('hex')}`

const run = promisify(execFile)
const PIXPAX = join(REPO_ROOT, 'shared', 'bin', 'pixpax.mjs')

// 12 cards in two series; a1–a3 are scarce (supply 40), the rest unlimited. The drop uses series a only.
const CARDS: CardSpec[] = [
  ...Array.from({ length: 8 }, (_, i) => ({ cardId: `a${i + 1}`, seriesId: 'a', supply: i < 3 ? 40 : null })),
  ...Array.from({ length: 4 }, (_, i) => ({ cardId: `b${i + 1}`, seriesId: 'b', supply: null })),
]
const DROP = 'week-2026-W49'
const CONCURRENT = 200

afterAll(async () => {
  await dropSchemas(PREFIX)
})

describe.each<DbKind>(['pglite', 'pg'])('economy drops on %s', (db) => {
  let relay: TestRelay
  let world: EconomyWorld
  let alice: Collector

  beforeAll(async () => {
    relay = await startTestRelay({ db, store: 'fs', schema: `${PREFIX}_${db}_${Date.now() % 100000}`, env: ECONOMY_ENV })
    world = await economyWorld(relay, CARDS)
    alice = await newCollector(relay, 'alice')
  }, 60_000)
  afterAll(async () => {
    await relay?.close()
  })

  it('serves the catalog and card art publicly', async () => {
    const list = await http<{ collections: Array<{ collectionId: string; cardCount: number; issuer: string }> }>(
      `${relay.url}/v1/collections`,
    )
    expect(list.json.collections).toEqual([
      { collectionId: 'pixpax-one', issuer: ISSUER_ID, name: 'PixPax One', version: 1, cardCount: 12 },
    ])
    const one = await http<{
      palette: string[]
      series: unknown[]
      cards: Array<{ cardId: string; supply: number | null; issued: number }>
    }>(`${relay.url}/v1/collections/pixpax-one`)
    expect(one.json.palette).toHaveLength(16)
    expect(one.json.series).toEqual([
      { seriesId: 'a', name: 'Series a', version: 1, retired: false },
      { seriesId: 'b', name: 'Series b', version: 1, retired: false },
    ])
    expect(one.json.cards[0]).toMatchObject({ cardId: 'a1', supply: 40, issued: 0 })
    const art = await fetch(`${relay.url}/v1/collections/pixpax-one/cards/a1/art.svg`)
    expect(art.status).toBe(200)
    expect(art.headers.get('content-type')).toContain('image/svg+xml')
    expect(await art.text()).toMatch(/^<svg [^>]*width="256"/)
    expect((await http(`${relay.url}/v1/collections/pixpax-one/cards/zz/art.svg`)).status).toBe(404)
    expect((await http(`${relay.url}/v1/collections/nope`)).status).toBe(404)
  })

  it('schedules a drop with a commitment, admin only', async () => {
    const body = {
      issuerId: ISSUER_ID,
      collectionId: 'pixpax-one',
      dropId: DROP,
      series: ['a'],
      opensAt: new Date(Date.now() - 60_000).toISOString(),
    }
    const denied = await postAs(`${relay.url}/v1/drops`, alice.token, body)
    expect(denied.status).toBe(403)
    const res = await postAs<{ receipt: Receipt }>(`${relay.url}/v1/drops`, world.adminToken, body)
    expect(res.status, res.text).toBe(200)
    expect(res.json.receipt).toMatchObject({
      type: 'DROP_SCHEDULED',
      stream: { type: 'drop', dropId: DROP },
      issuer: { identityId: ISSUER_ID },
    })
    expect(res.json.receipt.payload).toMatchObject({ collectionId: 'pixpax-one', version: 1, series: ['a'], packSize: 5 })
    const drop = await http<{ commitment: string; seed: string | null; packs: number }>(`${relay.url}/v1/drops/${DROP}`)
    expect(drop.json).toMatchObject({ commitment: res.json.receipt.payload.commitment, seed: null, packs: 0 })
    expect((await postAs(`${relay.url}/v1/drops`, world.adminToken, body)).json).toMatchObject({ error: { code: 'CHAIN_CONFLICT' } }) // the drop stream already has its first receipt
  })

  it('claims one pack per collector: a retry gets the same pack, another book is drop_already_claimed', async () => {
    const first = await claim(relay, alice, DROP)
    expect(first.status, first.text).toBe(200)
    const { pack, receipt } = first.json
    expect(receipt).toMatchObject({
      type: 'PACK_ISSUED',
      issuer: { identityId: ISSUER_ID },
      payload: { drop: { dropId: DROP, collector: 'alice' } },
    })
    expect(pack.cards).toHaveLength(5)
    expect(new Set(pack.cards.map((c) => c.cardId)).size).toBe(5)
    expect(pack.cards.every((c) => c.cardId.startsWith('a'))).toBe(true)
    expect(pack.cards.map((c) => c.instanceId)).toEqual([0, 1, 2, 3, 4].map((i) => `${pack.packId}-${i}`))

    const again = await claim(relay, alice, DROP)
    expect(again.status).toBe(200)
    expect(again.json.eventId).toBe(first.json.eventId)

    const second = new StreamWriter(pixbookStream(alice.accountId, 'second'))
    await postReceipts(relay.url, [await second.build('PIXBOOK_CREATED', { title: 'second' }, alice.who)])
    const before = await storedState(relay.deps)
    const other = await claim(relay, alice, DROP, 'second')
    expect(other.status).toBe(422)
    expect(other.json.error).toMatchObject({
      code: 'DOMAIN_RULE_VIOLATION',
      details: { rule: 'drop_already_claimed', packId: pack.packId },
    })
    expect(await storedState(relay.deps)).toEqual(before)

    const view = await http<{ instances: Array<{ instanceId: string }>; completion: unknown[]; packs: unknown[] }>(
      `${relay.url}/v1/pixbooks/${alice.accountId}/book/collection`,
      { headers: { authorization: `Bearer ${alice.token}` } },
    )
    expect(view.json.instances.map((i) => i.instanceId).sort()).toEqual(pack.cards.map((c) => c.instanceId).sort())
    expect(view.json.completion).toEqual([
      {
        collectionId: 'pixpax-one',
        owned: 5,
        total: 12,
        series: [
          { seriesId: 'a', owned: 5, total: 8 },
          { seriesId: 'b', owned: 0, total: 4 },
        ],
      },
    ])
    expect(view.json.packs).toHaveLength(1)
  })

  it('refuses forged and repeated packs posted directly, each with its rule, state unchanged', async () => {
    const bob = await newCollector(relay, 'bob')
    const issued = (await claim(relay, alice, DROP)).json.receipt
    const forge = async (payload: Record<string, unknown>): Promise<string | undefined> => {
      const before = await storedState(relay.deps)
      const receipt = await bob.book.build('PACK_ISSUED', payload, world.issuer)
      const res = await postReceipts(relay.url, [receipt])
      const result = res.json.results?.[0]
      if (result?.ok) return 'accepted'
      expect(result?.error.code).toBe('DOMAIN_RULE_VIOLATION')
      expect(await storedState(relay.deps)).toEqual(before)
      return result?.error.details?.rule as string
    }
    const p = issued.payload as {
      packId: string
      cards: Array<{ cardId: string; artHash: string }>
      drop: Record<string, string>
      collectionId: string
    }
    // Alice's pack again, into Bob's book.
    expect(await forge(p)).toBe('drop_already_claimed')
    // Bob's true pack (derived here from the relay's secret seed and the public catalog), then altered.
    const { rows } = await relay.deps.db.query<{ seed: string }>('SELECT seed FROM economy_drop_secrets WHERE drop_id = $1', [DROP])
    const catalog = await http<{ cards: Array<{ cardId: string; seriesId: string; supply: number | null; issued: number; art: string }> }>(
      `${relay.url}/v1/collections/pixpax-one`,
    )
    const cards = catalog.json.cards.filter((c) => c.seriesId === 'a')
    const derived = derivePack(rows[0]!.seed, DROP, 'bob', cards, (id) => cards.find((c) => c.cardId === id)!.issued, 5)
    const art = (id: string) => cards.find((c) => c.cardId === id)!.art
    const bobPack = {
      packId: derived.packId,
      collectionId: 'pixpax-one',
      cards: derived.cardIds.map((cardId) => ({ cardId, artHash: art(cardId) })),
      drop: { dropId: DROP, collector: 'bob', ticket: derived.ticket },
    }
    expect(await forge({ ...bobPack, cards: [...bobPack.cards].reverse() })).toBe('pack_not_derived')
    expect(await forge({ ...bobPack, packId: 'pk-mine' })).toBe('pack_not_derived')
    expect(await forge({ ...bobPack, drop: { ...bobPack.drop, dropId: 'no-such-drop' } })).toBe('drop_unknown')
    expect(await forge({ packId: 'promo-1', collectionId: 'pixpax-one', cards: [{ cardId: 'zz', artHash: p.cards[0]!.artHash }] })).toBe(
      'card_unknown',
    )
    expect(await forge({ packId: p.packId, cards: [{ cardId: 'x', artHash: p.cards[0]!.artHash }] })).toBe('pack_already_issued')
    // The genuine derivation is accepted: the rule recomputes it from the ticket and the supply.
    expect(await forge(bobPack)).toBe('accepted')
  })

  it(`gives ${CONCURRENT} concurrent collectors exactly one pack each, never beyond supply`, async () => {
    const collectors: Collector[] = []
    for (let i = 0; i < CONCURRENT; i += 25)
      collectors.push(
        ...(await Promise.all(Array.from({ length: Math.min(25, CONCURRENT - i) }, (_, j) => newCollector(relay, `c${i + j}`)))),
      )
    // Every collector twice at once: the duplicate must get the same pack, not a second one.
    const results = await Promise.all([...collectors, ...collectors.slice(0, 20)].map((c) => claim(relay, c, DROP)))
    for (const r of results) expect(r.status, r.text).toBe(200)
    const byCollector = new Map<string, string>()
    for (const r of results) {
      const collector = (r.json.receipt.payload.drop as { collector: string }).collector
      const seen = byCollector.get(collector)
      if (seen) expect(r.json.eventId).toBe(seen)
      byCollector.set(collector, r.json.eventId)
    }
    expect(byCollector.size).toBe(CONCURRENT)
    const { rows } = await relay.deps.db.query<{ card_id: string; supply: string | null; issued: string; held: number }>(
      `SELECT c.card_id, c.supply, c.issued, (SELECT count(*)::int FROM economy_instances i WHERE i.collection_id = c.collection_id AND i.card_id = c.card_id) AS held
       FROM economy_cards c ORDER BY card_id`,
    )
    for (const r of rows) {
      expect(Number(r.issued)).toBe(r.held)
      if (r.supply !== null) expect(Number(r.issued)).toBeLessThanOrEqual(Number(r.supply))
    }
    // 202 packs of 5 from series a: the three scarce cards (40 each) are sold out.
    expect(rows.filter((r) => r.supply !== null).map((r) => Number(r.issued))).toEqual([40, 40, 40])
    const packs = await relay.deps.db.query<{ n: number }>('SELECT count(*)::int AS n FROM economy_packs WHERE drop_id = $1', [DROP])
    expect(packs.rows[0]!.n).toBe(CONCURRENT + 2)
  }, 180_000)

  it('reveals the seed; every pack recomputes from the export, a forged one does not', async () => {
    const reveal = await postAs(`${relay.url}/v1/drops/${DROP}/reveal`, world.adminToken)
    expect(reveal.status, reveal.text).toBe(200)
    expect((await http<{ seed: string }>(`${relay.url}/v1/drops/${DROP}`)).json.seed).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const late = await newCollector(relay, 'late')
    expect((await claim(relay, late, DROP)).json.error).toMatchObject({ code: 'DOMAIN_RULE_VIOLATION', details: { rule: 'drop_closed' } })

    const lines = await exportLog(relay)
    const chain = new ChainVerifier({
      verifier: nodeVerifier(),
      sha256: nodeSha256,
      crossStream: true,
      platformIssuers: new Set([ISSUER_ID]),
    })
    for (const line of lines) expect(await chain.add(line)).toMatchObject({ ok: true })
    const receipts = lines.map((l) => parseStrictJson(l) as Receipt)
    expect(verifyDrop(receipts, DROP)).toMatchObject({ ok: true, revealed: true, packs: CONCURRENT + 2, problems: [] })

    const file = join(relay.options.dataDir, 'export.ndjson')
    await writeFile(file, lines.join('\n') + '\n')
    const cli = await run(process.execPath, [PIXPAX, 'verify-drop', file, '--issuer', ISSUER_ID])
    expect(JSON.parse(cli.stdout)).toMatchObject({ ok: true, drops: [{ dropId: DROP, ok: true, packs: CONCURRENT + 2 }] })

    // A forged export: one pack's cards swapped for others (the rest of the receipt as it was).
    const at = receipts.findIndex((r) => r.type === 'PACK_ISSUED' && (r.payload.drop as { collector: string }).collector === 'c7')
    const forged = structuredClone(receipts)
    const cards = forged[at]!.payload.cards as Array<{ cardId: string }>
    cards[0]!.cardId = cards[0]!.cardId === 'a8' ? 'a7' : 'a8'
    const report = verifyDrop(forged, DROP)
    expect(report.ok).toBe(false)
    expect(report.problems[0]).toMatchObject({ eventId: receipts[at]!.eventId })
    const forgedFile = join(relay.options.dataDir, 'forged.ndjson')
    await writeFile(forgedFile, forged.map((r) => JSON.stringify(r)).join('\n') + '\n')
    const bad = await run(process.execPath, [PIXPAX, 'verify-drop', forgedFile]).then(
      () => 0,
      (e: { code: number; stdout: string }) => (JSON.parse(e.stdout) as { ok: boolean }).ok === false && e.code,
    )
    expect(bad).toBe(1)
  }, 120_000)

  it('verify-store replays the store with the economy rules and finds every receipt valid', async () => {
    const result = await verifyStore(relay.deps.store, nodeVerifier(), nodeSha256, { platformIssuers: new Set([ISSUER_ID]) })
    expect(result.errors).toEqual([])
    expect(result).toMatchObject({ ok: true, orphans: [] })
    expect(result.receipts).toBe((await exportLog(relay)).length)
  }, 120_000)

  it('rebuilds the economy projection to the same digest', async () => {
    const before = await http<{ digest: string }>(`${relay.url}/v1/admin/digest`, {
      headers: { authorization: `Bearer ${world.adminToken}` },
    })
    const rebuilt = await postAs<{ digest: string }>(`${relay.url}/v1/admin/rebuild`, world.adminToken)
    expect(rebuilt.status, rebuilt.text).toBe(200)
    expect(rebuilt.json.digest).toBe(before.json.digest)
  }, 120_000)
})
