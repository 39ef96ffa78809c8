/**
 * `pnpm bench player` (issue 12): one relay (its own process: bench/player-bench-relay.ts, Postgres +
 * fs) and
 *
 * 1. BENCH_PLAYERS (1,000) simulated players (bench/player-sim.ts): paired through the real routes, one
 *    sync socket each, a DEVICE_STATUS pushed every second for BENCH_PLAYER_SECONDS (30). Relay CPU (its
 *    process.cpuUsage, in % of one core) and RSS during the window, against the same relay idle with
 *    the sockets open (same-run baseline); push → push-result p50/p95; command delivery p95 (target
 *    ≤ 100 ms): BENCH_PLAYER_COMMANDS (100) DEVICE_COMMANDs posted by the owners during the window, each
 *    timed from the POST to its arrival on the device's socket.
 * 2. One real player process as `pnpm player` runs it (the bundle of player-agent/scripts/bundle.mjs on
 *    plain node with PLAYER_NODE_FLAGS), through a byte-counting proxy: the first sync of a
 *    BENCH_PLAYLIST_POSTS (500) post playlist — pair → every blob cached, time and bytes on the wire
 *    (against the art's own bytes) — then its RSS idle with the full cache (target ≤ 80 MB), over
 *    BENCH_PLAYER_RUNS (3) starts on the same directory, each sampled 5 times after BENCH_PLAYER_IDLE_MS
 *    (10 s) idle; then once through tsx (`pnpm player:dev`), against a bare `node` and a bare
 *    `node --import tsx` (same-run baselines).
 *
 * A small run: BENCH_PLAYERS=50 BENCH_PLAYER_SECONDS=5 BENCH_PLAYER_COMMANDS=20 BENCH_PLAYLIST_POSTS=50.
 * The memory part alone: BENCH_PLAYERS=0 (no simulated players).
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, connect, type AddressInfo, type Socket } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { canonicalBytes, type Receipt } from '../shared/src/index.js'
import { nodeSigner } from '../shared/src/node/index.js'
import { login } from '../client-sdk/src/network/session.js'
import { png, pngChunk, type Rgba } from '../sync-server/test/support/media-fixtures.js'
import { PLAYER_NODE_FLAGS } from '../player-agent/scripts/bundle.mjs'
import { api, Chain, capabilities, ecdhKey, inPool, postReceipts, SimPlayer, type Who } from './player-sim.js'
import { loopDelayOf, phaseSplit, totalsBetween, type HistogramTotals, type LoopDelay } from './player-bench-stats.js'
import { benchDir, fmt, percentile, repoRoot } from './support.js'

interface RelayStats {
  cpu: NodeJS.CpuUsage
  rss: number
  heapUsed: number
  phases: HistogramTotals
  batches: HistogramTotals
  /** The relay's event-loop delay since the previous sample. */
  loopDelay: LoopDelay
}

const MB = 1024 * 1024
const num = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function startRelay(): Promise<{
  url: string
  stats(): Promise<RelayStats>
  profile(what: 'start' | 'stop'): Promise<void>
  stop(): Promise<void>
}> {
  const child: ChildProcess = fork(join(benchDir, 'player-bench-relay.ts'), [], {
    execArgv: ['--import', 'tsx'],
    // libuv's pool as `pnpm start`, the Dockerfile and the k8s manifest size it (docs/relay.md): the fs
    // store's fsyncs run there, and with the default 4 threads a batch's objects queue behind each other.
    env: { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '64' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { url: string }).url))
    child.once('exit', (code) => reject(new Error(`relay exited ${code}`)))
  })
  return {
    url,
    stats: () =>
      new Promise((resolve) => {
        const on = (m: unknown) => {
          const s = (m as { stats?: RelayStats }).stats
          if (!s) return
          child.off('message', on)
          resolve(s)
        }
        child.on('message', on)
        child.send('stats')
      }),
    // RELAY_PROF=<dir>: the relay's main thread is profiled over the window (relay-window-<pid>.cpuprofile there).
    profile: (what) =>
      !process.env.RELAY_PROF
        ? Promise.resolve()
        : new Promise((resolve) => {
            const on = (m: unknown) => {
              if ((m as { profiled?: string }).profiled !== `profile-${what}`) return
              child.off('message', on)
              resolve()
            }
            child.on('message', on)
            child.send(`profile-${what}`)
          }),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve())
        child.send('stop')
      }),
  }
}

