/**
 * Economy benchmark (issue 10), every figure beside a baseline measured in the same run:
 *
 * - Drop claims at 1,000 concurrent collectors (Postgres + fs relay, real sockets): every collector
 *   claims its pack at once (`POST /v1/drops/:dropId/claim`: derivation, custodial signing as the
 *   issuer, the pack rule locking the drop's supply facts). Throughput and p50/p95/p99 latency, vs the
 *   same 1,000 collectors each appending one plain receipt to their own book at once (the ingest path
 *   without the economy). Every collector must end with exactly one pack.
 * - Supply conservation over 1M card instances (target ≤ 30 s): SupplyCheck over a generated log of
 *   200,000 packs of 5 into 20,000 books, with trades and burns, vs one plain pass over the same receipts
 *   counting cards in a Map.
 *
 * BENCH_ECONOMY_COLLECTORS (default 1000), BENCH_ECONOMY_INSTANCES (default 1,000,000).
 * Postgres: DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, a fresh schema, dropped afterwards.
 */
import { SupplyCheck, type Receipt } from '../shared/src/index.js'
import {
  claim,
  ECONOMY_ENV,
  economyWorld,
  ISSUER_ID,
  newCollector,
  postAs,
  type CardSpec,
  type Collector,
} from '../sync-server/test/support/economy-fixtures.js'
import { dropSchemas, postReceipts, startTestRelay } from '../sync-server/test/support/relay-harness.js'
import { fmt, percentile } from './support.js'

const COLLECTORS = Number(process.env.BENCH_ECONOMY_COLLECTORS ?? 1_000)
const INSTANCES = Number(process.env.BENCH_ECONOMY_INSTANCES ?? 1_000_000)
const SCHEMA_PREFIX = `pixpax_bench_economy_${process.pid}`
const TARGET = { supplySeconds: 30 }
const DROP = 'bench-drop'
// 40 cards; 8 of them scarce, so claims near the end of the run also re-derive for sold-out cards.
const CARDS: CardSpec[] = Array.from({ length: 40 }, (_, i) => ({ cardId: `c${i}`, seriesId: 's', supply: i < 8 ? 400 : null }))

interface Timed {
  ok: number
  failed: number
  seconds: number
  rate: number
  p50: number
  p95: number
  p99: number
}

/** Runs every task at once and times each one (ms) and the whole. */
async function allAtOnce(tasks: Array<() => Promise<boolean>>): Promise<Timed> {
  const latencies: number[] = []
  let ok = 0
  const start = performance.now()
  await Promise.all(
    tasks.map(async (task) => {
      const t = performance.now()
      if (await task()) ok++
      latencies.push(performance.now() - t)
    }),
  )
  const seconds = (performance.now() - start) / 1000
  latencies.sort((a, b) => a - b)
  return {
    ok,
    failed: tasks.length - ok,
    seconds,
    rate: tasks.length / seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
  }
}

async function claimBench(): Promise<Record<string, unknown>> {
  const relay = await startTestRelay({
    db: 'pg',
    store: 'fs',
    schema: `${SCHEMA_PREFIX}_claims`,
    env: { ...ECONOMY_ENV, LOG_LEVEL: 'error' },
  })
  try {
    const world = await economyWorld(relay, CARDS)
    const scheduled = await postAs(`${relay.url}/v1/drops`, world.adminToken, {
      issuerId: ISSUER_ID,
      collectionId: world.collectionId,
      dropId: DROP,
      opensAt: new Date(Date.now() - 60_000).toISOString(),
    })
    if (scheduled.status !== 200) throw new Error(`schedule: ${scheduled.text}`)
    const collectors: Collector[] = []
    for (let i = 0; i < COLLECTORS; i += 50)
      collectors.push(
        ...(await Promise.all(Array.from({ length: Math.min(50, COLLECTORS - i) }, (_, j) => newCollector(relay, `b${i + j}`)))),
      )
    console.log(`  economy: ${fmt(COLLECTORS)} collectors ready; baseline (one plain append each, all at once)…`)

    // Baseline: the same collectors, one plain receipt each into their own book, all at once.
    const saves = await Promise.all(
      collectors.map((c) => c.book.build('PIXBOOK_SAVE', { snapshotHash: 'sha256:' + 'ab'.repeat(32) }, c.who)),
    )
    const baseline = await allAtOnce(saves.map((r) => async () => (await postReceipts(relay.url, [r])).json.results?.[0]?.ok === true))
    console.log(`  economy: claims (${fmt(COLLECTORS)} at once)…`)
    const packs = new Map<string, string>()
    const claims = await allAtOnce(
      collectors.map((c) => async () => {
        const res = await claim(relay, c, DROP)
        if (res.status === 200) packs.set(c.who.identityId, res.json.pack.packId)
        return res.status === 200
      }),
    )
    if (packs.size !== COLLECTORS) throw new Error(`${COLLECTORS - packs.size} collectors got no pack`)
    const { rows } = await relay.deps.db.query<{ n: number }>('SELECT count(*)::int AS n FROM economy_packs WHERE drop_id = $1', [DROP])
    if (rows[0]!.n !== COLLECTORS) throw new Error(`${rows[0]!.n} packs for ${COLLECTORS} collectors`)
    return { collectors: COLLECTORS, claims, baselineAppends: baseline, claimVsAppendRate: claims.rate / baseline.rate }
  } finally {
    await relay.close()
  }
}

