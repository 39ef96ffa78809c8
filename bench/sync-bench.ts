/**
 * Sync benchmark: a fresh Node client catches up a 100k-receipt stream (time, receipts/s verified,
 * bytes on the wire per receipt against the canonical size), beside same-run baselines (raw ECDSA
 * verify/s on one thread and on the worker pool, the per-receipt checks without ECDSA); start-up of a
 * client with a 100k-receipt local log, from its stored snapshot and by a full replay (the baseline);
 * and live fan-out latency (push → delivery, p50/p95) to 100 subscribers on loopback. Relay: Postgres
 * (the test database, a fresh schema) + fs store, in its own process (sync-server/src/main.ts); the
 * CPU time each side spends per caught-up receipt is printed beside the rate.
 */
import { mkdtemp, rm, unlink } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { readFileSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'
import {
  buildReceipt,
  canonicalBytes,
  checkReceipt,
  generatePrivateJwk,
  type ChainHead,
  type PublicJwk,
  type Receipt,
  type Signer,
} from '../shared/src/index.js'
import { nodeSha256, nodeSigner, nodeVerifier, VerifyPool } from '../shared/src/node/index.js'
import type { LoggedReceipt } from '../client-sdk/src/storage/local-log.js'
import { buildChain, testSigner } from '../client-sdk/src/testing/fixtures.js'
import { startRelayProcess } from '../sync-server/test/support/relay-harness.js'
import { FileLocalLog } from '../client-sdk/src/storage/file-local-log.js'
import { login } from '../client-sdk/src/network/session.js'
import { SyncClient, type WebSocketLike } from '../client-sdk/src/sync/sync-client.js'
import WebSocket from 'ws'
import { fmt, percentile } from './support.js'

export async function runSyncBench(): Promise<Record<string, unknown>> {
  const total = Number(process.env.BENCH_SYNC_RECEIPTS ?? 100_000)
  const subscribers = Number(process.env.BENCH_SUBSCRIBERS ?? 100)
  const dir = await mkdtemp(join(tmpdir(), 'pixpax-sync-bench-'))
  const schema = `bench_sync_${process.pid}`
  const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  // The relay is its own process (main.ts), as it is for a real client: in this process it would share
  // one event loop with the client it serves, and the figure would be neither the relay's nor the client's.
  const relay = await startRelayProcess({
    DATA_DIR: dir,
    DATABASE_URL: databaseUrl,
    DATABASE_SCHEMA: schema,
    RATE_LIMIT_PER_IP: '100000000',
    RATE_LIMIT_PER_IDENTITY: '100000000',
  })
  const url = relay.url
  const results: Record<string, unknown> = {}
  try {
    const signer = nodeSigner(generatePrivateJwk())
    const identityId = 'bench-syncer'
    const post = async (receipts: Receipt[]) => {
      const res = await fetch(`${url}/v1/receipts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ receipts }),
      })
      if (res.status !== 200) throw new Error(`ingest failed: ${res.status} ${(await res.text()).slice(0, 300)}`)
    }
    const mk = async (stream: Receipt['stream'], type: string, payload: Record<string, unknown>, prev: ChainHead | null) =>
      buildReceipt({ stream, type, payload, identityId, signer, prev, sha256: nodeSha256 })
    await post([
      await mk(
        { type: 'identity', identityId },
        'IDENTITY_CREATED',
        { publicKey: signer.publicKey, accountId: 'bench-acc', kind: 'person' },
        null,
      ),
      await mk({ type: 'account', accountId: 'bench-acc' }, 'ACCOUNT_CREATED', {}, null),
    ])
    const book = { type: 'pixbook', accountId: 'bench-acc', bookId: 'big' }
    const bookKey = 'pixbook/bench-acc/big'
    console.log(`sync: signing ${fmt(total)} receipts for one stream…`)
    let head: ChainHead | null = null
    let canonicalBytesTotal = 0
    let ingestSeconds = 0
    let batch: Receipt[] = []
    const sample: Receipt[] = []
    for (let i = 0; i < total; i++) {
      const r: Receipt = await mk(
        book,
        i === 0 ? 'PIXBOOK_CREATED' : 'CARD_ADDED',
        i === 0 ? { title: 'big' } : { cardId: `card-${i}`, artHash: 'sha256:' + (i % 997).toString(16).padStart(64, '0') },
        head,
      )
      head = { eventId: r.eventId, hash: r.hash }
      canonicalBytesTotal += canonicalBytes(r).length
      if (sample.length < 5000) sample.push(r)
      batch.push(r)
      if (batch.length === 1000 || i === total - 1) {
        const t = performance.now()
        await post(batch)
        ingestSeconds += (performance.now() - t) / 1000
        batch = []
      }
    }
    results.ingest_one_stream_batches_of_1000_per_s = Math.round(total / ingestSeconds)
    console.log(`  ingest into one stream (POST batches of 1000, pg + fs): ${fmt(total / ingestSeconds)} receipts/s`)

    // Same-run baselines: what a receipt costs the client at the least, measured on these receipts.
    const baselines = await verifyBaselines(sample, signer.publicKey)
    results.baselines = baselines
    console.log(
      `  baselines (same run, ${fmt(sample.length)} of these receipts): checkReceipt (schema, JCS, SHA-256; no ECDSA) ${fmt(baselines.check_receipt_per_s)}/s; ` +
        `ECDSA verify ${fmt(baselines.ecdsa_verify_per_s_one_thread)}/s on one thread, ${fmt(baselines.ecdsa_verify_per_s_pool)}/s on the worker pool; ` +
        `check + verify on one thread ${fmt(baselines.check_and_verify_per_s_one_thread)}/s`,
    )
    const token = (await login(url, identityId, signer)).token

    // The read-ahead against its alternatives, same relay, same stream: BENCH_SYNC_READ_AHEAD_SWEEP=1,2,4,0
    // (0: no pause, the whole catch-up read as fast as the relay sends).
    const sweep = (process.env.BENCH_SYNC_READ_AHEAD_SWEEP ?? '').split(',').filter(Boolean).map(Number)
    for (const readAhead of sweep) {
      const sweepLog = await FileLocalLog.open(join(dir, `client-log-read-ahead-${readAhead}`))
      const sweepPool = new VerifyPool()
      const sweepClient = await SyncClient.open({
        relayUrl: url,
        log: sweepLog,
        identityId,
        signer,
        streams: [bookKey],
        verifier: sweepPool,
        sha256: nodeSha256,
        readAheadBatches: readAhead === 0 ? Number.MAX_SAFE_INTEGER : readAhead,
        token: () => token,
        webSocket: (u) => new WebSocket(u) as unknown as WebSocketLike,
      })
      const relayBefore = processCpuMs(relay.child.pid!)
      const cpuBefore = process.cpuUsage()
      const t = performance.now()
      sweepClient.start()
      await sweepClient.whenSynced(600_000)
      const secs = (performance.now() - t) / 1000
      const cpu = process.cpuUsage(cpuBefore)
      const relayMs = processCpuMs(relay.child.pid!) - relayBefore
      await sweepClient.stop()
      await sweepLog.close()
      await sweepPool.close()
      console.log(
        `  read-ahead ${readAhead === 0 ? 'unbounded' : `${readAhead} batches`}: ${fmt(total / secs)}/s verified; CPU per receipt client ${Math.round((cpu.user + cpu.system) / total)} µs, relay ${Math.round((relayMs * 1000) / total)} µs`,
      )
    }

    // Catch-up by a fresh client, counting the bytes it receives.
    let wireBytes = 0
    // Checkpoint + proof bytes of each delivery batch: they close every `receipts` message.
    let proofBytes = 0
    let batches = 0
    const pool = new VerifyPool()
    // A fresh Node client with its real local log (append-only file, fsync per delivered batch).
    const log = await FileLocalLog.open(join(dir, 'client-log'))
    const client = await SyncClient.open({
      relayUrl: url,
      log,
      identityId,
      signer,
      streams: [bookKey],
      verifier: pool,
      sha256: nodeSha256,
      ...(process.env.BENCH_SYNC_READ_AHEAD ? { readAheadBatches: Number(process.env.BENCH_SYNC_READ_AHEAD) } : {}),
      token: () => token,
      webSocket: (u) => {
        const ws = new WebSocket(u)
        ws.on('message', (data: Buffer) => {
          wireBytes += data.length
          // On the bytes: decoding every 400 kB message a second time cost the client's main thread ≈ 1 µs a receipt.
          if (data.subarray(0, 20).includes('"receipts"')) {
            proofBytes += data.length - data.lastIndexOf(',"checkpoint":')
            batches++
          }
        })
        return ws as unknown as WebSocketLike
      },
    })
    // BENCH_SYNC_CPU_PROFILE=file.cpuprofile: a CPU profile of this process's main thread during the catch-up alone.
    const profiler = process.env.BENCH_SYNC_CPU_PROFILE ? await startProfiler() : undefined
    const relayCpuBefore = processCpuMs(relay.child.pid!)
    const mainCpuBefore = threadCpuMs(process.pid)
    const clientCpuBefore = process.cpuUsage()
    const start = performance.now()
    client.start()
    await client.whenSynced(600_000)
    const seconds = (performance.now() - start) / 1000
    const clientCpu = process.cpuUsage(clientCpuBefore)
    const mainCpuMs = threadCpuMs(process.pid) - mainCpuBefore
    const relayCpuMs = processCpuMs(relay.child.pid!) - relayCpuBefore
    if (profiler) await profiler.stop(process.env.BENCH_SYNC_CPU_PROFILE!)
    const clientCpuMs = (clientCpu.user + clientCpu.system) / 1000
    await client.stop()
    await log.close()
    await pool.close()
    const got = client.head(bookKey)?.seq ?? 0
    if (got !== total) throw new Error(`catch-up got ${got} of ${total}`)
    // Start-up of a client with that local log: the file log's open and the engine's (from the snapshot
    // and index that stop() and close() stored), and by a full replay.
    const startup = await measureStartup(join(dir, 'client-log'), { relayUrl: url, identityId, signer, streams: [bookKey] })
    const startupMs = startup.snapshot_ms!
    const avgCanonical = canonicalBytesTotal / total
    results.catch_up = {
      receipts: total,
      seconds: +seconds.toFixed(2),
      receipts_per_s_verified: Math.round(total / seconds),
      wire_bytes_per_receipt: Math.round(wireBytes / total),
      canonical_bytes_per_receipt: Math.round(avgCanonical),
      wire_over_canonical: +(wireBytes / total / avgCanonical).toFixed(2),
      batches,
      checkpoint_and_proof_bytes_per_batch: Math.round(proofBytes / Math.max(1, batches)),
      startup_ms_with_local_log: Math.round(startupMs),
      startup_ms_full_replay_baseline: startup.replay_ms,
      vs_pool_verify_rate: +(total / seconds / baselines.ecdsa_verify_per_s_pool).toFixed(2),
      client_cpu_us_per_receipt: Math.round((clientCpuMs * 1000) / total),
      client_main_thread_cpu_us_per_receipt: Math.round((mainCpuMs * 1000) / total),
      relay_cpu_us_per_receipt: Math.round((relayCpuMs * 1000) / total),
      loadavg_after: loadavg().map((l) => +l.toFixed(2)),
    }
    console.log(
      `  catch-up: ${fmt(total)} receipts in ${seconds.toFixed(2)} s = ${fmt(total / seconds)}/s verified (receipt signatures on worker threads + one inclusion proof per batch; target ≥ 12,000); ` +
        `${Math.round(wireBytes / total)} wire bytes/receipt vs ${Math.round(avgCanonical)} canonical (${(wireBytes / total / avgCanonical).toFixed(2)}×); ` +
        `checkpoint + proof ${Math.round(proofBytes / Math.max(1, batches))} bytes per batch of ≤ 500; start-up with that local log ${Math.round(startupMs)} ms (target ≤ 300; full replay ${startup.replay_ms} ms)`,
    )
    console.log(
      `  CPU per caught-up receipt: client ${Math.round((clientCpuMs * 1000) / total)} µs (main thread ${Math.round((mainCpuMs * 1000) / total)} µs + verify workers), relay process ${Math.round((relayCpuMs * 1000) / total)} µs; ` +
        `the machine has ${availableParallelism()} cores, so both together bound the rate at ${fmt((availableParallelism() * 1e6) / (((clientCpuMs + relayCpuMs) * 1000) / total))}/s`,
    )
    console.log(
      `  load average after catch-up: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    )

    // Start-up with a 100k-receipt local log however large the catch-up was (built locally, no relay).
    const startupReceipts = Number(process.env.BENCH_STARTUP_RECEIPTS ?? 100_000)
    if (startupReceipts !== total) {
      const big = join(dir, 'startup-log')
      const local = await testSigner()
      await buildLocalLog(big, startupReceipts, local)
      const s = await measureStartup(big, { relayUrl: url, identityId: 'alice', signer: local, streams: [] })
      results.startup = { receipts: startupReceipts, ...s }
      console.log(
        `  start-up with a ${fmt(startupReceipts)}-receipt local log: ${s.snapshot_ms} ms from its snapshot (file log ${s.snapshot_file_ms} + engine ${s.snapshot_client_ms}; first of 3 ${s.snapshot_first_ms}; target ≤ 300), ` +
          `${s.replay_ms} ms by full replay (the baseline: file log ${s.replay_file_ms} + engine ${s.replay_client_ms})`,
      )
    }

    // Live fan-out: N raw protocol subscribers, one writer posting receipts one at a time.
    const sockets: WebSocket[] = []
    const arrivals = new Map<string, number[]>()
    await Promise.all(
      Array.from({ length: subscribers }, async () => {
        const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/sync`)
        await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject))
        let caught = false
        const ready = new Promise<void>((resolve) => {
          ws.on('message', (data: Buffer) => {
            const m = JSON.parse(String(data)) as { type: string; receipts?: Array<{ receipt: { eventId: string } }> }
            if (m.type === 'caught-up') {
              caught = true
              resolve()
            }
            if (m.type === 'receipts' && caught) for (const d of m.receipts!) arrivals.get(d.receipt.eventId)?.push(performance.now())
          })
        })
        ws.send(JSON.stringify({ type: 'hello', v: 1, token }))
        ws.send(JSON.stringify({ type: 'subscribe', streams: [{ key: bookKey, after: head!.eventId }] }))
        await ready
        sockets.push(ws)
      }),
    )
    const latencies: number[] = []
    const pushes = Number(process.env.BENCH_FANOUT_PUSHES ?? 200)
    for (let i = 0; i < pushes; i++) {
      const r = await mk(book, 'CARD_ADDED', { cardId: `live-${i}`, artHash: 'sha256:' + 'ee'.repeat(32) }, head)
      head = { eventId: r.eventId, hash: r.hash }
      const times: number[] = []
      arrivals.set(r.eventId, times)
      const sent = performance.now()
      await post([r])
      const deadline = performance.now() + 5000
      while (times.length < subscribers && performance.now() < deadline) await new Promise((res) => setTimeout(res, 1))
      for (const t of times) latencies.push(t - sent)
    }
    for (const ws of sockets) ws.close()
    latencies.sort((a, b) => a - b)
    const expected = pushes * subscribers
    results.fanout = {
      subscribers,
      pushes,
      deliveries: latencies.length,
      expected_deliveries: expected,
      p50_ms: +percentile(latencies, 50).toFixed(2),
      p95_ms: +percentile(latencies, 95).toFixed(2),
      p99_ms: +percentile(latencies, 99).toFixed(2),
    }
    console.log(
      `  fan-out to ${subscribers} subscribers: ${latencies.length}/${expected} deliveries, push→delivery p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
        `p95 ${percentile(latencies, 95).toFixed(1)} ms (target ≤ 50), p99 ${percentile(latencies, 99).toFixed(1)} ms (includes the append itself)`,
    )
  } finally {
    await relay.stop()
    const { PgDb } = await import('../sync-server/src/db/pg-db.js')
    const admin = await PgDb.open({ connectionString: databaseUrl })
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.close()
    await rm(dir, { recursive: true, force: true })
  }
  return results
}

/** Raw per-receipt costs on the same receipts: checkReceipt alone, ECDSA alone (one thread, pool), both. */
interface Baselines {
  receipts: number
  check_receipt_per_s: number
  ecdsa_verify_per_s_one_thread: number
  ecdsa_verify_per_s_pool: number
  check_and_verify_per_s_one_thread: number
}

async function verifyBaselines(sample: Receipt[], publicKey: PublicJwk): Promise<Baselines> {
  const checked = sample.map((r) => checkReceipt(r, nodeSha256))
  const perSecond = async (fn: () => Promise<void>): Promise<number> => {
    const t = performance.now()
    await fn()
    return Math.round(sample.length / ((performance.now() - t) / 1000))
  }
  const one = nodeVerifier()
  const pool = new VerifyPool()
  try {
    await one.verify(publicKey, checked[0]!.canonical, checked[0]!.signature) // key cache, JIT
    await Promise.all(checked.slice(0, 256).map((c) => pool.verify(publicKey, c.canonical, c.signature)))
    const ok = (valid: boolean) => {
      if (!valid) throw new Error('a sample receipt does not verify')
    }
    return {
      receipts: sample.length,
      check_receipt_per_s: await perSecond(async () => {
        for (const r of sample) checkReceipt(r, nodeSha256)
      }),
      ecdsa_verify_per_s_one_thread: await perSecond(async () => {
        for (const c of checked) ok(await one.verify(publicKey, c.canonical, c.signature))
      }),
      ecdsa_verify_per_s_pool: await perSecond(async () => {
        for (const valid of await Promise.all(checked.map((c) => pool.verify(publicKey, c.canonical, c.signature)))) ok(valid)
      }),
      check_and_verify_per_s_one_thread: await perSecond(async () => {
        for (const r of sample) {
          const c = checkReceipt(r, nodeSha256)
          ok(await one.verify(publicKey, c.canonical, c.signature))
        }
      }),
    }
  } finally {
    await pool.close()
  }
}

/** A FileLocalLog of `count` signed receipts of one stream in batches of 500 (as catch-up appends), closed with its snapshot and index. */
async function buildLocalLog(dir: string, count: number, signer: Signer): Promise<void> {
  const log = await FileLocalLog.open(dir)
  let prev: LoggedReceipt | undefined
  for (let i = 0; i < count; i += 1000) {
    const chain = await buildChain({ count: Math.min(1000, count - i), signer, ...(prev ? { after: prev } : {}) })
    for (let j = 0; j < chain.length; j += 500) await log.append(chain.slice(j, j + 500))
    prev = chain.at(-1)
  }
  const client = await SyncClient.open({ relayUrl: 'http://127.0.0.1:9', log, identityId: 'alice', signer, sha256: nodeSha256 })
  await client.stop() // stores the start-up snapshot
  await log.close() // stores the file log's index
}

/**
 * Opens a client on the local log in `dir` from its snapshot and index (three opens: the best and the
 * first are reported), then by a full replay with both removed (the baseline).
 */
async function measureStartup(
  dir: string,
  options: { relayUrl: string; identityId: string; signer: Signer; streams: string[] },
): Promise<Record<string, number>> {
  const openOnce = async (): Promise<{ file: number; client: number; source: string }> => {
    const t0 = performance.now()
    const log = await FileLocalLog.open(dir)
    const t1 = performance.now()
    const client = await SyncClient.open({ ...options, log, sha256: nodeSha256 })
    const t2 = performance.now()
    const source = `${log.opened.fromIndex ? 'index' : 'replay'}+${client.startup.source}`
    await log.close() // not client.stop(): a replayed open must not store a snapshot before it is measured
    return { file: Math.round(t1 - t0), client: Math.round(t2 - t1), source }
  }
  const fast = [await openOnce(), await openOnce(), await openOnce()]
  if (fast.some((f) => f.source !== 'index+snapshot'))
    throw new Error(`start-up did not use the snapshot: ${fast.map((f) => f.source).join(', ')}`)
  const best = fast.reduce((a, b) => (a.file + a.client <= b.file + b.client ? a : b))
  await unlink(join(dir, 'index.json'))
  await unlink(join(dir, 'snapshot.json'))
  const replay = await openOnce()
  if (replay.source !== 'replay+replay') throw new Error(`the baseline did not replay: ${replay.source}`)
  return {
    snapshot_ms: best.file + best.client,
    snapshot_file_ms: best.file,
    snapshot_client_ms: best.client,
    snapshot_first_ms: fast[0]!.file + fast[0]!.client,
    replay_ms: replay.file + replay.client,
    replay_file_ms: replay.file,
    replay_client_ms: replay.client,
  }
}

/** User + system CPU time of another process so far, in ms (Linux /proc; fields 14 and 15 in clock ticks of 10 ms). */
function processCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`)
}

/** CPU time (user + system, ms) of one thread of this process: the main thread's tid is the pid. */
function threadCpuMs(tid: number): number {
  return statCpuMs(`/proc/self/task/${tid}/stat`)
}

function statCpuMs(path: string): number {
  const stat = readFileSync(path, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** Starts the V8 sampling profiler on this thread; `stop(file)` writes the .cpuprofile. */
async function startProfiler(): Promise<{ stop: (file: string) => Promise<void> }> {
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 200 })
  await session.post('Profiler.start')
  return {
    stop: async (file) => {
      const { profile } = await session.post('Profiler.stop')
      writeFileSync(file, JSON.stringify(profile))
      session.disconnect()
      console.log(`  CPU profile of the catch-up (main thread): ${file}`)
    },
  }
}
