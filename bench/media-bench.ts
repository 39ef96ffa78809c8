/**
 * Media benchmark (`pnpm bench media`): uploads per second of distinct 64×64 PNGs through the real
 * route — PUT /v1/media/sha256/:hex on a relay over a real socket, session, hash check, validation,
 * object store write and media_blobs row — on Postgres + fs and PGlite + fs, beside the raw rate of
 * validateMedia on the same files in the same run (measured after the route runs) (its baseline: the route cannot beat it by much,
 * since validation is most of its work). Target: ≥ 200 uploads/s (issue 9). The uploading clients run
 * in a worker thread (media-upload-worker.mjs), off the relay's event loop.
 *
 * BENCH_MEDIA_SECONDS (per timed run, default 5), BENCH_MEDIA_CLIENTS (uploads in flight, default 16).
 * Postgres: DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, a fresh schema, dropped afterwards.
 */
import { createHash } from 'node:crypto'
import { Worker } from 'node:worker_threads'
import { validateMedia } from '../sync-server/src/media/index.js'
import { png, pngChunk, type Rgba } from '../sync-server/test/support/media-fixtures.js'
import {
  appendOk,
  dropSchemas,
  identityCreated,
  newIdentity,
  openSession,
  removeDir,
  startTestRelay,
  uniqueSchema,
  type DbKind,
} from '../sync-server/test/support/relay-harness.js'
import { fmt } from './support.js'

const SECONDS = Number(process.env.BENCH_MEDIA_SECONDS ?? 5)
const CLIENTS = Number(process.env.BENCH_MEDIA_CLIENTS ?? 16)
/** Distinct images made ahead: enough for a relay at this rate for the whole run. */
const MAX_RATE = 1_500
const WARMUP = 400
const TARGET_UPLOADS_PER_SECOND = 200
const SCHEMA_PREFIX = `pixpax_bench_media_${process.pid}`

interface Image {
  hex: string
  bytes: Uint8Array
}

const PALETTE: Rgba[] = [
  [7, 7, 7, 255],
  [255, 0, 0, 255],
  [0, 255, 0, 255],
  [0, 0, 255, 255],
]

/**
 * Distinct 64×64 PNGs: one encoded by sharp, made distinct by a tEXt chunk naming its number before
 * IEND (so each upload is a new blob to validate and store, and making 10,000 takes milliseconds).
 */
async function images(from: number, count: number): Promise<Image[]> {
  const base = await png(64, 64, PALETTE)
  const body = base.subarray(0, base.length - 12)
  const iend = base.subarray(base.length - 12)
  return Array.from({ length: count }, (_, i) => {
    const bytes = Buffer.concat([body, pngChunk('tEXt', Buffer.from(`Comment\0bench image ${from + i}`, 'latin1')), iend])
    return { hex: createHash('sha256').update(bytes).digest('hex'), bytes }
  })
}

/** Runs `clients` closed loops over `items` for about `seconds`; returns completions per second. */
async function closedLoop<T>(
  items: T[],
  clients: number,
  seconds: number,
  fn: (item: T) => Promise<void>,
): Promise<{ rate: number; done: number }> {
  let next = 0
  let done = 0
  const start = performance.now()
  const end = start + seconds * 1000
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end && next < items.length) {
        await fn(items[next++]!)
        done += 1
      }
    }),
  )
  return { rate: (done * 1000) / (performance.now() - start), done }
}

async function routeRate(db: DbKind, images: Image[]): Promise<{ rate: number; uploads: number }> {
  const relay = await startTestRelay({ db, store: 'fs', schema: uniqueSchema(SCHEMA_PREFIX) })
  try {
    const who = newIdentity('bench-media')
    await appendOk(relay.url, [await identityCreated(who)])
    const token = await openSession(relay.url, who)
    // Warm-up from this thread, as many in flight as the timed run: JIT, sharp's first loads, the pool's
    // connections (the rate climbs for the first few hundred uploads).
    await closedLoop(images.splice(0, WARMUP), CLIENTS, 60, async (img) => {
      const res = await fetch(`${relay.url}/v1/media/sha256/${img.hex}`, {
        method: 'PUT',
        headers: { 'content-type': 'image/png', authorization: `Bearer ${token}` },
        body: img.bytes as BodyInit,
      })
      if (res.status !== 201) throw new Error(`warm-up upload refused (${res.status}): ${await res.text()}`)
    })
    // The clients run in a worker thread, as remote clients would: the relay's event loop is its own.
    const worker = new Worker(new URL('./media-upload-worker.mjs', import.meta.url), {
      workerData: { url: relay.url, token, images, clients: CLIENTS, seconds: SECONDS },
    })
    const { done, ms } = await new Promise<{ done: number; ms: number }>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
      worker.once('exit', (code) => reject(new Error(`upload worker exited with ${code}`)))
    })
    await worker.terminate()
    return { rate: (done * 1000) / ms, uploads: done }
  } finally {
    await relay.close()
    await removeDir(relay.options.dataDir)
  }
}

export async function runMediaBench(): Promise<Record<string, unknown>> {
  const count = Math.ceil(MAX_RATE * SECONDS) + WARMUP
  const made = performance.now()
  const pgImages = await images(0, count)
  const pgliteImages = await images(count, count)
  console.log(
    `media: ${fmt(2 * count)} distinct 64×64 PNGs (${pgImages[0]!.bytes.length} bytes) made in ${fmt(performance.now() - made)} ms`,
  )

  const pg = await routeRate('pg', pgImages)
  console.log(`  PUT /v1/media, Postgres + fs, ${CLIENTS} clients: ${fmt(pg.rate)} uploads/s (target ≥ ${TARGET_UPLOADS_PER_SECOND})`)
  const pglite = await routeRate('pglite', pgliteImages)
  console.log(`  PUT /v1/media, PGlite + fs, ${CLIENTS} clients: ${fmt(pglite.rate)} uploads/s (target ≥ ${TARGET_UPLOADS_PER_SECOND})`)
  const sample = pgImages.slice(0, 2000)
  for (const img of sample.slice(0, 50)) await validateMedia(img.bytes)
  const raw1 = await closedLoop(sample, 1, SECONDS / 2, async (img) => void (await validateMedia(img.bytes)))
  const rawN = await closedLoop(sample, CLIENTS, SECONDS / 2, async (img) => void (await validateMedia(img.bytes)))
  console.log(`  validateMedia, raw: ${fmt(raw1.rate)}/s one at a time, ${fmt(rawN.rate)}/s with ${CLIENTS} in flight (baseline)`)

  await dropSchemas(SCHEMA_PREFIX)

  return {
    seconds: SECONDS,
    clients: CLIENTS,
    imageBytes: pgImages[0]!.bytes.length,
    validateRaw: { sequentialPerSecond: Math.round(raw1.rate), concurrentPerSecond: Math.round(rawN.rate) },
    route: {
      pg: { uploadsPerSecond: Math.round(pg.rate), uploads: pg.uploads, ratioToRaw: +(pg.rate / rawN.rate).toFixed(3) },
      pglite: { uploadsPerSecond: Math.round(pglite.rate), uploads: pglite.uploads, ratioToRaw: +(pglite.rate / rawN.rate).toFixed(3) },
    },
    target: { uploadsPerSecond: TARGET_UPLOADS_PER_SECOND },
    meetsTarget: pg.rate >= TARGET_UPLOADS_PER_SECOND && pglite.rate >= TARGET_UPLOADS_PER_SECOND,
  }
}