/**
 * A log of `instances` card instances: packs of 5 from a 200-card collection (100 of supply 10,000,
 * 100 unlimited) into 20,000 books; every 10th pack offers a card to the next book, which accepts, and
 * every 20th burns one. Receipts are plain objects (the check reads payloads only; verification is
 * `pixpax verify`'s other work).
 */
function supplyLog(instances: number): Receipt[] {
  const log: Receipt[] = []
  let n = 0
  const r = (stream: Record<string, string>, type: string, payload: Record<string, unknown>): Receipt =>
    ({ eventId: `e${n++}`, stream, type, payload }) as unknown as Receipt
  const cards = Array.from({ length: 200 }, (_, i) => ({ cardId: `c${i}`, seriesId: 's', supply: i < 100 ? 10_000 : null }))
  log.push(r({ type: 'collection', collectionId: 'col' }, 'COLLECTION_VERSION_PUBLISHED', { version: 1, cards }))
  const books = 20_000
  const book = (i: number) => ({ type: 'pixbook', accountId: `a${i % books}`, bookId: 'b' })
  for (let p = 0; p * 5 < instances; p++) {
    const packId = `p${p}`
    const into = book(p)
    log.push(
      r(into, 'PACK_ISSUED', {
        packId,
        collectionId: 'col',
        cards: Array.from({ length: 5 }, (_, i) => ({ cardId: `c${(p * 7 + i * 31) % 200}` })),
      }),
    )
    if (p % 10 === 0) {
      const to = book(p + 1)
      log.push(r(into, 'CARD_TRADE_OFFERED', { tradeId: `t${p}`, cardId: `${packId}-0`, to: { accountId: to.accountId, bookId: 'b' } }))
      log.push(r(to, 'CARD_TRADE_ACCEPTED', { tradeId: `t${p}`, from: { accountId: into.accountId, bookId: 'b' } }))
    }
    if (p % 20 === 0) log.push(r(into, 'CARD_REMOVED', { cardId: `${packId}-1` }))
  }
  return log
}

function supplyBench(): Record<string, unknown> {
  const log = supplyLog(INSTANCES)
  // Baseline: one pass over the same receipts, counting each pack's cards in a Map.
  let start = performance.now()
  const counts = new Map<string, number>()
  for (const receipt of log) {
    if (receipt.type !== 'PACK_ISSUED') continue
    for (const c of receipt.payload.cards as Array<{ cardId: string }>) counts.set(c.cardId, (counts.get(c.cardId) ?? 0) + 1)
  }
  const baselineSeconds = (performance.now() - start) / 1000
  start = performance.now()
  const check = new SupplyCheck()
  for (const receipt of log) check.add(receipt)
  const report = check.report()
  const seconds = (performance.now() - start) / 1000
  if (!report.ok || report.instances < INSTANCES) throw new Error(`supply check: ${JSON.stringify(report).slice(0, 500)}`)
  return { receipts: log.length, instances: report.instances, seconds, baselinePassSeconds: baselineSeconds, target: TARGET.supplySeconds }
}

export async function runEconomyBench(): Promise<Record<string, unknown>> {
  console.log('economy:')
  await dropSchemas(SCHEMA_PREFIX) // fails fast (and loudly) without Postgres
  try {
    const supply = supplyBench()
    console.log(
      `  supply check over ${fmt(supply.instances as number)} card instances (${fmt(supply.receipts as number)} receipts): ` +
        `${(supply.seconds as number).toFixed(2)} s (target ≤ ${TARGET.supplySeconds} s) ` +
        `${(supply.seconds as number) <= TARGET.supplySeconds ? 'OK' : 'MISSED'}; baseline plain pass counting cards: ${(supply.baselinePassSeconds as number).toFixed(2)} s`,
    )
    const claims = await claimBench()
    const c = claims.claims as Timed
    const b = claims.baselineAppends as Timed
    console.log(
      `  drop claims, ${fmt(COLLECTORS)} collectors at once (pg + fs): ${fmt(c.rate)} claims/s, ${c.seconds.toFixed(2)} s, ` +
        `p50 ${fmt(c.p50)} ms, p95 ${fmt(c.p95)} ms, p99 ${fmt(c.p99)} ms; one pack each: ${c.ok === COLLECTORS ? 'yes' : 'NO'}`,
    )
    console.log(
      `  baseline: the same ${fmt(COLLECTORS)} collectors, one plain append each at once: ${fmt(b.rate)} appends/s, ` +
        `p50 ${fmt(b.p50)} ms, p95 ${fmt(b.p95)} ms (claims at ${((claims.claimVsAppendRate as number) * 100).toFixed(0)}% of the append rate)`,
    )
    return { supply, ...claims }
  } finally {
    await dropSchemas(SCHEMA_PREFIX)
  }
}
