/**
 * Relay benchmark, every figure beside a baseline measured in the same run, on the same machine:
 *
 * - Postgres + fs, one receipt per request (closed-loop writers, each on its own stream, keep-alive
 *   fetch) at 1, 10 and 50 writers, vs the raw single-row Postgres INSERT rate at the same concurrency
 *   (N connections, each inserting ~receipt-size rows in autocommit for as long).
 * - Postgres + fs, 100 receipts per request at 10 writers.
 * - PGlite + fs at 10 writers.
 * - s3rver + Postgres at 10 writers, vs the raw putIfAbsent rate of the same store at the same
 *   concurrency with objects of the same size.
 * - The latency of a single append (the 1-writer run: one request at a time).
 * - Rebuild from a filesystem store into a fresh Postgres schema: the store is produced by a relay
 *   (receipts posted in large requests), since rebuild replays the relay's log.
 *
 * Receipts are generated and signed before any timing: signing is the client's cost, not the relay's.
 * Durations and sizes: BENCH_RELAY_SECONDS (per timed run, default 5), BENCH_RELAY_MAX_RATE and
 * BENCH_RELAY_MAX_BATCH_RATE (receipts signed ahead per second of run, for one-receipt and 100-receipt
 * requests), BENCH_RELAY_REBUILD_RECEIPTS (default 100,000) and BENCH_RELAY_REBUILD_STREAMS (default 1,000).
 *
 * Postgres: DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, fresh schemas, dropped afterwards.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, writeFile } from 'node:fs/promises'
import inspector from 'node:inspector'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  buildReceipt,
  canonicalBytes,
  generatePrivateJwk,
  type ChainHead,
  type Receipt,
  type Signer,
  type StreamRef,
} from '../shared/src/index.js'
import { nodeSha256, nodeSigner, VerifyPool } from '../shared/src/node/index.js'
import { RELAY_MIGRATIONS } from '../sync-server/src/context.js'
import { migrate } from '../sync-server/src/db/migrate.js'
import { PgDb } from '../sync-server/src/db/pg-db.js'
import { projectionDigest } from '../sync-server/src/replay/digest.js'
import { rebuild } from '../sync-server/src/replay/rebuild.js'
import { FsObjectStore } from '../sync-server/src/stores/fs-object-store.js'
import type { ObjectStore } from '../sync-server/src/stores/object-store.js'
import {
  DATABASE_URL,
  dropSchemas,
  openStoreFor,
  relayEnv,
  removeDir,
  startTestRelay,
  startRelayProcess,
  type DbKind,
  type StoreKind,
} from '../sync-server/test/support/relay-harness.js'
import { startS3rver, type RunningS3rver } from '../sync-server/test/support/s3rver.js'
import { fmt, percentile } from './support.js'

const SCHEMA_PREFIX = `pixpax_bench_relay_${process.pid}`
/** Writers of the Postgres + fs one-receipt-per-request runs. */
const WRITERS = [1, 10, 50] as const
/** Writers of the other runs (100 per request, PGlite, s3rver). */
const WRITERS_OTHER = 10
const BATCH = 100
/** Seconds each timed run (and each baseline) lasts. */
const SECONDS = Number(process.env.BENCH_RELAY_SECONDS ?? 5)
/** Receipts signed ahead per second of a one-receipt-per-request run (a faster relay just finishes early). */
const MAX_RATE = Number(process.env.BENCH_RELAY_MAX_RATE ?? 2_500)
/** One writer is bounded by its latency: at most this many appends per second are signed ahead for it. */
const MAX_RATE_PER_WRITER = 1_000
/** Receipts signed ahead per second of the 100-receipts-per-request run. */
const MAX_BATCH_RATE = Number(process.env.BENCH_RELAY_MAX_BATCH_RATE ?? 12_000)
const WARMUP_PER_STREAM = 3
const REBUILD_RECEIPTS = Number(process.env.BENCH_RELAY_REBUILD_RECEIPTS ?? 100_000)
const REBUILD_STREAMS = Number(process.env.BENCH_RELAY_REBUILD_STREAMS ?? 1_000)
/** Receipts per request when producing the rebuild store, and requests in flight. */
const REBUILD_REQUEST = 500
const REBUILD_POSTERS = 4
/** Receipts of one stream in a row within a rebuild request. */
const REBUILD_SEGMENT = 10

