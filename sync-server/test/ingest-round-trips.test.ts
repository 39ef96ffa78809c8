/**
 * Round trips per append batch, counted on a real Postgres (CountingDb around the relay's PgDb, a
 * PgNotifier as in production): the group-commit appender must issue a small constant number of
 * statements per batch, whatever the number of receipts in it, the number of requests that joined it or
 * the length of the stream's history. A regression (a statement per receipt, per stream, per request or
 * per row of history) fails here.
 *
 * One batch of CARD_ADDED receipts, in the order they are sent (BATCH_STATEMENTS = 14):
 *   append transaction (8):
 *     1 BEGIN
 *     2 every stream and issuer advisory lock, in one SELECT (lockStreams)
 *     3 the ledger state: identities, keys, heads, members, known receipts, idempotency, intents (BatchLedger.load)
 *     4 the append intents, one INSERT on the side connection (queryOutsideTransaction)
 *     5 the log positions + log leaves + inline projector offsets + settled intents, one statement (sequence)
 *     6 streams projector: receipts rows + stream heads
 *     7 pixbook projector: cards upsert + card counts + updated_at
 *     8 COMMIT
 *   9 the batch's acks, one INSERT (after COMMIT, beside the integrator round)
 *   integrator round (4):
 *    10 BEGIN
 *    11 the checkpoint row FOR UPDATE + the sequenced size + the leaves to integrate, one SELECT
 *    12 UPDATE log_checkpoint + DELETE integrated full-tile leaves, one statement
 *    13 COMMIT
 *   14 NOTIFY for every stream of the batch, one SELECT pg_notify (after the checkpoint)
 *
 * (Counted as statements. On the wire 1+2, 10+11 and 12+13 each share a round trip — pg-db.ts — but
 * CountingDb wraps the transaction, so the integrator's last statement goes out on its own here.)
 */
import { randomBytes } from 'node:crypto'
import type { Receipt } from '@pixpax/shared'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { CountingDb, type StatementCounts } from '../src/db/counting-db.js'
import { noticeChannel, PgNotifier } from '../src/sync/notifier.js'
import {
  accountStream,
  adminQuery,
  appendOk,
  artHash,
  DATABASE_URL,
  dropSchemas,
  identityCreated,
  newIdentity,
  pixbookStream,
  removeDir,
  startTestRelay,
  StreamWriter,
  uniqueSchema,
  type Identity,
  type TestRelay,
} from './support/relay-harness.js'

/** Statements of one batch: see the list above. */
const BATCH_STATEMENTS = 14
/** Transactions of one batch: the append transaction and the integrator round. */
const BATCH_TRANSACTIONS = 2
/** Requests of (c): one receipt each, on as many streams. */
const CONCURRENT = 20

const PREFIX = `pixpax_rt_${randomBytes(4).toString('hex')}`

let app: FastifyInstance
let url: string
let db: CountingDb
let relay: TestRelay | undefined
let alice: Identity
let book: StreamWriter
const sideBooks: StreamWriter[] = []

beforeAll(async () => {
  await adminQuery('SELECT 1') // fail, never skip, without Postgres
  const schema = uniqueSchema(PREFIX)
  relay = await startTestRelay({
    db: 'pg',
    schema,
    wrapDb: (inner) => (db = new CountingDb(inner, { record: true })),
    notifier: await PgNotifier.open(DATABASE_URL, noticeChannel(schema)),
  })
  ;({ app, url } = relay)
  // Tail projectors (search, notifications) follow the log on their own transactions after each batch;
  // they are not the append path this file counts (tail-projectors.test.ts covers them).
  await app.relay.tails.stop()

  // An identity, its account, a pixbook, and CONCURRENT more pixbooks for (c). Afterwards the relay
  // has alice's key cached, so no measured request looks it up.
  const accountId = `acc-${randomBytes(3).toString('hex')}`
  alice = newIdentity(accountId)
  await appendOk(url, [await identityCreated(alice)])
  const account = new StreamWriter(accountStream(accountId))
  await appendOk(url, [await account.build('ACCOUNT_CREATED', { displayName: 'Round trips' }, alice)])
  book = new StreamWriter(pixbookStream(accountId, 'book'))
  for (let i = 0; i < CONCURRENT; i++) sideBooks.push(new StreamWriter(pixbookStream(accountId, `side-${i}`)))
  const geneses: Receipt[] = []
  for (const w of [book, ...sideBooks]) {
    const genesis = await w.build('PIXBOOK_CREATED', { title: w.key }, alice)
    w.advance(genesis)
    geneses.push(genesis)
  }
  await appendOk(url, geneses)
})