/** CPU of the relay between two samples, in % of one core. */
const cpuPercent = (a: RelayStats, b: RelayStats, ms: number) =>
  +((100 * (b.cpu.user - a.cpu.user + b.cpu.system - a.cpu.system)) / 1000 / ms).toFixed(1)

async function newOwner(url: string, accountId: string): Promise<Who & { token: string; fresh(): Promise<string> }> {
  const who: Who = { identityId: `benchowner-${randomBytes(5).toString('hex')}`, accountId, signer: nodeSigner(ecdhKey()) }
  const id = new Chain({ type: 'identity', identityId: who.identityId }, who)
  await postReceipts(url, [await id.next('IDENTITY_CREATED', { publicKey: who.signer.publicKey, accountId, kind: 'person' })])
  const fresh = async () => (await login(url, who.identityId, who.signer)).token
  return { ...who, token: await fresh(), fresh }
}

/** Part 1: simulated players against the relay. */
async function simulatedPlayers(url: string, relay: Awaited<ReturnType<typeof startRelay>>): Promise<Record<string, unknown>> {
  const n = num('BENCH_PLAYERS', 1000)
  const seconds = num('BENCH_PLAYER_SECONDS', 30)
  // Each command goes to another device (its own remote stream, started by that command): at most one per player.
  const commands = Math.min(num('BENCH_PLAYER_COMMANDS', 100), n)
  const runId = randomBytes(3).toString('hex')
  const out: Record<string, unknown> = { players: n, seconds, commands }

  let t = performance.now()
  const players = Array.from({ length: n }, (_, i) => new SimPlayer(i, runId))
  const keysMs = Math.round(performance.now() - t)
  out.keys_ms = keysMs
  console.log(`player: ${fmt(n)} device keys (createECDH) in ${keysMs} ms`)

  t = performance.now()
  for (let i = 0; i < n; i += 100) await postReceipts(url, await Promise.all(players.slice(i, i + 100).map((p) => p.identityCreated())))
  // An account holds at most 128 players; the pair route allows 10 attempts per owner session per window.
  const owners = await Promise.all(Array.from({ length: Math.ceil(n / 128) }, (_, k) => newOwner(url, `benchacct-${runId}-${k}`)))
  const sessions = new Map<string, Promise<string>>()
  await inPool(players, 16, async (p, i) => {
    const owner = owners[Math.floor(i / 128)]!
    await p.login(url)
    const { code } = await api<{ code: string }>(url, '/v1/devices/pairing-code', { method: 'POST', token: p.token })
    // One owner session per 10 pairings (the pair route's per-session limit).
    const group = `${Math.floor(i / 128)}:${Math.floor((i % 128) / 10)}`
    let session = sessions.get(group)
    if (!session) sessions.set(group, (session = owner.fresh()))
    await api(url, '/v1/devices/pair', { method: 'POST', token: await session, body: JSON.stringify({ code, name: `bench ${i}` }) })
    p.owner = owner
  })
  for (let i = 0; i < n; i += 100)
    await postReceipts(url, await Promise.all(players.slice(i, i + 100).map((p) => p.own.next('DEVICE_REGISTERED', { capabilities }))))
  await inPool(players, 50, (p) => p.connect(url))
  const setupS = +((performance.now() - t) / 1000).toFixed(1)
  out.setup_s = setupS
  console.log(`  ${fmt(n)} players created, paired (${owners.length} accounts), connected and subscribed in ${setupS} s`)

  // Same-run baseline: the relay idle, every socket open.
  const idleMs = 3000
  const i0 = await relay.stats()
  await wait(idleMs)
  const i1 = await relay.stats()
  out.relay_idle = { cpu_percent: cpuPercent(i0, i1, idleMs), rss_mb: +(i1.rss / MB).toFixed(1), heap_mb: +(i1.heapUsed / MB).toFixed(1) }

  // The window: every player beats once a second (staggered), the owners send commands meanwhile.
  await relay.profile('start')
  const w0 = await relay.stats()
  // The simulated players' own event-loop delay: it adds to every latency they measure.
  const simLoop = monitorEventLoopDelay({ resolution: 10 })
  simLoop.enable()
  const relayLoop: LoopDelay[] = []
  const simCpu0 = process.cpuUsage()
  const start = performance.now()
  let beats = 0
  let peakRss = w0.rss
  const timers = players.map((p, i) =>
    setTimeout(
      () => {
        const tick = () => {
          beats++
          void p.heartbeat()
        }
        tick()
        timers[i] = setInterval(tick, 1000)
      },
      Math.floor((i / n) * 1000),
    ),
  )
  const sampler = setInterval(
    () =>
      void relay.stats().then((s) => {
        peakRss = Math.max(peakRss, s.rss)
        relayLoop.push(s.loopDelay)
      }),
    1000,
  )
  const delivery: number[] = []
  /** POST → its response (the command's ack: committed and covered by a stored checkpoint). */
  const answered: number[] = []
  let lost = 0
  const gap = (seconds * 1000) / Math.max(1, commands)
  // Commands on a fixed schedule, each to another device (its remote stream opened by this command),
  // not waiting for the one before: a slow delivery must not thin out the load or stretch the window.
  const sent = Array.from({ length: commands }, async (_, c) => {
    await wait(Math.max(0, start + (c + 0.5) * gap - performance.now()))
    const p = players[(c * 7919) % n]!
    const owner = p.owner!
    const chain = new Chain({ type: 'remote', accountId: owner.accountId, deviceIdentityId: p.who.identityId }, owner)
    const r = await chain.next('DEVICE_COMMAND', { command: 'next' })
    const arrived = new Promise<number>((resolve) => p.awaited.set(r.eventId, resolve))
    const at0 = performance.now()
    await postReceipts(url, [r])
    answered.push(performance.now() - at0)
    const at = await Promise.race([arrived, wait(10_000).then(() => -1)])
    if (at < 0) lost++
    else delivery.push(at - at0)
  })
  await wait(Math.max(0, start + seconds * 1000 - performance.now()))
  for (const timer of timers) clearInterval(timer)
  clearInterval(sampler)
  const windowMs = performance.now() - start
  const w1 = await relay.stats()
  const simCpu = process.cpuUsage(simCpu0)
  await relay.profile('stop')
  simLoop.disable()
  relayLoop.push(w1.loopDelay)
  await Promise.all(sent)
  // Let the last pushes answer before counting.
  const drainUntil = performance.now() + 10_000
  while (players.some((p) => p.unanswered > 0) && performance.now() < drainUntil) await wait(50)
  const pushLat = players.flatMap((p) => p.pushLatencies).sort((a, b) => a - b)
  delivery.sort((a, b) => a - b)
  answered.sort((a, b) => a - b)
  out.heartbeats = {
    sent: beats,
    per_s: Math.round(beats / (windowMs / 1000)),
    acked: pushLat.length,
    refused: players.reduce((s, p) => s + p.pushFailures, 0),
    unanswered: players.reduce((s, p) => s + p.unanswered, 0),
    push_p50_ms: +percentile(pushLat, 50).toFixed(1),
    push_p95_ms: +percentile(pushLat, 95).toFixed(1),
  }
  out.relay_window = {
    cpu_percent: cpuPercent(w0, w1, windowMs),
    rss_mb: +(w1.rss / MB).toFixed(1),
    peak_rss_mb: +(Math.max(peakRss, w1.rss) / MB).toFixed(1),
    heap_mb: +(w1.heapUsed / MB).toFixed(1),
  }
  out.command_delivery = {
    delivered: delivery.length,
    lost,
    p50_ms: +percentile(delivery, 50).toFixed(1),
    p95_ms: +percentile(delivery, 95).toFixed(1),
    max_ms: +(delivery.at(-1) ?? NaN).toFixed(1),
    acked_p50_ms: +percentile(answered, 50).toFixed(1),
    acked_p95_ms: +percentile(answered, 95).toFixed(1),
  }
  out.relay_phases = phaseSplit(totalsBetween(w0.phases, w1.phases))
  const batches = totalsBetween(w0.batches, w1.batches)['']
  out.relay_batches = { n: batches?.count ?? 0, mean_receipts: batches?.count ? +(batches.sum / batches.count).toFixed(1) : 0 }
  out.simulated_players_cpu_percent = +((100 * (simCpu.user + simCpu.system)) / 1000 / windowMs).toFixed(1)
  out.relay_cpu_ms_per_receipt = batches?.sum
    ? +((w1.cpu.user - w0.cpu.user + w1.cpu.system - w0.cpu.system) / 1000 / batches.sum).toFixed(3)
    : null
  out.loop_delay = {
    simulated_players: loopDelayOf(simLoop),
    relay_worst_second: {
      p50_ms: Math.max(...relayLoop.map((l) => l.p50_ms)),
      p99_ms: Math.max(...relayLoop.map((l) => l.p99_ms)),
      max_ms: Math.max(...relayLoop.map((l) => l.max_ms)),
    },
  }
  const idle = out.relay_idle as { cpu_percent: number; rss_mb: number }
  const win = out.relay_window as { cpu_percent: number; rss_mb: number; peak_rss_mb: number }
  const hb = out.heartbeats as Record<string, number>
  const cd = out.command_delivery as Record<string, number>
  console.log(
    `  heartbeats: ${fmt(hb.sent!)} in ${(windowMs / 1000).toFixed(1)} s (${fmt(hb.per_s!)}/s), ${fmt(hb.acked!)} answered, ${hb.refused} refused, ${hb.unanswered} unanswered; push → result p50 ${hb.push_p50_ms} ms, p95 ${hb.push_p95_ms} ms`,
  )
  console.log(
    `  relay: CPU ${win.cpu_percent}% of a core during the window (idle with ${fmt(n)} sockets: ${idle.cpu_percent}%), RSS ${win.rss_mb} MB (peak ${win.peak_rss_mb}; idle ${idle.rss_mb})`,
  )
  console.log(
    `  command delivery (POST DEVICE_COMMAND → the device's socket): ${cd.delivered}/${commands} delivered, p50 ${cd.p50_ms} ms, p95 ${cd.p95_ms} ms (target ≤ 100), max ${cd.max_ms} ms; the POST's own answer (its ack) p50 ${cd.acked_p50_ms} ms, p95 ${cd.acked_p95_ms} ms`,
  )
  const rb = out.relay_batches as { n: number; mean_receipts: number }
  console.log(`  relay batches: ${fmt(rb.n)} in the window, ${rb.mean_receipts} receipts each on average; per phase (n, mean ms, total s):`)
  console.log(
    '    ' +
      Object.entries(out.relay_phases as ReturnType<typeof phaseSplit>)
        .map(([phase, v]) => `${phase} ${v.n}×${v.mean_ms}=${v.total_s}`)
        .join(', '),
  )
  console.log(
    `  CPU: relay ${String(out.relay_cpu_ms_per_receipt)} ms per receipt committed in the window; the simulated players' process ${String(out.simulated_players_cpu_percent)}% of a core`,
  )
  const ld = out.loop_delay as { simulated_players: LoopDelay; relay_worst_second: LoopDelay }
  console.log(
    `  event-loop delay: simulated players p50 ${ld.simulated_players.p50_ms} ms, p99 ${ld.simulated_players.p99_ms}, max ${ld.simulated_players.max_ms}; relay (worst 1 s sample) p50 ${ld.relay_worst_second.p50_ms}, p99 ${ld.relay_worst_second.p99_ms}, max ${ld.relay_worst_second.max_ms}`,
  )
  for (const p of players) p.close()
  return out
}