/** The ingest runs to make (default all): `pg` (1, 10, 50 writers), `batched`, `pglite`, `s3`. */
const RUNS = new Set((process.env.BENCH_RELAY_RUNS ?? 'pg,batched,pglite,s3').split(',').map((r) => r.trim()))

/** `ingest`, `rebuild` or both (default): the parts of this bench to run. */
const PARTS = new Set((process.env.BENCH_RELAY_PARTS ?? 'ingest,rebuild').split(',').map((p) => p.trim()))

const TARGET = {
  insertRatio: 0.25,
  batchRate: 8_000,
  pgliteRate: 1_000,
  s3Ratio: 0.7,
  p99Ms: 10,
  rebuildRate: 10_000,
}

interface Author {
  identityId: string
  accountId: string
  signer: Signer
}

interface StreamWork {
  stream: StreamRef
  warmup: Receipt[]
  timed: Receipt[]
}

interface Workload {
  /** Identities and stream geneses: posted before anything is timed. */
  setup: Receipt[][]
  streams: StreamWork[]
  meanBytes: number
}

async function sign(
  author: Author,
  stream: StreamRef,
  type: string,
  payload: Record<string, unknown>,
  prev: ChainHead | null,
): Promise<Receipt> {
  return buildReceipt({ stream, type, payload, identityId: author.identityId, signer: author.signer, prev, sha256: nodeSha256 })
}

const artHash = (i: number): string => 'sha256:' + ((i * 2654435761) >>> 0).toString(16).padStart(64, '0')

function newAuthor(tag: string, i: number): Author {
  return { identityId: `bench-${tag}-${i}`, accountId: `bench-acc-${tag}-${i}`, signer: nodeSigner(generatePrivateJwk()) }
}

const identityCreated = (author: Author): Promise<Receipt> =>
  sign(
    author,
    { type: 'identity', identityId: author.identityId },
    'IDENTITY_CREATED',
    { publicKey: author.signer.publicKey, accountId: author.accountId, kind: 'person' },
    null,
  )

/** N streams, one owner identity each; `perStream` timed CARD_ADDED receipts per stream, chained. */
async function makeWorkload(tag: string, streams: number, perStream: number): Promise<Workload> {
  const identities: Receipt[] = []
  const geneses: Receipt[] = []
  const work: StreamWork[] = []
  let bytes = 0
  let count = 0
  for (let s = 0; s < streams; s++) {
    const author = newAuthor(tag, s)
    identities.push(await identityCreated(author))
    const stream: StreamRef = { type: 'pixbook', accountId: author.accountId, bookId: 'book' }
    const genesis = await sign(author, stream, 'PIXBOOK_CREATED', { title: `Bench book ${s}` }, null)
    geneses.push(genesis)
    let head: ChainHead = { eventId: genesis.eventId, hash: genesis.hash }
    const chain: Receipt[] = []
    for (let i = 0; i < WARMUP_PER_STREAM + perStream; i++) {
      // A card with a pack and a trade reference: about 800 bytes of canonical receipt.
      const r = await sign(
        author,
        stream,
        'CARD_ADDED',
        { cardId: `card-${s}-${i}`, artHash: artHash(s * 100_000 + i), packId: `pack-${s}-${i >> 3}`, tradeId: `trade-${tag}-${s}-${i}` },
        head,
      )
      head = { eventId: r.eventId, hash: r.hash }
      chain.push(r)
      if (i >= WARMUP_PER_STREAM && count < 1000) {
        bytes += canonicalBytes(r).length
        count++
      }
    }
    work.push({ stream, warmup: chain.slice(0, WARMUP_PER_STREAM), timed: chain.slice(WARMUP_PER_STREAM) })
  }
  return { setup: [identities, geneses], streams: work, meanBytes: Math.round(bytes / count) }
}

