/**
 * Relay benchmark: end-to-end ingest over HTTP (real fetch, keep-alive, one receipt per request, N
 * concurrent streams each appended to sequentially by its own client) for fs + PGlite, fs + Postgres and
 * s3rver + Postgres, each beside the raw putIfAbsent rate of the same store at the same concurrency with
 * objects of the same size; the latency of a single append (sequential, one stream); and rebuild
 * receipts/s from a filesystem store into Postgres and PGlite. Receipts are generated and signed before
 * any timing: signing is the client's cost, not the relay's.
 *
 * Postgres: DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, fresh schemas, dropped afterwards.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import {
  buildReceipt,
  canonicalBytes,
  generatePrivateJwk,
  streamEventsPrefix,
  type ChainHead,
  type Receipt,
  type Signer,
  type StreamRef,
} from '../shared/src/index.js'
import { nodeSha256, nodeSigner } from '../shared/src/node/index.js'
import { migrate } from '../sync-server/src/db/migrate.js'
import { PgDb } from '../sync-server/src/db/pg-db.js'
import { PgliteDb } from '../sync-server/src/db/pglite-db.js'
import type { ProjectionDb } from '../sync-server/src/db/projection-db.js'
import { RELAY_MIGRATIONS } from '../sync-server/src/context.js'
import { rebuild } from '../sync-server/src/replay/rebuild.js'
import { FsObjectStore } from '../sync-server/src/stores/fs-object-store.js'
import type { ObjectStore } from '../sync-server/src/stores/object-store.js'
import {
  DATABASE_URL,
  dropSchemas,
  startRelay,
  type DbKind,
  type RunningRelay,
  type StoreKind,
} from '../sync-server/test/support/relay-harness.js'
import { startS3rver, type RunningS3rver } from '../sync-server/test/support/s3rver.js'
import { fmt, percentile } from './support.js'

const SCHEMA_PREFIX = `pixpax_bench_relay_${process.pid}`
const CONCURRENCY = [16, 64] as const
/** Seconds each timed ingest (and raw put) run lasts. */
const SECONDS = Number(process.env.BENCH_RELAY_SECONDS ?? 5)
/** Receipts signed ahead per run: enough for this rate over SECONDS (a faster relay just finishes early). */
const MAX_RATE = Number(process.env.BENCH_RELAY_MAX_RATE ?? 2_500)
const WARMUP_PER_STREAM = 3
const LATENCY_APPENDS = Number(process.env.BENCH_RELAY_LATENCY_APPENDS ?? 200)
const REBUILD_RECEIPTS = Number(process.env.BENCH_RELAY_REBUILD_RECEIPTS ?? 5_000)

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

