/**
 * Supply conservation offline: CARD_REMOVED of an instance burns it (its holder only, once; a burned
 * instance cannot be traded); SupplyCheck over a whole log finds issued ≤ supply and issued = held +
 * burned per card; a log whose rules were not enforced (a double-spent card, a pack beyond supply) fails
 * it, in shared and in `pixpax verify` on the export (exit 1, the failing cards listed).
 */
import { execFile } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { canonicalJson, ChainVerifier, dropPackPayload, SupplyCheck, type Receipt } from '../src/index.js'
import { nodeSha256, nodeVerifier } from '../src/node/index.js'
import { pixbookStream } from '../src/testing/index.js'
import { arts, DROP, economyWorld, SEED } from './support/economy-world.js'

const run = promisify(execFile)
const PIXPAX = join(import.meta.dirname, '..', 'bin', 'pixpax.mjs')
const DROP_FACT = { collectionId: 'pixpax-1', version: 1, series: ['s1'], packSize: 5 }
const aliceBook = pixbookStream('acc-a', 'book')
const bobBook = pixbookStream('acc-b', 'book')
const toBob = { accountId: 'acc-b', bookId: 'book' }
const fromAlice = { accountId: 'acc-a', bookId: 'book' }

const tally = (log: readonly Receipt[]) => {
  const check = new SupplyCheck()
  for (const r of log) check.add(r)
  return check.report(true)
}

async function verifyCli(lines: readonly string[]): Promise<{ code: number; out: Record<string, unknown> }> {
  const file = join(await mkdtemp(join(tmpdir(), 'pixpax-supply-')), 'export.ndjson')
  await writeFile(file, lines.join('\n') + '\n')
  const done = await run(process.execPath, [PIXPAX, 'verify', file, '--issuer', 'issuer-1']).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
  )
  return { code: done.code, out: JSON.parse(done.stdout) as Record<string, unknown> }
}

