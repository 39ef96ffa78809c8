/**
 * Builds the web app unless web/dist is newer than everything it is built from (the app's sources and
 * config, and the client-sdk and shared sources it bundles). Run by `pnpm start` before the relay, by
 * CI once before the tests, and by the browser tests (a no-op when CI has built already).
 *
 *   node --import tsx web/scripts/ensure-build.ts [--force]
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), '..')
export const WEB_DIST = join(WEB_DIR, 'dist')
const REPO = join(WEB_DIR, '..')
const INPUTS = [
  join(WEB_DIR, 'src'),
  join(WEB_DIR, 'public'),
  join(WEB_DIR, 'index.html'),
  join(WEB_DIR, 'vite.config.ts'),
  join(WEB_DIR, 'package.json'),
  join(REPO, 'client-sdk', 'src'),
  join(REPO, 'shared', 'src'),
  join(REPO, 'pnpm-lock.yaml'),
]

function newestMtime(path: string): number {
  let stat
  try {
    stat = statSync(path)
  } catch {
    return 0
  }
  if (!stat.isDirectory()) return stat.mtimeMs
  let newest = stat.mtimeMs
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)))
  return newest
}

/** Why a build is needed, or undefined when web/dist is up to date. */
export function staleReason(): string | undefined {
  const built = newestMtime(join(WEB_DIST, 'index.html'))
  if (built === 0) return 'web/dist is missing'
  const source = Math.max(...INPUTS.map(newestMtime))
  return source > built ? 'the web sources changed since the last build' : undefined
}

const LOCK = join(WEB_DIR, '.build-lock')
const LOCK_STALE_MS = 5 * 60_000

/**
 * Two test files (or `pnpm start` beside a test run) may ask at once: one builds, the others wait for
 * its lock (a directory: mkdir is atomic) to go, then find the build fresh. A lock left by a killed
 * build is taken over after LOCK_STALE_MS.
 */
function withBuildLock<T>(work: () => T): T {
  const tick = new Int32Array(new SharedArrayBuffer(4))
  for (;;) {
    try {
      mkdirSync(LOCK)
      break
    } catch {
      if (Date.now() - newestMtime(LOCK) > LOCK_STALE_MS) rmSync(LOCK, { recursive: true, force: true })
      else Atomics.wait(tick, 0, 0, 200) // a synchronous pause: this runs before any event loop work
    }
  }
  try {
    return work()
  } finally {
    rmSync(LOCK, { recursive: true, force: true })
  }
}

/** Builds web/dist with Vite (output shown) if it is missing or stale; throws if the build fails. */
export function ensureWebBuild(options: { force?: boolean; log?: (line: string) => void } = {}): boolean {
  return withBuildLock(() => buildIfNeeded(options))
}

function buildIfNeeded(options: { force?: boolean; log?: (line: string) => void }): boolean {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`))
  const reason = options.force ? 'a build was asked for' : staleReason()
  if (!reason) {
    log('web app: web/dist is up to date')
    return false
  }
  log(`web app: building (${reason})…`)
  const started = Date.now()
  const vite = join(dirname(createRequire(join(WEB_DIR, 'package.json')).resolve('vite/package.json')), 'bin', 'vite.js')
  const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: WEB_DIR, stdio: 'inherit' })
  if (result.status !== 0) throw new Error(`web app: the build failed (exit ${result.status ?? result.signal})`)
  log(`web app: built in ${((Date.now() - started) / 1000).toFixed(1)} s → web/dist`)
  return true
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    ensureWebBuild({ force: process.argv.includes('--force') })
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`)
    process.exitCode = 1
  }
}
