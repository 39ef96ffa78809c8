/**
 * Web benchmark (`pnpm bench web`): the built PWA in real Chromium (playwright-core driving
 * /usr/bin/chromium — never a downloaded browser) served by a real relay on loopback (Postgres, a fresh
 * schema, fs store). Four figures, against issue 11's budgets:
 *
 * - **cold load to interactive**: a fresh browser context (no cache, no service worker) opens `/`;
 *   navigation start → `pixpax:first-screen` (the first screen rendered with its handlers), median and
 *   worst of BENCH_WEB_LOADS (default 5). Budget ≤ 1.5 s.
 * - **JavaScript before the editor and Automerge**: every `.js` the cold load fetched, gzip -9 of the
 *   built file (the relay serves files uncompressed; a compressing proxy sends this much). Budget
 *   ≤ 250 KB. The editor chunk, the drafts chunk and the wasm are listed separately.
 * - **catch-up in the page**: an identity made in Node with 10,000 receipts on the relay (identity,
 *   account, and a pixbook of 9,998), imported into a fresh context from its encrypted backup (the
 *   app's own import): first `/v1/sync` socket → all 10,000 verified and stored in the page's IndexedDB
 *   log (the heads' seqs sum to 10,000). The longest main-thread task (PerformanceObserver `longtask`)
 *   in that window. Budget ≥ 5,000/s, no task > 50 ms.
 * - **drawing latency**: on a 64×64 canvas, a pencil stroke of BENCH_WEB_STROKE (default 300) pointer
 *   moves, one pixel apart (so no sample is pre-filled by the line between samples); per event (each
 *   coalesced event counts): its `timeStamp` → the first animation frame whose canvas shows its pixel.
 *   p50 / p95 / max. Budget p95 ≤ 16 ms.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { Receipt } from '../shared/src/index.js'
import { accountStream, identityStream, newIdentity, pixbookStream, StreamWriter } from '../shared/src/testing/index.js'
import { buildApp } from '../sync-server/src/app.js'
import { loadConfig } from '../sync-server/src/config.js'
import { buildDeps } from '../sync-server/src/context.js'
import { sealBackup } from '../web/src/identity/backup.js'
import { ensureWebBuild, WEB_DIST } from '../web/scripts/ensure-build.js'
import { launchChromium, type Browser, type Page } from '../web/test/support/browser.js'
import { fmt, percentile } from './support.js'

const PASSPHRASE = 'bench passphrase'

function randomId(prefix: string): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  return prefix + Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => alphabet[b % alphabet.length]).join('')
}

function gzipOf(path: string): number {
  return gzipSync(readFileSync(path), { level: 9 }).length
}

/** Every JS file a fresh context fetches for `/`, and the time to the first screen. */
async function coldLoad(browser: Browser, url: string): Promise<{ interactiveMs: number; dclMs: number; scripts: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } })
  try {
    const page = await context.newPage()
    await page.goto(url)
    await page.waitForFunction(() => performance.getEntriesByName('pixpax:first-screen').length > 0)
    return await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming
      return {
        interactiveMs: performance.getEntriesByName('pixpax:first-screen')[0]!.startTime,
        dclMs: nav.domContentLoadedEventEnd,
        scripts: performance
          .getEntriesByType('resource')
          .map((r) => new URL(r.name).pathname)
          .filter((p) => p.endsWith('.js')),
      }
    })
  } finally {
    await context.close()
  }
}

/** Long tasks from the start of the page, kept in the page (installed before any script runs). */
const LONGTASK_OBSERVER = `
  window.__longtasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
`

/** The sum of the heads' seqs in the page's Dexie log: how many receipts are verified and stored. */
function storedReceipts(page: Page, database: string): Promise<number> {
  return page.evaluate(
    (name) =>
      new Promise<number>((resolve) => {
        const open = indexedDB.open(name)
        open.onerror = () => resolve(0)
        open.onsuccess = () => {
          const db = open.result
          if (!db.objectStoreNames.contains('heads')) {
            db.close()
            return resolve(0)
          }
          const all = db.transaction('heads').objectStore('heads').getAll()
          all.onsuccess = () => {
            db.close()
            resolve((all.result as Array<{ seq?: number }>).reduce((n, h) => n + (h.seq ?? 0), 0))
          }
          all.onerror = () => resolve(0)
        }
      }),
    database,
  )
}