/** N streams, one owner identity each; `perStream` timed CARD_ADDED receipts per stream, chained. */
async function makeWorkload(tag: string, streams: number, perStream: number): Promise<Workload> {
  const identities: Receipt[] = []
  const geneses: Receipt[] = []
  const work: StreamWork[] = []
  let bytes = 0
  let count = 0
  for (let s = 0; s < streams; s++) {
    const author = newAuthor(tag, s)
    identities.push(
      await sign(
        author,
        { type: 'identity', identityId: author.identityId },
        'IDENTITY_CREATED',
        { publicKey: author.signer.publicKey, accountId: author.accountId, kind: 'person' },
        null,
      ),
    )
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
      if (i >= WARMUP_PER_STREAM) {
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

/**
 * Posts each stream's receipts one request at a time, all streams concurrently, until they run out or
 * `seconds` have passed (then each client finishes its request in flight). Returns how many and how long.
 */
async function drive(
  url: string,
  streams: StreamWork[],
  pick: (w: StreamWork) => Receipt[],
  seconds = Infinity,
): Promise<{ count: number; seconds: number }> {
  const start = performance.now()
  const deadline = start + seconds * 1000
  let count = 0
  await Promise.all(
    streams.map(async (w) => {
      for (const r of pick(w)) {
        if (performance.now() >= deadline) break
        await post(url, [r])
        count++
      }
    }),
  )
  return { count, seconds: (performance.now() - start) / 1000 }
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

interface IngestFigure {
  concurrency: number
  receipts: number
  seconds: number
  receipts_per_s: number
  raw_put_per_s: number
  ratio: number
}

async function benchConfig(
  name: string,
  db: DbKind,
  store: StoreKind,
  workloads: Map<number, Workload>,
  latency: Workload,
  s3: RunningS3rver,
): Promise<Record<string, unknown>> {
  const relay: RunningRelay = await startRelay({ db, store, s3, schema: `${SCHEMA_PREFIX}_${db}_${store}` })
  const out: Record<string, unknown> = {}
  try {
    for (const n of CONCURRENCY) {
      const w = workloads.get(n)!
      for (const batch of w.setup) await post(relay.url, batch)
      await drive(relay.url, w.streams, (s) => s.warmup)
      const run = await drive(relay.url, w.streams, (s) => s.timed, SECONDS)
      const rate = run.count / run.seconds
      const raw = await rawPutRate(relay.deps.store, n, w.meanBytes, SECONDS)
      const figure: IngestFigure = {
        concurrency: n,
        receipts: run.count,
        seconds: +run.seconds.toFixed(2),
        receipts_per_s: Math.round(rate),
        raw_put_per_s: Math.round(raw),
        ratio: +(rate / raw).toFixed(3),
      }
      out[`ingest_c${n}`] = figure
      console.log(
        `  ${name.padEnd(12)} ${String(n).padStart(2)} streams: ingest ${fmt(rate).padStart(6)} receipts/s   raw putIfAbsent ${fmt(raw).padStart(6)}/s (${w.meanBytes} B)   ratio ${(rate / raw).toFixed(2)} (target ≥ 0.7)`,
      )
    }
    // Latency of a single append: one stream, one request at a time.
    for (const batch of latency.setup) await post(relay.url, batch)
    const one = latency.streams[0]!
    await drive(relay.url, [one], (s) => s.warmup)
    const times: number[] = []
    for (const r of one.timed) {
      const t = performance.now()
      await post(relay.url, [r])
      times.push(performance.now() - t)
    }
    times.sort((a, b) => a - b)
    const lat = {
      appends: times.length,
      p50_ms: +percentile(times, 50).toFixed(2),
      p95_ms: +percentile(times, 95).toFixed(2),
      p99_ms: +percentile(times, 99).toFixed(2),
    }
    out.append_latency = lat
    console.log(
      `  ${name.padEnd(12)} single append, sequential: p50 ${lat.p50_ms} ms  p95 ${lat.p95_ms} ms  p99 ${lat.p99_ms} ms (${lat.appends} appends)`,
    )
  } finally {
    await relay.close()
    await rm(relay.options.dataDir, { recursive: true, force: true })
  }
  return out
}

/** Writes a valid store of about `total` receipts straight to disk (fs layout), for rebuild. */
async function writeRebuildStore(root: string, total: number): Promise<{ receipts: number; streams: number }> {
  const authors = Array.from({ length: 10 }, (_, i) => newAuthor('rebuild', i))
  const streamsPerAuthor = 10
  const perStream = Math.max(1, Math.floor(total / (authors.length * streamsPerAuthor)) - 1)
  let receipts = 0
  let streams = 0
  let pending: Promise<void>[] = []
  const put = (r: Receipt): void => {
    const path = join(root, ...`${streamEventsPrefix(r.stream)}${r.eventId}.json`.split('/'))
    pending.push(mkdir(dirname(path), { recursive: true }).then(() => writeFile(path, canonicalBytes(r))))
    receipts++
  }
  const flush = async (): Promise<void> => {
    if (pending.length >= 512) {
      await Promise.all(pending)
      pending = []
    }
  }
  for (const a of authors) {
    put(
      await sign(
        a,
        { type: 'identity', identityId: a.identityId },
        'IDENTITY_CREATED',
        { publicKey: a.signer.publicKey, accountId: a.accountId, kind: 'person' },
        null,
      ),
    )
    streams++
    for (let b = 0; b < streamsPerAuthor; b++) {
      const stream: StreamRef = { type: 'pixbook', accountId: a.accountId, bookId: `book-${b}` }
      let head: ChainHead | null = null
      streams++
      for (let i = 0; i <= perStream; i++) {
        const r: Receipt =
          i === 0
            ? await sign(a, stream, 'PIXBOOK_CREATED', { title: `Book ${b}` }, null)
            : await sign(
                a,
                stream,
                'CARD_ADDED',
                { cardId: `card-${i}`, artHash: artHash(b * 100_000 + i), packId: `pack-${i >> 3}` },
                head,
              )
        head = { eventId: r.eventId, hash: r.hash }
        put(r)
        await flush()
      }
    }
  }
  await Promise.all(pending)
  return { receipts, streams }
}

async function benchRebuild(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'pixpax-bench-rebuild-'))
  const out: Record<string, unknown> = {}
  try {
    console.log(`  rebuild: writing a filesystem store of ~${fmt(REBUILD_RECEIPTS)} signed receipts…`)
    const written = await writeRebuildStore(join(dir, 'objects'), REBUILD_RECEIPTS)
    const store = new FsObjectStore(join(dir, 'objects'))
    const targets: Array<[string, () => Promise<ProjectionDb>]> = [
      ['postgres', () => PgDb.open({ connectionString: DATABASE_URL, schema: `${SCHEMA_PREFIX}_rebuild` })],
      ['pglite', () => PgliteDb.open()],
    ]
    for (const [name, open] of targets) {
      const db = await open()
      try {
        await migrate(db, RELAY_MIGRATIONS)
        const start = performance.now()
        const result = await rebuild(db, store, nodeSha256)
        const seconds = (performance.now() - start) / 1000
        if (result.receipts !== written.receipts) throw new Error(`rebuild projected ${result.receipts} of ${written.receipts} receipts`)
        const rate = result.receipts / seconds
        out[`rebuild_${name}`] = {
          receipts: result.receipts,
          streams: result.streams,
          seconds: +seconds.toFixed(3),
          receipts_per_s: Math.round(rate),
        }
        console.log(
          `  rebuild fs → ${name.padEnd(8)}: ${fmt(result.receipts)} receipts, ${result.streams} streams in ${seconds.toFixed(2)} s = ${fmt(rate)} receipts/s (target ≥ 10,000)`,
        )
      } finally {
        await db.close()
      }
    }
    await store.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  return out
}

export async function runRelayBench(): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {}
  await dropSchemas(SCHEMA_PREFIX) // fails fast (and loudly) without Postgres
  const s3 = await startS3rver()
  try {
    const perStream = (n: number): number => Math.ceil((MAX_RATE * SECONDS) / n)
    console.log(
      `relay: signing receipts before timing (${CONCURRENCY.map((n) => `${n} streams × ${perStream(n)}`).join(', ')}; each configuration gets a fresh database and store, so they share them)…`,
    )
    const signStart = performance.now()
    const workloads = new Map<number, Workload>()
    for (const n of CONCURRENCY) workloads.set(n, await makeWorkload(`c${n}`, n, perStream(n)))
    const latency = await makeWorkload('lat', 1, LATENCY_APPENDS)
    console.log(`  signed in ${((performance.now() - signStart) / 1000).toFixed(1)} s`)
    const configs: Array<[string, DbKind, StoreKind]> = [
      ['fs+pglite', 'pglite', 'fs'],
      ['fs+pg', 'pg', 'fs'],
      ['s3rver+pg', 'pg', 's3'],
    ]
    console.log(
      `relay: end-to-end ingest over HTTP (one receipt per request, keep-alive, ${SECONDS} s per run) vs raw store putIfAbsent at the same concurrency`,
    )
    for (const [name, db, store] of configs) results[name] = await benchConfig(name, db, store, workloads, latency, s3)
    Object.assign(results, await benchRebuild())
  } finally {
    await s3.stop()
    await dropSchemas(SCHEMA_PREFIX)
  }
  return results
}