/** A TCP proxy counting the bytes each way (HTTP and WebSocket alike). */
async function countingProxy(target: string): Promise<{ url: string; bytes: { up: number; down: number }; close(): Promise<void> }> {
  const { hostname, port } = new URL(target)
  const bytes = { up: 0, down: 0 }
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(Number(port), hostname)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.on('data', (d: Buffer) => (bytes.up += d.length))
    upstream.on('data', (d: Buffer) => (bytes.down += d.length))
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bytes,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** RSS of a process from /proc, in MB. */
async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return +(Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024).toFixed(1)
}

/** The RSS of a process that does nothing (a baseline), after it settled. */
async function idleRss(args: string[]): Promise<number> {
  const child = spawn(process.execPath, [...args, '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', cwd: repoRoot })
  await wait(2000)
  const rss = await rssOf(child.pid!)
  child.kill()
  return rss
}

interface PlayerChild {
  child: ChildProcess
  lines: string[]
  waitLine(test: (lines: string[]) => RegExpMatchArray | null | boolean, what: string, ms?: number): Promise<RegExpMatchArray | boolean>
  stop(): Promise<void>
}

/** A player process with `args` after node, its stdout lines collected. */
function spawnPlayer(args: string[], env: Record<string, string>): PlayerChild {
  const child = spawn(process.execPath, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += String(d)))
  const lines: string[] = []
  const waiters = new Set<() => void>()
  let partial = ''
  child.stdout.on('data', (d: Buffer) => {
    const parts = (partial + String(d)).split('\n')
    partial = parts.pop()!
    lines.push(...parts)
    for (const w of [...waiters]) w()
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    child,
    lines,
    waitLine: (test, what, ms = 240_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`player: timed out waiting for ${what}\n${lines.slice(-20).join('\n')}\n${stderr}`)),
          ms,
        )
        const check = () => {
          const m = test(lines)
          if (m) {
            clearTimeout(timer)
            waiters.delete(check)
            resolve(m)
          }
        }
        waiters.add(check)
        check()
      }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}