async function catchUp(browser: Browser, url: string, total: number, dir: string): Promise<Record<string, number>> {
  // The identity and its receipts, made and posted from Node with the test kit.
  const accountId = randomId('a-')
  const who = newIdentity(accountId, 'person', randomId('u-'))
  const post = async (receipts: Receipt[]) => {
    const res = await fetch(`${url}/v1/receipts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ receipts }),
    })
    if (res.status !== 200) throw new Error(`ingest failed: ${res.status} ${(await res.text()).slice(0, 300)}`)
  }
  const write = async (writer: StreamWriter, type: string, payload: Record<string, unknown>) => {
    const r = await writer.build(type, payload, who)
    writer.advance(r)
    return r
  }
  const identity = new StreamWriter(identityStream(who))
  const account = new StreamWriter(accountStream(accountId))
  await post([
    await write(identity, 'IDENTITY_CREATED', { publicKey: who.signer.publicKey, accountId, kind: 'person', displayName: 'Bench' }),
    await write(account, 'ACCOUNT_CREATED', { displayName: 'Bench' }),
  ])
  const book = new StreamWriter(pixbookStream(accountId, 'main'))
  let batch: Receipt[] = []
  for (let i = 0; i < total - 2; i++) {
    batch.push(
      await write(
        book,
        i === 0 ? 'PIXBOOK_CREATED' : 'CARD_ADDED',
        i === 0 ? { title: 'Bench book' } : { cardId: `card-${i}`, artHash: 'sha256:' + (i % 997).toString(16).padStart(64, '0') },
      ),
    )
    if (batch.length === 1000 || i === total - 3) {
      await post(batch)
      batch = []
    }
  }
  const backupPath = join(dir, 'bench-backup.json')
  await writeFile(
    backupPath,
    JSON.stringify(await sealBackup({ identityId: who.identityId, accountId, displayName: 'Bench', privateKey: who.jwk }, PASSPHRASE)),
  )

  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } })
  await context.addInitScript(LONGTASK_OBSERVER)
  const page = await context.newPage()
  await page.goto(`${url}/welcome`)
  let socketAt: number | undefined
  page.on('websocket', (ws) => {
    if (ws.url().endsWith('/v1/sync') && socketAt === undefined) socketAt = performance.now()
  })
  await page.getByLabel('Backup file').setInputFiles(backupPath)
  await page.getByLabel('Passphrase').fill(PASSPHRASE)
  const pageStart = await page.evaluate(() => performance.now())
  // BENCH_WEB_PROFILE=1: a CPU profile of the page's main thread during catch-up, top functions by self time.
  const cdp = process.env.BENCH_WEB_PROFILE ? await context.newCDPSession(page) : undefined
  let profileStartedAt = 0
  if (cdp) {
    await cdp.send('Profiler.enable')
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 })
    await cdp.send('Profiler.start')
    profileStartedAt = await page.evaluate(() => performance.now())
  }
  await page.getByRole('button', { name: 'Import identity' }).click()
  const database = `pixpax-log-${who.identityId}`
  const deadline = Date.now() + 300_000
  let stored = 0
  while ((stored = await storedReceipts(page, database)) < total) {
    if (Date.now() > deadline) throw new Error(`catch-up: only ${stored} of ${total} receipts stored after 300 s`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  const doneAt = performance.now()
  const profile = cdp ? ((await cdp.send('Profiler.stop')).profile as CpuProfile) : undefined
  if (socketAt === undefined) throw new Error('catch-up: no /v1/sync socket seen')
  const seconds = (doneAt - socketAt) / 1000
  const tasks = await page.evaluate(
    (since) =>
      (window as unknown as { __longtasks: Array<{ start: number; duration: number }> }).__longtasks.filter((t) => t.start >= since),
    pageStart,
  )
  const longest = tasks.reduce((m, t) => Math.max(m, t.duration), 0)
  if (profile) printProfile(profile, profileStartedAt, tasks)
  await context.close()
  return {
    receipts: stored,
    seconds: Math.round(seconds * 1000) / 1000,
    per_s: Math.round(stored / seconds),
    longest_task_ms: Math.round(longest),
    tasks_over_50ms: tasks.filter((t) => t.duration > 50).length,
  }
}

/**
 * In the page (a string: the bench runs through tsx, whose helpers do not exist in the page): each
 * pointer sample of a stroke, coalesced ones too → the first animation frame whose canvas shows its pixel.
 */
const LATENCY_PROBE = `
  (() => {
    const el = document.querySelector('[data-testid=pixel-canvas]');
    const ctx = el.getContext('2d');
    const size = 64;
    const pending = [];
    const latencies = (window.__latencies = []);
    el.addEventListener('pointermove', (event) => {
      if (event.buttons === 0) return;
      const rect = el.getBoundingClientRect();
      const samples = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
      for (const e of samples.length ? samples : [event]) {
        pending.push({
          t: e.timeStamp,
          x: Math.floor(((e.clientX - rect.left) / rect.width) * size),
          y: Math.floor(((e.clientY - rect.top) / rect.height) * size),
        });
      }
    }, { capture: true });
    const cell = el.width / size;
    const frame = () => {
      const now = performance.now();
      for (let i = pending.length - 1; i >= 0; i--) {
        const p = pending[i];
        const px = ctx.getImageData(Math.floor((p.x + 0.5) * cell), Math.floor((p.y + 0.5) * cell), 1, 1).data;
        if (px[3] === 255 && px[0] === 255) {
          latencies.push(now - p.t);
          pending.splice(i, 1);
        }
      }
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  })()
`

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>
  samples: number[]
  timeDeltas: number[]
}

/**
 * Top functions by self time over the catch-up, then for each of the three longest tasks the stacks
 * (innermost four frames) sampled inside it. Profile time is aligned to the page's clock at its start
 * (the first sample ≈ the page's performance.now() when the profiler started; a few ms of slack).
 */
function printProfile(profile: CpuProfile, pageStart: number, tasks: Array<{ start: number; duration: number }>): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const label = (id: number) => {
    const f = byId.get(id)!.callFrame
    return `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber}`
  }
  const self = new Map<string, number>()
  const times: number[] = []
  let t = 0
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0
    times.push(pageStart + t / 1000)
    self.set(label(id), (self.get(label(id)) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
  })
  for (const [name, ms] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20))
    console.log(`web:   profile ${ms.toFixed(0).padStart(6)} ms  ${name}`)
  for (const task of [...tasks].sort((a, b) => b.duration - a.duration).slice(0, 3)) {
    const stacks = new Map<string, number>()
    profile.samples.forEach((id, i) => {
      if (times[i]! < task.start || times[i]! > task.start + task.duration) return
      const frames: string[] = []
      for (let n: number | undefined = id; n !== undefined && frames.length < 4; n = parent.get(n)) frames.push(label(n))
      const key = frames.join(' < ')
      stacks.set(key, (stacks.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
    })
    console.log(`web:   long task of ${task.duration.toFixed(0)} ms at ${task.start.toFixed(0)}:`)
    for (const [key, ms] of [...stacks.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6))
      console.log(`web:     ${ms.toFixed(1).padStart(6)} ms  ${key}`)
  }
}

async function drawingLatency(browser: Browser, url: string, moves: number): Promise<Record<string, number>> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } })
  try {
    const page = await context.newPage()
    await page.goto(`${url}/editor`)
    await page.getByLabel('Size').selectOption('64')
    await page.getByRole('button', { name: 'New canvas' }).click()
    const canvas = page.getByTestId('pixel-canvas')
    await page.waitForFunction(() => document.querySelector('[data-testid=pixel-canvas]')?.getAttribute('data-size') === '64')
    await page.locator('.swatch[data-color="#ff004d"]').click()
    await page.locator('[data-tool=pencil]').click()
    // In the page: each pointer sample (coalesced ones too) → the first frame whose canvas shows its pixel.
    await page.evaluate(LATENCY_PROBE)
    const box = (await canvas.boundingBox())!
    const cell = box.width / 64
    const at = (i: number) => {
      const row = Math.floor(i / 64)
      const col = row % 2 === 0 ? i % 64 : 63 - (i % 64) // a snake: every sample next to the previous
      return [box.x + (col + 0.5) * cell, box.y + (row + 0.5) * cell] as const
    }
    await page.mouse.move(...at(0))
    await page.mouse.down()
    for (let i = 1; i <= moves; i++) await page.mouse.move(...at(i))
    await page
      .waitForFunction((n) => (window as unknown as { __latencies: number[] }).__latencies.length >= n, moves, { timeout: 10_000 })
      .catch(() => undefined)
    await page.mouse.up()
    const latencies = (await page.evaluate(() => (window as unknown as { __latencies: number[] }).__latencies)).sort((a, b) => a - b)
    return {
      samples: latencies.length,
      p50_ms: Math.round(percentile(latencies, 50) * 10) / 10,
      p95_ms: Math.round(percentile(latencies, 95) * 10) / 10,
      max_ms: Math.round((latencies.at(-1) ?? NaN) * 10) / 10,
    }
  } finally {
    await context.close()
  }
}

export async function runWebBench(): Promise<Record<string, unknown>> {
  const loads = Number(process.env.BENCH_WEB_LOADS ?? 5)
  const total = Number(process.env.BENCH_WEB_RECEIPTS ?? 10_000)
  const moves = Number(process.env.BENCH_WEB_STROKE ?? 300)
  ensureWebBuild({ log: (line) => console.log(`web: ${line}`) })
  const dir = await mkdtemp(join(tmpdir(), 'pixpax-web-bench-'))
  const config = loadConfig({
    DATA_DIR: dir,
    LOG_LEVEL: 'silent',
    DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    DATABASE_SCHEMA: `bench_web_${process.pid}`,
    WEB_DIST_DIR: WEB_DIST,
    RATE_LIMIT_PER_IP: '100000000',
    RATE_LIMIT_PER_IDENTITY: '100000000',
  })
  const deps = await buildDeps(config)
  const app = await buildApp({ ...deps, logger: false })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const browser = await launchChromium() // /usr/bin/chromium, --no-sandbox --disable-gpu --disable-background-networking
  const results: Record<string, unknown> = { load_average_before: loadavg().map((n) => Math.round(n * 100) / 100) }
  try {
    // 1. Cold loads.
    const runs = []
    for (let i = 0; i < loads; i++) runs.push(await coldLoad(browser, url))
    const interactive = runs.map((r) => r.interactiveMs).sort((a, b) => a - b)
    results.cold_load = {
      runs: loads,
      interactive_median_ms: Math.round(percentile(interactive, 50)),
      interactive_max_ms: Math.round(interactive.at(-1)!),
      dom_content_loaded_median_ms: Math.round(
        percentile(
          runs.map((r) => r.dclMs).sort((a, b) => a - b),
          50,
        ),
      ),
      budget_ms: 1500,
    }
    console.log(
      `web: cold load to interactive (fresh context, no service worker, loopback): median ${fmt(percentile(interactive, 50))} ms, worst ${fmt(interactive.at(-1)!)} ms of ${loads} (budget 1,500 ms)`,
    )

    // 2. JavaScript before the editor and Automerge.
    const first = [...new Set(runs[0]!.scripts)]
    const firstGzip = first.reduce((n, p) => n + gzipOf(join(WEB_DIST, p)), 0)
    const assets = readdirSync(join(WEB_DIST, 'assets'))
    const editor = assets.find((f) => /^editor-.*\.js$/.test(f))
    const drafts = assets.find((f) => /^synced-drafts-.*\.js$/.test(f))
    const wasm = assets.find((f) => f.endsWith('.wasm'))
    const lazy = Object.fromEntries(
      [editor, drafts, wasm].filter((f): f is string => !!f).map((f) => [f, gzipOf(join(WEB_DIST, 'assets', f))]),
    )
    results.javascript = { first_screen_files: first, first_screen_gzip_bytes: firstGzip, budget_bytes: 250_000, lazy_gzip_bytes: lazy }
    console.log(
      `web: JavaScript before the editor and Automerge: ${(firstGzip / 1000).toFixed(1)} KB gzip in ${first.length} files (budget 250 KB); ` +
        `later: ${Object.entries(lazy)
          .map(([f, n]) => `${f} ${(n / 1000).toFixed(1)} KB`)
          .join(', ')} gzip`,
    )
    if (first.some((p) => /synced-drafts|editor-/.test(p)))
      throw new Error(`the first screen loaded the editor or drafts: ${first.join(', ')}`)

    // 3. Catch-up in the page.
    console.log(`web: catch-up: posting ${fmt(total)} receipts…`)
    const caught = await catchUp(browser, url, total, dir)
    results.catch_up = { ...caught, budget_per_s: 5000, budget_longest_task_ms: 50 }
    console.log(
      `web: catch-up of ${fmt(caught.receipts!)} receipts verified and stored in the page: ${caught.seconds} s, ${fmt(caught.per_s!)}/s (budget ≥ 5,000/s); ` +
        `longest main-thread task ${caught.longest_task_ms} ms, ${caught.tasks_over_50ms} over 50 ms (budget none)`,
    )

    // 4. Drawing latency.
    const drawing = await drawingLatency(browser, url, moves)
    results.drawing_latency_64 = { ...drawing, budget_p95_ms: 16 }
    console.log(
      `web: drawing latency on 64×64, pointer event → pixel on screen (${drawing.samples} samples): p50 ${drawing.p50_ms} ms, p95 ${drawing.p95_ms} ms, max ${drawing.max_ms} ms (budget p95 ≤ 16 ms)`,
    )
    results.load_average_after = loadavg().map((n) => Math.round(n * 100) / 100)
  } finally {
    await browser.close()
    await app.close()
    const { PgDb } = await import('../sync-server/src/db/pg-db.js')
    const admin = await PgDb.open({ connectionString: config.DATABASE_URL! })
    await admin.query(`DROP SCHEMA IF EXISTS ${config.DATABASE_SCHEMA} CASCADE`)
    await admin.close()
    await rm(dir, { recursive: true, force: true })
  }
  return results
}
