/**
 * The stream reads on real Postgres: a catch-up batch (and a page of GET /v1/receipts) reads at most one
 * batch of rows whatever plan the planner picks. Right after a bulk load the table has no statistics (autovacuum has not analyzed it);
 * bounded by LIMIT alone, the planner then took a bitmap scan of the stream's whole rest and sorted it,
 * so every batch of a long catch-up read everything after it (quadratic; most of Postgres's CPU).
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SYNC_LIMITS } from '../src/sync/sync-session.js'
import { startTestRelay, type TestRelay } from '../src/testing.js'
import {
  DELIVERY_BATCH_SQL,
  deliveryBatchParams,
  readDeliveryRows,
  readStreamPage,
  STREAM_PAGE_SQL,
} from '../src/domains/streams/stream-reads.js'
import {
  accountStream,
  adminQuery,
  appendOk,
  dropSchemas,
  identityCreated,
  newIdentity,
  pixbookStream,
  StreamWriter,
  uniqueSchema,
} from './support/relay-harness.js'

const PREFIX = `pixpax_delivery_read_${randomBytes(4).toString('hex')}`
const LIMIT = SYNC_LIMITS.maxReceiptsPerMessage
const RECEIPTS = 3 * LIMIT

interface PlanNode {
  'Node Type': string
  'Actual Rows': number
  'Actual Loops': number
  'Rows Removed by Filter'?: number
  'Rows Removed by Index Recheck'?: number
  Plans?: PlanNode[]
}

/** The most rows any node of the plan produced or filtered away (per loop). */
function mostRowsTouched(node: PlanNode): number {
  const here = node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)
  return Math.max(here, ...(node.Plans ?? []).map(mostRowsTouched))
}

async function explain(relay: TestRelay, sql: string, params: unknown[]): Promise<PlanNode> {
  const { rows } = await relay.db.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params)
  return rows[0]!['QUERY PLAN'][0]!.Plan
}

describe('stream reads (real Postgres)', () => {
  let relay: TestRelay
  let book: StreamWriter
  const eventIds: string[] = []

  beforeAll(async () => {
    await adminQuery('SELECT 1') // fail, never skip, without Postgres
    relay = await startTestRelay({ db: 'pg', schema: uniqueSchema(PREFIX) })
    // No statistics, as after a bulk load autovacuum has not reached yet: the planner guesses.
    await relay.db.query('ALTER TABLE receipts SET (autovacuum_enabled = false)')
    const owner = newIdentity(`acct-${randomBytes(3).toString('hex')}`)
    const account = new StreamWriter(accountStream(owner.accountId))
    await appendOk(relay.url, [await identityCreated(owner), await account.build('ACCOUNT_CREATED', {}, owner)])
    book = new StreamWriter(pixbookStream(owner.accountId, 'long'))
    let batch = []
    for (let i = 0; i < RECEIPTS; i++) {
      const r = await book.build(
        i === 0 ? 'PIXBOOK_CREATED' : 'CARD_ADDED',
        i === 0 ? { title: 'long' } : { cardId: `c${i}`, artHash: 'sha256:' + 'ab'.repeat(32) },
        owner,
      )
      book.advance(r)
      eventIds.push(r.eventId)
      batch.push(r)
      if (batch.length === LIMIT) {
        await appendOk(relay.url, batch)
        batch = []
      }
    }
  }, 120_000)
  afterAll(async () => {
    await relay?.close()
    await dropSchemas(PREFIX)
  })

  it('reads each batch of a long stream in order, at most one batch of rows per read, with no statistics', async () => {
    const { rows } = await relay.db.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stats WHERE tablename = 'receipts' AND schemaname = current_schema()",
    )
    expect(Number(rows[0]!.n)).toBe(0)
    const seqs: number[] = []
    for (const afterSeq of [0, LIMIT, 2 * LIMIT]) {
      const read = await readDeliveryRows(relay.db, book.key, afterSeq, LIMIT)
      expect(read.checkpoint?.size).toBeGreaterThanOrEqual(RECEIPTS)
      seqs.push(...read.items.map((i) => i.seq))
      const plan = await explain(relay, DELIVERY_BATCH_SQL, deliveryBatchParams(book.key, afterSeq, LIMIT))
      expect(mostRowsTouched(plan)).toBeLessThanOrEqual(LIMIT)
    }
    expect(seqs).toEqual(Array.from({ length: RECEIPTS }, (_, i) => i + 1))
    expect((await readDeliveryRows(relay.db, book.key, RECEIPTS, LIMIT)).items).toEqual([])
  })
  it('pages GET /v1/receipts by eventId the same way: in order, bounded, from a cursor in the stream or between two', async () => {
    const seen: string[] = []
    let after: string | null = null
    for (;;) {
      const page = await readStreamPage(relay.db, book.key, after, LIMIT)
      expect(mostRowsTouched(await explain(relay, STREAM_PAGE_SQL, [book.key, after, LIMIT]))).toBeLessThanOrEqual(LIMIT)
      seen.push(...page.map((r) => r.event_id))
      if (page.length < LIMIT) break
      after = page.at(-1)!.event_id
    }
    expect(seen).toEqual(eventIds)
    // A cursor that is no eventId of the stream: the page starts at the first one after it.
    // Sorts after eventIds[699] and before eventIds[700] (a longer string with the same prefix).
    const between = eventIds[699]! + 'Z'
    expect((await readStreamPage(relay.db, book.key, between, 3)).map((r) => r.event_id)).toEqual(eventIds.slice(700, 703))
    // Before the first and after the last.
    expect((await readStreamPage(relay.db, book.key, '00000000000000000000000000', 2)).map((r) => r.event_id)).toEqual(eventIds.slice(0, 2))
    expect(await readStreamPage(relay.db, book.key, eventIds.at(-1)!, 10)).toEqual([])
  })
})