async function post(url: string, receipts: Receipt[]): Promise<void> {
  const res = await fetch(`${url}/v1/receipts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ receipts }),
  })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`relay refused an append: ${res.status} ${text.slice(0, 300)}`)
}

interface DriveResult {
  count: number
  seconds: number
  /** A writer ran out of signed receipts before the deadline (the figure is still right, the run shorter). */
  exhausted: boolean
}

/**
 * Closed loop: each stream's writer posts its receipts `perRequest` at a time, one request after the
 * other, all writers concurrently, until they run out or `seconds` have passed (then each finishes its
 * request in flight). Request latencies go to `latencies` when given.
 */
async function drive(
  url: string,
  streams: StreamWork[],
  pick: (w: StreamWork) => Receipt[],
  options: { seconds?: number; perRequest?: number; latencies?: number[] } = {},
): Promise<DriveResult> {
  const { seconds = Infinity, perRequest = 1, latencies } = options
  const start = performance.now()
  const deadline = start + seconds * 1000
  let count = 0
  let exhausted = false
  await Promise.all(
    streams.map(async (w) => {
      const receipts = pick(w)
      let i = 0
      for (; i < receipts.length && performance.now() < deadline; i += perRequest) {
        const chunk = receipts.slice(i, i + perRequest)
        const t = performance.now()
        await post(url, chunk)
        latencies?.push(performance.now() - t)
        count += chunk.length
      }
      if (i >= receipts.length && seconds !== Infinity) exhausted = true
    }),
  )
  return { count, seconds: (performance.now() - start) / 1000, exhausted }
}

/** Posts a workload's identities and geneses, then each stream's warm-up receipts. */
async function prepare(url: string, w: Workload): Promise<void> {
  for (const batch of w.setup) await post(url, batch)
  await drive(url, w.streams, (s) => s.warmup)
}

/** putIfAbsent of objects of `size` bytes by `concurrency` workers, each in its own directory, for `seconds`. */
async function rawPutRate(store: ObjectStore, concurrency: number, size: number, seconds: number): Promise<number> {
  const body = new Uint8Array(size).fill(0x61)
  const tag = randomBytes(4).toString('hex')
  // Warm-up: directories and connections, as the relay's warm-up had them.
  await Promise.all(
    Array.from({ length: concurrency }, (_, w) => store.putIfAbsent(`rawput/${tag}/w${w}/events/warm.json`, body, 'application/json')),
  )
  const start = performance.now()
  const deadline = start + seconds * 1000
  let count = 0
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        await store.putIfAbsent(`rawput/${tag}/w${w}/events/${String(i).padStart(8, '0')}.json`, body, 'application/json')
        count++
      }
    }),
  )
  return count / ((performance.now() - start) / 1000)
}

/**
 * Single-row INSERTs of `size`-byte rows in autocommit by `concurrency` connections (closed loop), for
 * `seconds`: the baseline an append is compared with (one durable commit of a receipt-size row).
 */
async function rawInsertRate(concurrency: number, size: number, seconds: number): Promise<number> {
  const db = await PgDb.open({ connectionString: DATABASE_URL, schema: `${SCHEMA_PREFIX}_raw`, max: concurrency })
  try {
    await db.query('CREATE TABLE IF NOT EXISTS t (a text, b text)')
    const body = 'a'.repeat(Math.max(0, size - 24))
    const tag = randomBytes(4).toString('hex')
    // Warm-up: every connection opened, the statement parsed.
    await Promise.all(
      Array.from({ length: concurrency }, (_, w) => db.query('INSERT INTO t (a, b) VALUES ($1, $2)', [`${tag}-w${w}-warm`, body])),
    )
    const start = performance.now()
    const deadline = start + seconds * 1000
    let count = 0
    await Promise.all(
      Array.from({ length: concurrency }, async (_, w) => {
        for (let i = 0; performance.now() < deadline; i++) {
          await db.query('INSERT INTO t (a, b) VALUES ($1, $2)', [`${tag}-w${w}-${i}`, body])
          count++
        }
      }),
    )
    const rate = count / ((performance.now() - start) / 1000)
    await db.query('TRUNCATE t')
    return rate
  } finally {
    await db.close()
  }
}

/** A relay for one timed configuration: its own process (main.ts, as an operator runs it), its store opened here too. */
interface BenchRelay {
  url: string
  /** The same store the relay writes (a second handle: raw-rate baselines, inspection). */
  store: ObjectStore
}

/**
 * Runs `fn` against a relay started as `pnpm start` would (node + main.ts, the variables main.ts reads),
 * in its own process: the relay gets its event loop to itself, as it would with its clients elsewhere,
 * and this process only drives the load. BENCH_RELAY_IN_PROCESS=1 runs it in this process instead (for a
 * CPU profile of both).
 */
async function withRelay<T>(
  db: DbKind,
  store: StoreKind,
  s3: RunningS3rver | undefined,
  fn: (relay: BenchRelay) => Promise<T>,
  env?: Record<string, string>,
): Promise<T> {
  const schema = `${SCHEMA_PREFIX}_${db}_${store}_${randomBytes(3).toString('hex')}`
  if (process.env.BENCH_RELAY_IN_PROCESS) {
    const relay = await startTestRelay({ db, store, ...(s3 ? { s3 } : {}), ...(env ? { env } : {}), schema })
    try {
      return await fn({ url: relay.url, store: relay.deps.store })
    } finally {
      await relay.close()
      await removeDir(relay.options.dataDir)
    }
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'pixpax-bench-relay-'))
  // One s3rver per bench run and one s3 configuration in it: the relay uses the bucket's root.
  const options = { db, store, dataDir, schema, ...(s3 ? { s3 } : {}), ...(env ? { env } : {}) }
  const relay = await startRelayProcess({ ...relayEnv(options), LOG_LEVEL: 'warn' })
  const handle = openStoreFor(options)
  try {
    return await fn({ url: relay.url, store: handle })
  } finally {
    await handle.close()
    const code = await relay.stop()
    if (code !== 0) console.error(`relay process exited with ${code}:\n${relay.output()}`)
    await removeDir(dataDir)
  }
}

/**
 * The relay's own account of where a batch's time went: pixpax_append_phase_seconds from /metrics,
 * read before and after a run; `since(before)` gives the mean milliseconds per batch of each phase.
 */
async function phaseSums(url: string): Promise<Map<string, { sum: number; count: number }>> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const out = new Map<string, { sum: number; count: number }>()
  for (const m of text.matchAll(/^pixpax_append_phase_seconds_(sum|count)\{phase="([a-z_]+)"\} ([0-9.e+-]+)$/gm)) {
    const entry = out.get(m[2]!) ?? { sum: 0, count: 0 }
    entry[m[1] as 'sum' | 'count'] = Number(m[3])
    out.set(m[2]!, entry)
  }
  const batches = /^pixpax_append_batch_receipts_(sum|count) ([0-9.e+-]+)$/gm
  for (const m of text.matchAll(batches)) {
    const entry = out.get('batch_receipts') ?? { sum: 0, count: 0 }
    entry[m[1] as 'sum' | 'count'] = Number(m[2])
    out.set('batch_receipts', entry)
  }
  return out
}

/** Mean ms per phase between two phaseSums readings, and the mean batch size. */
function phaseMeans(
  before: Map<string, { sum: number; count: number }>,
  after: Map<string, { sum: number; count: number }>,
): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [phase, a] of after) {
    const b = before.get(phase) ?? { sum: 0, count: 0 }
    const n = a.count - b.count
    if (n <= 0) continue
    out[phase] = +(((a.sum - b.sum) / n) * (phase === 'batch_receipts' ? 1 : 1000)).toFixed(2)
  }
  return out
}

const phaseText = (means: Record<string, number>): string =>
  Object.entries(means)
    .filter(([p]) => p !== 'batch_receipts')
    .map(([p, ms]) => `${p} ${ms}`)
    .join(', ') + (means.batch_receipts !== undefined ? `; ${means.batch_receipts} receipts/batch` : '')

const ratioText = (r: number): string => r.toFixed(2)
const exhaustedNote = (run: DriveResult): string => (run.exhausted ? '  [ran out of signed receipts: raise BENCH_RELAY_MAX_RATE]' : '')
const rateFigure = (run: DriveResult): Record<string, unknown> => ({
  receipts: run.count,
  seconds: +run.seconds.toFixed(2),
  receipts_per_s: Math.round(run.count / run.seconds),
  ...(run.exhausted ? { exhausted: true } : {}),
})

/** Postgres + fs, one receipt per request, at 1, 10 and 50 writers, each beside the raw INSERT rate; latency at 1. */
async function benchPgFs(workloads: Map<number, Workload>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  await withRelay('pg', 'fs', undefined, async (relay) => {
    for (const n of WRITERS) {
      const w = workloads.get(n)!
      await prepare(relay.url, w)
      const latencies: number[] = []
      const before = await phaseSums(relay.url)
      const run = await drive(relay.url, w.streams, (s) => s.timed, { seconds: SECONDS, ...(n === 1 ? { latencies } : {}) })
      const phases = phaseMeans(before, await phaseSums(relay.url))
      const rate = run.count / run.seconds
      const raw = await rawInsertRate(n, w.meanBytes, SECONDS)
      const ratio = rate / raw
      const rawPut = await rawPutRate(relay.store, n, w.meanBytes, SECONDS)
      out[`ingest_w${n}`] = {
        writers: n,
        ...rateFigure(run),
        raw_insert_per_s: Math.round(raw),
        raw_fs_put_per_s: Math.round(rawPut),
        row_bytes: w.meanBytes,
        ratio: +ratio.toFixed(3),
        target_ratio: TARGET.insertRatio,
        phase_ms: phases,
      }
      console.log(
        `  fs+pg      ${String(n).padStart(2)} writers × 1/request: ${fmt(rate).padStart(6)} receipts/s   raw INSERT ${fmt(raw).padStart(6)}/s (${w.meanBytes} B rows, ${n} conn)   ratio ${ratioText(ratio)} (target ≥ ${TARGET.insertRatio})   raw fs putIfAbsent ${fmt(rawPut)}/s${exhaustedNote(run)}`,
      )
      console.log(`             per batch (ms): ${phaseText(phases)}`)
      if (n === 1) {
        latencies.sort((a, b) => a - b)
        const lat = {
          appends: latencies.length,
          p50_ms: +percentile(latencies, 50).toFixed(2),
          p95_ms: +percentile(latencies, 95).toFixed(2),
          p99_ms: +percentile(latencies, 99).toFixed(2),
          target_p99_ms: TARGET.p99Ms,
        }
        out.append_latency = lat
        console.log(
          `  fs+pg       1 writer, single append latency: p50 ${lat.p50_ms} ms  p95 ${lat.p95_ms} ms  p99 ${lat.p99_ms} ms (${lat.appends} appends; target p99 ≤ ${TARGET.p99Ms} ms)`,
        )
      }
    }
  })
  return out
}

/** Postgres + fs, 100 receipts per request at 10 writers. */
async function benchPgFsBatched(w: Workload): Promise<Record<string, unknown>> {
  return withRelay('pg', 'fs', undefined, async (relay) => {
    await prepare(relay.url, w)
    const before = await phaseSums(relay.url)
    const run = await drive(relay.url, w.streams, (s) => s.timed, { seconds: SECONDS, perRequest: BATCH })
    const phases = phaseMeans(before, await phaseSums(relay.url))
    const rate = run.count / run.seconds
    console.log(
      `  fs+pg      ${WRITERS_OTHER} writers × ${BATCH}/request: ${fmt(rate).padStart(6)} receipts/s (target ≥ ${fmt(TARGET.batchRate)})${run.exhausted ? '  [ran out of signed receipts: raise BENCH_RELAY_MAX_BATCH_RATE]' : ''}`,
    )
    console.log(`             per batch (ms): ${phaseText(phases)}`)
    return { writers: WRITERS_OTHER, per_request: BATCH, ...rateFigure(run), target_receipts_per_s: TARGET.batchRate, phase_ms: phases }
  })
}

/** PGlite + fs, one receipt per request at 10 writers. */
async function benchPgliteFs(w: Workload): Promise<Record<string, unknown>> {
  return withRelay('pglite', 'fs', undefined, async (relay) => {
    await prepare(relay.url, w)
    const before = await phaseSums(relay.url)
    const run = await drive(relay.url, w.streams, (s) => s.timed, { seconds: SECONDS })
    const phases = phaseMeans(before, await phaseSums(relay.url))
    const rate = run.count / run.seconds
    console.log(
      `  fs+pglite  ${WRITERS_OTHER} writers × 1/request: ${fmt(rate).padStart(6)} receipts/s (target ≥ ${fmt(TARGET.pgliteRate)})${exhaustedNote(run)}`,
    )
    console.log(`             per batch (ms): ${phaseText(phases)}`)
    return { writers: WRITERS_OTHER, ...rateFigure(run), target_receipts_per_s: TARGET.pgliteRate, phase_ms: phases }
  })
}

/** s3rver + Postgres, one receipt per request at 10 writers, beside s3rver's raw putIfAbsent rate. */
async function benchS3Pg(w: Workload, s3: RunningS3rver): Promise<Record<string, unknown>> {
  return withRelay('pg', 's3', s3, async (relay) => {
    await prepare(relay.url, w)
    const before = await phaseSums(relay.url)
    const run = await drive(relay.url, w.streams, (s) => s.timed, { seconds: SECONDS })
    const phases = phaseMeans(before, await phaseSums(relay.url))
    const rate = run.count / run.seconds
    const raw = await rawPutRate(relay.store, WRITERS_OTHER, w.meanBytes, SECONDS)
    const ratio = rate / raw
    console.log(
      `  s3rver+pg  ${WRITERS_OTHER} writers × 1/request: ${fmt(rate).padStart(6)} receipts/s   raw putIfAbsent ${fmt(raw).padStart(6)}/s (${w.meanBytes} B, ${WRITERS_OTHER} workers)   ratio ${ratioText(ratio)} (target ≥ ${TARGET.s3Ratio})${exhaustedNote(run)}`,
    )
    console.log(`             per batch (ms): ${phaseText(phases)}`)
    return {
      writers: WRITERS_OTHER,
      ...rateFigure(run),
      raw_put_per_s: Math.round(raw),
      object_bytes: w.meanBytes,
      ratio: +ratio.toFixed(3),
      target_ratio: TARGET.s3Ratio,
      phase_ms: phases,
    }
  })
}

/**
 * About `total` receipts over `streams` streams: streams/10 identities (their identity streams count),
 * each owning the pixbooks that make up the rest, with the receipts spread evenly over the pixbooks.
 * Returns the identities (posted first) and each pixbook's chain.
 */
async function makeRebuildReceipts(total: number, streams: number): Promise<{ identities: Receipt[]; books: Receipt[][] }> {
  const authors = Array.from({ length: Math.max(1, Math.round(streams / 10)) }, (_, i) =>
    newAuthor(`rebuild-${randomBytes(2).toString('hex')}`, i),
  )
  const bookCount = Math.max(1, streams - authors.length)
  const perBook = (total - authors.length) / bookCount
  if (perBook < 1) throw new Error(`BENCH_RELAY_REBUILD_RECEIPTS (${total}) is too small for ${streams} streams`)
  const identities: Receipt[] = []
  for (const a of authors) identities.push(await identityCreated(a))
  const books: Receipt[][] = []
  let made = authors.length
  for (let b = 0; b < bookCount; b++) {
    const a = authors[b % authors.length]!
    const stream: StreamRef = { type: 'pixbook', accountId: a.accountId, bookId: `book-${b}` }
    // Spread the remainder: book b ends where ⌊(b+1)·perBook⌋ receipts have been made in all.
    const length = Math.round(authors.length + (b + 1) * perBook) - made
    const chain: Receipt[] = [await sign(a, stream, 'PIXBOOK_CREATED', { title: `Book ${b}` }, null)]
    for (let i = 1; i < length; i++) {
      const prev = chain[i - 1]!
      chain.push(
        await sign(
          a,
          stream,
          'CARD_ADDED',
          { cardId: `card-${i}`, artHash: artHash(b * 100_000 + i), packId: `pack-${i >> 3}` },
          { eventId: prev.eventId, hash: prev.hash },
        ),
      )
    }
    made += chain.length
    books.push(chain)
  }
  return { identities, books }
}

/**
 * One poster's requests of about REBUILD_REQUEST receipts: in rounds, the next REBUILD_SEGMENT receipts
 * of each of its streams, so a request spans many streams (the relay writes a stream's objects one after
 * the other, streams in parallel) and every stream's receipts arrive in chain order.
 */
function rebuildRequests(books: Receipt[][]): Receipt[][] {
  const requests: Receipt[][] = []
  let current: Receipt[] = []
  const longest = Math.max(0, ...books.map((b) => b.length))
  for (let from = 0; from < longest; from += REBUILD_SEGMENT) {
    for (const chain of books) {
      const segment = chain.slice(from, from + REBUILD_SEGMENT)
      if (segment.length === 0) continue
      if (current.length + segment.length > REBUILD_REQUEST) {
        requests.push(current)
        current = []
      }
      current.push(...segment)
    }
  }
  if (current.length) requests.push(current)
  return requests
}

/**
 * Produces a filesystem store through a relay (Postgres + fs; large requests, a few in flight, each
 * poster on its own streams so every chain arrives in order), then rebuilds it into a fresh schema.
 */
/**
 * With a path (BENCH_RELAY_REBUILD_PROFILE), a CPU profile of this process from now until the returned
 * function is called, written there as a .cpuprofile (open in Chrome DevTools); without one, nothing.
 */
async function startCpuProfile(path: string | undefined): Promise<() => Promise<void>> {
  if (!path) return async () => {}
  const session = new inspector.Session()
  session.connect()
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))))
  await post('Profiler.enable')
  await post('Profiler.start')
  return async () => {
    const { profile } = (await post('Profiler.stop')) as { profile: unknown }
    await writeFile(path, JSON.stringify(profile))
    session.disconnect()
    console.log(`  rebuild: CPU profile → ${path}`)
  }
}

async function benchRebuild(): Promise<Record<string, unknown>> {
  console.log(`  rebuild: signing ${fmt(REBUILD_RECEIPTS)} receipts over ${fmt(REBUILD_STREAMS)} streams…`)
  const { identities, books } = await makeRebuildReceipts(REBUILD_RECEIPTS, REBUILD_STREAMS)
  const total = identities.length + books.reduce((n, b) => n + b.length, 0)
  const relay = await startTestRelay({ db: 'pg', store: 'fs', schema: `${SCHEMA_PREFIX}_rebuild_source` })
  const out: Record<string, unknown> = {}
  try {
    const produceStart = performance.now()
    await post(relay.url, identities)
    await Promise.all(
      Array.from({ length: REBUILD_POSTERS }, async (_, k) => {
        for (const request of rebuildRequests(books.filter((_b, i) => i % REBUILD_POSTERS === k))) await post(relay.url, request)
      }),
    )
    const produceSeconds = (performance.now() - produceStart) / 1000
    const source = await projectionDigest(relay.deps.db)
    await relay.close()
    console.log(
      `  rebuild: store produced through the relay (${REBUILD_REQUEST}/request, ${REBUILD_POSTERS} in flight): ${fmt(total)} receipts in ${produceSeconds.toFixed(1)} s = ${fmt(total / produceSeconds)} receipts/s (setup, no target)`,
    )
    out.store = {
      receipts: total,
      streams: identities.length + books.length,
      seconds: +produceSeconds.toFixed(2),
      receipts_per_s: Math.round(total / produceSeconds),
    }

    const store = new FsObjectStore(join(relay.options.dataDir, 'objects'))
    const db = await PgDb.open({ connectionString: DATABASE_URL, schema: `${SCHEMA_PREFIX}_rebuild_target` })
    const verifier = new VerifyPool()
    try {
      await migrate(db, RELAY_MIGRATIONS)
      const stopProfile = await startCpuProfile(process.env.BENCH_RELAY_REBUILD_PROFILE)
      const start = performance.now()
      const result = await rebuild({ db, store, sha256: nodeSha256, verifier })
      const seconds = (performance.now() - start) / 1000
      await stopProfile()
      if (result.receipts !== total) throw new Error(`rebuild projected ${result.receipts} of ${total} receipts`)
      const rebuilt = await projectionDigest(db)
      const same = rebuilt.digest === source.digest
      const rate = result.receipts / seconds
      out.rebuild_postgres = {
        receipts: result.receipts,
        streams: result.streams,
        seconds: +seconds.toFixed(3),
        receipts_per_s: Math.round(rate),
        target_receipts_per_s: TARGET.rebuildRate,
        digest_matches_relay: same,
      }
      console.log(
        `  rebuild fs → postgres: ${fmt(result.receipts)} receipts, ${fmt(result.streams)} streams in ${seconds.toFixed(2)} s = ${fmt(rate)} receipts/s (target ≥ ${fmt(TARGET.rebuildRate)}); projection digest ${same ? 'equals' : 'DIFFERS FROM'} the relay's`,
      )
    } finally {
      await verifier.close()
      await db.close()
      await store.close()
    }
  } finally {
    await relay.close()
    await removeDir(relay.options.dataDir)
  }
  return out
}