/** 5 RSS samples a second apart (MB), once the player shows art and sat idle BENCH_PLAYER_IDLE_MS. */
async function idlePlayerRss(player: PlayerChild): Promise<number[]> {
  await player.waitLine((l) => l.some((x) => x.startsWith('showing ')), 'showing')
  await wait(num('BENCH_PLAYER_IDLE_MS', 10_000))
  const samples: number[] = []
  for (let i = 0; i < 5; i++) {
    samples.push(await rssOf(player.child.pid!))
    await wait(1000)
  }
  return samples
}

/** CPU seconds (user + system) a process used so far, from /proc. */
async function cpuSecondsOf(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Part 2: one real player process — first sync of a big playlist, then idle with the full cache. */
async function realPlayer(url: string): Promise<Record<string, unknown>> {
  const posts = num('BENCH_PLAYLIST_POSTS', 500)
  const out: Record<string, unknown> = { playlist_posts: posts }
  const owner = await newOwner(url, `benchacct-real-${randomBytes(3).toString('hex')}`)
  const profile = new Chain({ type: 'profile', identityId: owner.identityId }, owner)
  const receipts: Receipt[] = [await profile.next('PROFILE_UPDATED', { handle: owner.identityId.slice(0, 32) })]
  let artBytes = 0
  const media: Array<Record<string, unknown>> = []
  // Distinct 64×64 pixel art: one 8-colour image made distinct by a tEXt chunk (as the media bench does).
  const palette: Rgba[] = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => [(k * 37) & 255, (k * 91) & 255, (k * 53) & 255, 255])
  const base = await png(64, 64, palette)
  const body = base.subarray(0, base.length - 12)
  const iend = base.subarray(base.length - 12)
  await inPool(
    Array.from({ length: posts }, (_, i) => i),
    8,
    async (i) => {
      const bytes = Buffer.concat([body, pngChunk('tEXt', Buffer.from(`Comment\0bench player art ${i}`, 'latin1')), iend])
      artBytes += bytes.length
      const hex = createHash('sha256').update(bytes).digest('hex')
      const res = await fetch(`${url}/v1/media/sha256/${hex}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'image/png' },
        body: bytes,
      })
      if (res.status !== 200 && res.status !== 201) throw new Error(`PUT media ${res.status}: ${await res.text()}`)
      const info = (await res.json()) as { mime: string; width: number; height: number; frames: number }
      media[i] = { hash: `sha256:${hex}`, mime: info.mime, width: info.width, height: info.height, frames: info.frames }
    },
  )
  for (let i = 0; i < posts; i++) receipts.push(await profile.next('POST_PUBLISHED', { title: `bench art ${i}`, media: media[i] }))
  const playlist = await profile.next('PLAYLIST_CREATED', {
    playlistId: 'bench',
    title: 'Bench',
    postIds: receipts.slice(1).map((r) => r.eventId),
  })
  receipts.push(playlist)
  for (let i = 0; i < receipts.length; i += 100) await postReceipts(url, receipts.slice(i, i + 100))
  const receiptBytes = receipts.reduce((s, r) => s + canonicalBytes(r).length, 0)

  const proxy = await countingProxy(url)
  const dir = await mkdtemp(join(tmpdir(), 'pixpax-bench-player-'))
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
  const env = {
    RELAY_URL: proxy.url,
    PLAYER_DIR: dir,
    PLAYER_DISPLAY: 'png',
    PLAYER_CHANNEL: `playlist:${owner.identityId}/bench`,
    PLAYER_POLL_MS: '100',
    PLAYER_STILL_SECONDS: '2',
  }
  // As `pnpm player` runs it: the bundle on plain node. Then through tsx, as `pnpm player:dev` does.
  const bundle = spawnSync(process.execPath, [join(repoRoot, 'player-agent', 'scripts', 'bundle.mjs')], { encoding: 'utf8' })
  if (bundle.status !== 0) throw new Error(`pnpm player:build failed: ${bundle.stderr}`)
  const bundleArgs = [...PLAYER_NODE_FLAGS, join(repoRoot, 'player-agent', 'dist', 'player.mjs')]
  let player = spawnPlayer(bundleArgs, env)
  try {
    const spawned = performance.now()
    const code = (await player.waitLine(
      (l) => l.map((x) => /^PAIRING CODE: (\w{6})$/.exec(x)).find(Boolean) ?? null,
      'a pairing code',
    )) as RegExpMatchArray
    out.spawn_to_code_s = +((performance.now() - spawned) / 1000).toFixed(1)
    await api(url, '/v1/devices/pair', {
      method: 'POST',
      token: owner.token,
      body: JSON.stringify({ code: code[1], name: 'bench player' }),
    })
    const before = { ...proxy.bytes }
    const t0 = performance.now()
    await player.waitLine((l) => l.includes('paired'), 'paired')
    await player.waitLine((l) => l.filter((x) => x.startsWith('cached ')).length >= posts, `${posts} cached blobs`)
    const syncMs = performance.now() - t0
    const down = proxy.bytes.down - before.down
    const up = proxy.bytes.up - before.up
    out.first_sync = {
      seconds: +(syncMs / 1000).toFixed(1),
      bytes_down: down,
      bytes_up: up,
      art_bytes: artBytes,
      receipt_bytes: receiptBytes,
      blobs_per_s: +(posts / (syncMs / 1000)).toFixed(1),
    }
    console.log(
      `  first sync of a ${posts}-post playlist (pair → every blob verified and cached): ${(syncMs / 1000).toFixed(1)} s (${(posts / (syncMs / 1000)).toFixed(1)} blobs/s), ` +
        `${fmt(down)} bytes down / ${fmt(up)} up (the art itself: ${fmt(artBytes)} bytes; its receipts ${fmt(receiptBytes)} canonical bytes)`,
    )
    // Idle with the full cache, over several starts on the same directory (paired: it plays from the
    // cache at once, and catches up with the relay meanwhile).
    const runs: number[][] = []
    const startCpu: number[] = []
    const idleCpu: number[] = []
    for (let run = 0; run < num('BENCH_PLAYER_RUNS', 3); run++) {
      if (run > 0) player = spawnPlayer(bundleArgs, env)
      const samples = await idlePlayerRss(player)
      const c0 = await cpuSecondsOf(player.child.pid!)
      await wait(5000)
      idleCpu.push(+((100 * ((await cpuSecondsOf(player.child.pid!)) - c0)) / 5).toFixed(1))
      startCpu.push(c0)
      runs.push(samples)
      await player.stop()
      console.log(
        `  pnpm player (bundle), start ${run + 1}: RSS idle ${samples.join(' ')} MB; CPU ${c0} s so far, ${idleCpu.at(-1)}% of a core idle`,
      )
    }
    player = spawnPlayer(['--import', tsx, join(repoRoot, 'player-agent', 'src', 'main.ts')], env)
    const viaTsx = Math.max(...(await idlePlayerRss(player)))
    await player.stop()
    const viaBundle = Math.max(...runs.flat())
    const [bare, tsxOnly] = [await idleRss([]), await idleRss(['--import', tsx])]
    out.player_rss = {
      pnpm_player_bundle_mb: viaBundle,
      pnpm_player_bundle_samples_mb: runs,
      pnpm_player_bundle_cpu_s_at_idle: startCpu,
      pnpm_player_bundle_idle_cpu_percent: idleCpu,
      node_flags: [...PLAYER_NODE_FLAGS],
      player_dev_tsx_mb: viaTsx,
      bare_node_mb: bare,
      node_tsx_mb: tsxOnly,
      target_mb: 80,
    }
    console.log(
      `  one player's RSS idle with the full cache (${posts} blobs): ${viaBundle} MB at most over ${runs.length} starts as \`pnpm player\` runs it ` +
        `(the bundle; node ${PLAYER_NODE_FLAGS.join(' ')}) — target ≤ 80; ${viaTsx} MB through tsx (pnpm player:dev); ` +
        `same-run baselines: bare node ${bare} MB, node --import tsx ${tsxOnly} MB`,
    )
  } finally {
    await player.stop()
    await proxy.close()
    await rm(dir, { recursive: true, force: true })
  }
  return out
}

export async function runPlayerBench(): Promise<Record<string, unknown>> {
  console.log(
    `player: load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (2 shared cores: figures are noisy)`,
  )
  const relay = await startRelay()
  try {
    const simulated = num('BENCH_PLAYERS', 1000) > 0 ? await simulatedPlayers(relay.url, relay) : { skipped: 'BENCH_PLAYERS=0' }
    // BENCH_PLAYER_REAL=0: the simulated players only (part 1), for quicker runs of the relay's figures.
    const real = process.env.BENCH_PLAYER_REAL === '0' ? {} : await realPlayer(relay.url)
    return { simulated, real, load: loadavg() }
  } finally {
    await relay.stop()
  }
}