afterAll(async () => {
  await relay?.close()
  await dropSchemas(PREFIX)
  if (relay) await removeDir(relay.dataDir)
})

let nextCard = 0
/** `n` chained CARD_ADDED receipts on `w`, signed now (before any measurement). */
async function cards(w: StreamWriter, n: number): Promise<Receipt[]> {
  const out: Receipt[] = []
  for (let i = 0; i < n; i++) {
    const card = nextCard++
    const r = await w.build('CARD_ADDED', { cardId: `card-${card}`, artHash: artHash(`art ${card}`) }, alice)
    w.advance(r)
    out.push(r)
  }
  return out
}

interface Measured extends StatementCounts {
  /** The statements, for failure messages. */
  listing: string
}

/** Statements issued while `fn` runs; the relay is otherwise idle, and `fn` returns once every ack is in. */
async function measure(fn: () => Promise<unknown>): Promise<Measured> {
  db.reset()
  await fn()
  return { ...db.counts(), listing: db.recorded.map((r) => `${r.where.padEnd(7)} ${r.sql.slice(0, 110)}`).join('\n') }
}

describe('statements per append batch (Postgres)', () => {
  let one: Measured

  it('(a) one request, one CARD_ADDED: one batch', async () => {
    const receipts = await cards(book, 1)
    one = await measure(() => appendOk(url, receipts))
    expect(one.statements, one.listing).toBeLessThanOrEqual(BATCH_STATEMENTS)
    expect(one.transactions, one.listing).toBeLessThanOrEqual(BATCH_TRANSACTIONS)
    expect(one.outside, one.listing).toBeLessThanOrEqual(1)
  })

  it('(b) one request of 100 CARD_ADDED on one stream: the same statements as one receipt', async () => {
    const receipts = await cards(book, 100)
    const hundred = await measure(() => appendOk(url, receipts))
    expect(hundred.statements, hundred.listing).toBeLessThanOrEqual(BATCH_STATEMENTS)
    expect(hundred.statements, hundred.listing).toBeLessThanOrEqual(one.statements + 1)
    expect(hundred.transactions, hundred.listing).toBeLessThanOrEqual(BATCH_TRANSACTIONS)
  })

  it(`(c) ${CONCURRENT} concurrent requests on ${CONCURRENT} streams: two batches, not ${CONCURRENT}`, async () => {
    const requests = await Promise.all(sideBooks.map((w) => cards(w, 1)))
    // Made deterministic: alice's identity lock (every batch takes it, shared) is held while the requests
    // arrive, so the first batch — the first request alone — waits at its lock statement until all
    // the others are queued; then they are all the second batch. Each batch has its integrator round
    // (or the second one's is shared), so at most two batches' statements.
    const lockKey = `identity/${alice.identityId}`
    const holder = new pg.Client({ connectionString: DATABASE_URL })
    await holder.connect()
    const appends = vi.spyOn(app.relay.ingestor.appender, 'append')
    let locked = false
    try {
      await holder.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [lockKey])
      locked = true
      const concurrent = await measure(async () => {
        const done = Promise.all(requests.map((r) => appendOk(url, r)))
        await vi.waitFor(() => expect(appends.mock.calls.length).toBe(CONCURRENT), { timeout: 10_000, interval: 5 })
        await holder.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [lockKey])
        locked = false
        await done
      })
      expect(concurrent.statements, concurrent.listing).toBeLessThanOrEqual(2 * BATCH_STATEMENTS)
      expect(concurrent.transactions, concurrent.listing).toBeLessThanOrEqual(2 * BATCH_TRANSACTIONS)
      expect(concurrent.statements, concurrent.listing).toBeLessThan((CONCURRENT * one.statements) / 5)
    } finally {
      appends.mockRestore()
      if (locked) await holder.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [lockKey])
      await holder.end()
    }
  })

  it('(a) again after 300 more receipts on the stream: the count does not grow with history', async () => {
    for (let i = 0; i < 3; i++) await appendOk(url, await cards(book, 100))
    const receipts = await cards(book, 1)
    const again = await measure(() => appendOk(url, receipts))
    expect(again.statements, again.listing).toBe(one.statements)
    expect(again.transactions, again.listing).toBe(one.transactions)
    expect(again.outside, again.listing).toBe(one.outside)
  })
})