async function benchIngest(s3: RunningS3rver): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {}
  const perStream = (n: number): number => Math.ceil((Math.min(MAX_RATE, MAX_RATE_PER_WRITER * n) * SECONDS) / n)
  const sizes = new Map<number, number>(WRITERS.map((n) => [n, perStream(n)]))
  // The 10-writer workload also serves the 100-per-request run: each configuration gets a fresh database and store.
  sizes.set(
    WRITERS_OTHER,
    Math.max(sizes.get(WRITERS_OTHER) ?? 0, perStream(WRITERS_OTHER), Math.ceil((MAX_BATCH_RATE * SECONDS) / WRITERS_OTHER)),
  )
  console.log(`relay: signing receipts before timing (${[...sizes].map(([n, k]) => `${n} streams × ${fmt(k)}`).join(', ')})…`)
  const signStart = performance.now()
  const workloads = new Map<number, Workload>()
  for (const [n, k] of sizes) workloads.set(n, await makeWorkload(`w${n}`, n, k))
  console.log(`  signed in ${((performance.now() - signStart) / 1000).toFixed(1)} s`)
  console.log(`relay: end-to-end ingest over HTTP (closed-loop writers, one stream each, keep-alive fetch, ${SECONDS} s per run)`)
  if (RUNS.has('pg')) results.pg_fs = await benchPgFs(workloads)
  if (RUNS.has('batched')) results.pg_fs_batched = await benchPgFsBatched(workloads.get(WRITERS_OTHER)!)
  if (RUNS.has('pglite')) results.pglite_fs = await benchPgliteFs(workloads.get(WRITERS_OTHER)!)
  if (RUNS.has('s3')) results.s3rver_pg = await benchS3Pg(workloads.get(WRITERS_OTHER)!, s3)
  return results
}