describe('burning and supply conservation', () => {
  it('burns an instance once, by its holder only; a burned instance cannot be traded; the log conserves supply', async () => {
    const { w, collection, alice, bob } = await economyWorld()
    const pack = dropPackPayload({ seed: SEED, dropId: DROP.dropId, collector: 'alice', drop: DROP_FACT, collection, issued: () => 0 })
    await w.ok(aliceBook, 'PACK_ISSUED', pack, w.issuer)
    const [i0, i1, i2] = [0, 1, 2].map((i) => `${pack.packId}-${i}`) as [string, string, string]
    const offer = await w.ok(aliceBook, 'CARD_TRADE_OFFERED', { tradeId: 't1', cardId: i1, to: toBob }, alice)
    await w.ok(bobBook, 'CARD_TRADE_ACCEPTED', { tradeId: 't1', from: fromAlice, offerEventId: offer.eventId, offerHash: offer.hash }, bob)

    await w.refused(bobBook, 'CARD_REMOVED', { cardId: i0 }, bob, 'card_not_owned') // alice's
    await w.refused(aliceBook, 'CARD_REMOVED', { cardId: i1, reason: 'discarded' }, alice, 'card_not_owned') // traded away
    const stale = await w.ok(aliceBook, 'CARD_TRADE_OFFERED', { tradeId: 't2', cardId: i2, to: toBob }, alice)
    await w.ok(aliceBook, 'CARD_REMOVED', { cardId: i2, reason: 'discarded' }, alice)
    await w.refused(aliceBook, 'CARD_REMOVED', { cardId: i2 }, alice, 'card_not_owned') // burned already
    await w.refused(aliceBook, 'CARD_TRADE_OFFERED', { tradeId: 't3', cardId: i2, to: toBob }, alice, 'card_not_owned')
    await w.refused(
      bobBook,
      'CARD_TRADE_ACCEPTED',
      { tradeId: 't2', from: fromAlice, offerEventId: stale.eventId, offerHash: stale.hash },
      bob,
      'card_not_owned',
    )
    await w.ok(bobBook, 'CARD_REMOVED', { cardId: i1 }, bob)
    await w.ok(aliceBook, 'CARD_REMOVED', { cardId: 'free-form-card' }, alice) // not an instance: the book's own card

    const report = tally(w.log)
    expect(report).toMatchObject({ ok: true, instances: 5, problems: [] })
    const byCard = new Map(report.cards.map((c) => [c.cardId, c]))
    expect(report.cards).toHaveLength(8) // every card of the collection, issued or not
    expect(byCard.get(pack.cards[1]!.cardId)).toMatchObject({ issued: 1, held: 0, burned: 1 })
    expect(byCard.get(pack.cards[3]!.cardId)).toMatchObject({ issued: 1, held: 1, burned: 0 })
    expect(byCard.get('card-7')).toMatchObject({ supply: null, issued: 0, held: 0, burned: 0 })
    for (const c of report.cards) expect(c.issued).toBe(c.held + c.burned)

    const cli = await verifyCli(w.log.map((r) => canonicalJson(r)))
    expect(cli.code).toBe(0)
    expect(cli.out).toMatchObject({ ok: true, supply: { ok: true, instances: 5, cards: [], problems: [] } })
  })

  it('fails a log whose rules were not enforced: a double-spent card, a pack beyond supply', async () => {
    const { w, collection, alice, bob } = await economyWorld()
    const pack = dropPackPayload({ seed: SEED, dropId: DROP.dropId, collector: 'alice', drop: DROP_FACT, collection, issued: () => 0 })
    await w.ok(aliceBook, 'PACK_ISSUED', pack, w.issuer)
    const card = `${pack.packId}-0`
    const o1 = await w.ok(aliceBook, 'CARD_TRADE_OFFERED', { tradeId: 'o1', cardId: card, to: toBob }, alice)
    const o2 = await w.ok(aliceBook, 'CARD_TRADE_OFFERED', { tradeId: 'o2', cardId: card, to: toBob }, alice)
    await w.ok(bobBook, 'CARD_TRADE_ACCEPTED', { tradeId: 'o1', from: fromAlice, offerEventId: o1.eventId, offerHash: o1.hash }, bob)
    // What a relay that skipped the rules would have accepted: chain-valid, signed, and a double spend.
    const log = [...w.log]
    const heads = new Map(w.heads)
    const append = async (stream: Record<string, string>, type: string, payload: Record<string, unknown>, by: typeof bob) => {
      const key = Object.values(stream).join('/')
      w.heads.set(key, heads.get(key)!)
      const r = await w.build(stream, type, payload, by)
      heads.set(key, { eventId: r.eventId, hash: r.hash })
      log.push(r)
    }
    await append(bobBook, 'CARD_TRADE_ACCEPTED', { tradeId: 'o2', from: fromAlice, offerEventId: o2.eventId, offerHash: o2.hash }, bob)
    // card-0 has a supply of 2: three free packs of it.
    for (const id of ['x1', 'x2', 'x3'])
      await append(
        bobBook,
        'PACK_ISSUED',
        { packId: id, collectionId: 'pixpax-1', cards: [{ cardId: 'card-0', artHash: arts(0) }] },
        w.issuer,
      )

    const rules = new ChainVerifier({ verifier: nodeVerifier(), sha256: nodeSha256, crossStream: true })
    const verdicts = []
    for (const r of log) verdicts.push(await rules.add(r))
    // With the rules, the double spend is the first receipt refused (what follows it in Bob's book no
    // longer chains).
    expect(verdicts.find((v) => !v.ok)).toMatchObject({ ok: false, details: { rule: 'card_not_owned' } })

    const report = tally(log)
    expect(report.ok).toBe(false)
    expect(report.problems.map((p) => p.problem)).toEqual([expect.stringMatching(/^moves instance .* which does not hold it$/)])
    const bad = report.cards.filter((c) => (c.supply !== null && c.issued > c.supply) || c.issued !== c.held + c.burned)
    expect(bad.map((c) => c.cardId)).toContain('card-0')

    // pixpax verify (chain rules, no cross-stream rules) accepts every receipt, and the supply check fails it.
    const cli = await verifyCli(log.map((r) => canonicalJson(r)))
    expect(cli.code).toBe(1)
    expect(cli.out).toMatchObject({ ok: false, supply: { ok: false } })
    expect((cli.out.supply as { cards: Array<{ cardId: string }> }).cards.map((c) => c.cardId)).toContain('card-0')
  })
})
