/**
 * The "update available" prompt (vite-plugin-pwa `registerType: 'prompt'`, onNeedRefresh) in real
 * Chromium: the app is built twice (VITE_PIXPAX_BUILD v1 and v2 — different bundles, so a different
 * service worker precache), the relay serves v1, the page installs its service worker; then v2's entry
 * files are deployed into the served directory (hashed assets of both kept) and the browser
 * checks for an update (what it does on navigations and periodically): the open page shows the prompt
 * and is not reloaded by itself; "Update now" reloads it into v2, now controlled by the new worker.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestRelay, uniqueSchema, dropSchemas, type TestRelay } from '../../sync-server/test/support/relay-harness.js'
import { WEB_DIR } from '../scripts/ensure-build.js'
import { launchChromium, screenshot } from './support/browser.js'

function build(outDir: string, buildId: string): void {
  const vite = join(dirname(createRequire(join(WEB_DIR, 'package.json')).resolve('vite/package.json')), 'bin', 'vite.js')
  const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn', '--outDir', outDir, '--emptyOutDir'], {
    cwd: WEB_DIR,
    stdio: 'inherit',
    env: { ...process.env, VITE_PIXPAX_BUILD: buildId },
  })
  if (result.status !== 0) throw new Error(`build ${buildId} failed (exit ${result.status ?? result.signal})`)
}

describe('a new version in Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pixpax-update-'))
  const served = join(dir, 'served')
  let relay: TestRelay
  let browser: Browser
  let page: Page

  beforeAll(async () => {
    build(join(dir, 'v1'), 'v1')
    build(join(dir, 'v2'), 'v2')
    // The relay routes the files it finds at start-up (a real deploy restarts it with the new build), so
    // v2's hashed assets are staged beside v1's from the start; the deploy below swaps the unhashed
    // entry files (index.html, sw.js, the manifest), which is what makes v2 the served version.
    cpSync(join(dir, 'v2'), served, { recursive: true })
    cpSync(join(dir, 'v1'), served, { recursive: true })
    relay = await startTestRelay({ db: 'pg', store: 'fs', schema: uniqueSchema('webupdate'), env: { WEB_DIST_DIR: served } })
    browser = await launchChromium()
    page = await (await browser.newContext({ viewport: { width: 1000, height: 800 } })).newPage()
  }, 240_000)

  afterAll(async () => {
    await browser?.close()
    await relay?.close()
    await dropSchemas('webupdate')
    rmSync(dir, { recursive: true, force: true })
  })

  const activeWorkerScript = () => page.evaluate(async () => (await navigator.serviceWorker.ready).active?.scriptURL)

  it('shows the prompt for a new deploy and reloads into it on “Update now”', async () => {
    await page.goto(relay.url)
    await expect(page.evaluate(() => document.documentElement.dataset.build)).resolves.toBe('v1')
    await page.getByRole('status').getByText('PixPax is ready to work offline').waitFor({ timeout: 30_000 })
    // A returning visit: the page is now served and controlled by v1's worker.
    await page.reload()
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null)
    expect(await activeWorkerScript()).toMatch(/\/sw\.js$/)
    await expect(page.evaluate(() => document.documentElement.dataset.build)).resolves.toBe('v1')

    cpSync(join(dir, 'v2'), served, { recursive: true }) // the deploy: v2's entry files over v1's
    expect(await (await fetch(`${relay.url}/sw.js`)).text()).toBe(readFileSync(join(dir, 'v2', 'sw.js'), 'utf8'))
    const marker = await page.evaluate(() => ((window as unknown as { beforeUpdate: number }).beforeUpdate = Date.now()))
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())!.update())

    const prompt = page.getByRole('alert').filter({ hasText: 'A new version of PixPax is available.' })
    await prompt.waitFor({ timeout: 30_000 }).catch(async (error: unknown) => {
      const state = await page.evaluate(async () => {
        const r = (await navigator.serviceWorker.getRegistration())!
        return { active: r.active?.state, waiting: r.waiting?.state, installing: r.installing?.state }
      })
      throw new Error(`no prompt; service workers: ${JSON.stringify(state)}`, { cause: error })
    })
    // Announced, not applied: the page is the same document, still v1.
    expect(await page.evaluate(() => (window as unknown as { beforeUpdate?: number }).beforeUpdate)).toBe(marker)
    expect(await page.evaluate(() => document.documentElement.dataset.build)).toBe('v1')
    await screenshot(page, '40-update-available')

    await Promise.all([page.waitForEvent('load'), prompt.getByRole('button', { name: 'Update now' }).click()])
    await page.waitForFunction(() => document.documentElement.dataset.build === 'v2')
    expect(await page.evaluate(() => (window as unknown as { beforeUpdate?: number }).beforeUpdate)).toBeUndefined()
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null)
    await expect(page.getByRole('alert').filter({ hasText: 'A new version' }).count()).resolves.toBe(0)
  }, 180_000)
})
