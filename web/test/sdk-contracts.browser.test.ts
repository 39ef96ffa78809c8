/**
 * client-sdk's LocalLog and KeyStore conformance suites in real Chromium (in Node they run on
 * fake-indexeddb): a small page bundled with Vite runs them against the browser's own IndexedDB and
 * WebCrypto and reports each test's result back. vitest's `expect` runs in the page unchanged; only
 * describe/it/hooks come from a small shim (browser-contracts/vitest-shim.ts).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { extname, join, normalize } from 'node:path'
import type { Browser } from 'playwright-core'
import { build } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WEB_DIR } from '../scripts/ensure-build.js'
import type { TestResult } from './browser-contracts/vitest-shim.js'
import { launchChromium, RESULTS_DIR } from './support/browser.js'

// A secure context (WebCrypto, IndexedDB) without a server: Playwright answers this origin from outDir.
const ORIGIN = 'http://127.0.0.1:9'
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' }

describe('client-sdk contracts in Chromium', () => {
  let outDir: string
  let browser: Browser
  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'pixpax-contracts-'))
    const root = join(WEB_DIR, 'test', 'browser-contracts')
    await build({
      configFile: false,
      root,
      logLevel: 'warn',
      resolve: { alias: { vitest: join(root, 'vitest-shim.ts') } },
      build: { outDir, emptyOutDir: true, target: 'es2022', minify: false },
    })
    browser = await launchChromium()
  }, 180_000)
  afterAll(async () => {
    await browser?.close()
    if (outDir) await rm(outDir, { recursive: true, force: true })
  })

  it('every Dexie local log and IndexedDB key store contract test passes against the real browser storage', async () => {
    const page = await browser.newPage()
    await page.route(`${ORIGIN}/**`, async (route) => {
      const path = normalize(new URL(route.request().url()).pathname).replace(/^\/+/, '') || 'index.html'
      try {
        await route.fulfill({ body: await readFile(join(outDir, path)), contentType: TYPES[extname(path)] ?? 'application/octet-stream' })
      } catch {
        await route.fulfill({ status: 404, body: 'not found' })
      }
    })
    await page.goto(`${ORIGIN}/index.html`)
    await page.waitForFunction(() => typeof window.runContracts === 'function')
    const results = await page.evaluate(() => window.runContracts())
    await mkdir(RESULTS_DIR, { recursive: true })
    await writeFile(join(RESULTS_DIR, 'sdk-contracts-chromium.json'), JSON.stringify(results, null, 2))
    const suites = (prefix: string) => results.filter((r: TestResult) => r.name.includes(prefix))
    expect(suites('DexieLocalLog (Chromium').length).toBeGreaterThan(5)
    expect(suites('IndexedDbKeyStore (Chromium').length).toBeGreaterThan(3)
    expect(results.filter((r) => r.status !== 'passed')).toEqual([])
  }, 120_000)
})