/**
 * Batches in flight (APPEND_BATCHES_IN_FLIGHT) 1 against 2, Postgres + fs, 10 writers × 1/request:
 * alternating runs on fresh relays, so load on the machine falls on both alike.
 */
async function benchPipeline(): Promise<Record<string, unknown>> {
  const rounds = 2
  // Every run starts a fresh relay, so each replays the same signed receipts from the start.
  const w = await makeWorkload('pipe', WRITERS_OTHER, Math.ceil((MAX_RATE * SECONDS) / WRITERS_OTHER))
  const rates: Record<string, number[]> = { '1': [], '2': [] }
  console.log(`relay: batches in flight, 1 vs 2 (pg+fs, ${WRITERS_OTHER} writers × 1/request, ${rounds} alternating runs each)`)
  for (let round = 0; round < rounds; round++) {
    for (const inFlight of ['1', '2']) {
      await withRelay(
        'pg',
        'fs',
        undefined,
        async (relay) => {
          await prepare(relay.url, w)
          const run = await drive(relay.url, w.streams, (s) => s.timed, { seconds: SECONDS })
          rates[inFlight]!.push(run.count / run.seconds)
          console.log(`  in flight ${inFlight}: ${fmt(run.count / run.seconds).padStart(6)} receipts/s${exhaustedNote(run)}`)
        },
        { APPEND_BATCHES_IN_FLIGHT: inFlight },
      )
    }
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
  return { in_flight_1_per_s: Math.round(mean(rates['1']!)), in_flight_2_per_s: Math.round(mean(rates['2']!)) }
}

export async function runRelayBench(): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {}
  await dropSchemas(SCHEMA_PREFIX) // fails fast (and loudly) without Postgres
  const s3 = await startS3rver()
  try {
    if (PARTS.has('ingest')) Object.assign(results, await benchIngest(s3))
    if (PARTS.has('rebuild')) Object.assign(results, await benchRebuild())
    if (PARTS.has('pipeline')) results.pipeline = await benchPipeline()
  } finally {
    await s3.stop()
    await dropSchemas(SCHEMA_PREFIX)
  }
  return results
}
