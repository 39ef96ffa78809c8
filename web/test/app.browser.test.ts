/**
 * The built PWA in real Chromium, served by a real relay (Postgres, filesystem store) on one origin:
 * the service worker installs and keeps the shell working offline; a new user creates an identity that
 * reaches the relay; draws a 16×16 piece with the editor's tools and exports a PNG whose pixels are
 * checked; exports an encrypted backup and imports it in a second, fresh browser context.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestRelay } from '../../sync-server/test/support/relay-harness.js'
import { launchChromium, RESULTS_DIR, screenshot, seriousAxeViolations } from './support/browser.js'
import { decodePng } from './support/png-decode.js'
import { startWebRelay } from './support/web-relay.js'

const PASSPHRASE = 'correct horse battery staple'

describe('PixPax web app in Chromium', () => {
  let relay: TestRelay
  let browser: Browser
  let first: BrowserContext
  let page: Page
  let identityId = ''
  let backupPath = ''

  beforeAll(async () => {
    relay = await startWebRelay('webapp')
    browser = await launchChromium()
    first = await browser.newContext({ viewport: { width: 1200, height: 900 } })
    page = await first.newPage()
    page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`))
    page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`))
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    await relay?.close()
  })

  const consoleLines: string[] = []
  const synced = async (p: Page) => {
    try {
      await p.locator('[data-testid=sync-status][data-status=synced]').waitFor({ timeout: 20_000 })
    } catch (error) {
      const badge = await p.getByTestId('sync-status').textContent()
      throw new Error(`not synced (badge: ${badge}); console:\n${consoleLines.join('\n')}`, { cause: error })
    }
  }

  it('first load registers the service worker, which precaches the shell', async () => {
    await page.goto(relay.url)
    await expect(page.locator('h1').textContent()).resolves.toBe('PixPax')
    const active = await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready
      return registration.active?.scriptURL
    })
    expect(active).toBe(`${relay.url}/sw.js`)
    await page.getByText('PixPax is ready to work offline.').waitFor()
    await screenshot(page, '01-home')
    // Figures for docs/web.md (cold load on loopback, no service worker yet): kept with the screenshots.
    const timing = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming
      const js = performance
        .getEntriesByType('resource')
        .filter((r) => r.name.endsWith('.js'))
        .reduce((n, r) => n + (r as PerformanceResourceTiming).encodedBodySize, 0)
      return {
        domContentLoadedMs: Math.round(nav.domContentLoadedEventEnd),
        firstScreenMs: Math.round(performance.getEntriesByName('pixpax:first-screen')[0]?.startTime ?? -1),
        jsBytesTransferred: js,
      }
    })
    expect(timing.firstScreenMs).toBeGreaterThan(0)
    await writeFile(join(RESULTS_DIR, 'load-timing.json'), JSON.stringify(timing, null, 2))
  }, 90_000)

  it('offline, a reload still loads the shell and its screens from the service worker', async () => {
    await first.setOffline(true)
    try {
      await page.reload()
      await expect(page.locator('h1').textContent()).resolves.toBe('PixPax')
      await expect(page.evaluate(() => navigator.onLine)).resolves.toBe(false)
      await page.locator('[data-testid=sync-status][data-status=offline]').waitFor()
      // A lazily loaded screen comes from the precache too.
      await page.getByRole('navigation').getByRole('link', { name: 'Draw' }).click()
      await page.locator('[data-testid=pixel-canvas]').waitFor()
      await screenshot(page, '02-offline-editor')
    } finally {
      await first.setOffline(false)
    }
  }, 90_000)

  it('creates an identity in the browser: signed with the IndexedDB key, accepted by the relay', async () => {
    await page.goto(`${relay.url}/welcome`)
    await page.getByLabel('Display name').fill('Ada')
    await screenshot(page, '03-welcome')
    await page.getByRole('button', { name: 'Create identity' }).click()
    await page.waitForURL(`${relay.url}/identity`)
    identityId = (await page.getByTestId('identity-id').textContent())!
    expect(identityId).toMatch(/^u-[a-z0-9]{16}$/)
    await synced(page)
    const res = await fetch(`${relay.url}/v1/identities/${identityId}`)
    expect(res.status).toBe(200)
    // The private key is a non-extractable CryptoKey: the page itself cannot export it.
    const extractable = await page.evaluate(
      (id) =>
        new Promise<boolean>((resolve, reject) => {
          const open = indexedDB.open('pixpax-keys')
          open.onerror = () => reject(new Error(String(open.error)))
          open.onsuccess = () => {
            const get = open.result.transaction('keys').objectStore('keys').get(id)
            get.onsuccess = () => resolve((get.result as { privateKey: CryptoKey }).privateKey.extractable)
          }
        }),
      identityId,
    )
    expect(extractable).toBe(false)
    await page.getByRole('button', { name: 'Sign in to the relay' }).click()
    await page
      .getByTestId('session')
      .getByText(/^signed in until/)
      .waitFor()
    await screenshot(page, '04-identity')
  }, 90_000)

  it('draws a 16×16 piece with pencil, rectangle, fill, mirror and undo, and exports it as PNG', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Draw' }).click()
    const canvas = page.getByTestId('pixel-canvas')
    await expect(canvas.getAttribute('data-size')).resolves.toBe('16')
    const box = (await canvas.boundingBox())!
    const cell = box.width / 16
    const at = (x: number, y: number) => [box.x + (x + 0.5) * cell, box.y + (y + 0.5) * cell] as const
    const drag = async (from: [number, number], to: [number, number]) => {
      await page.mouse.move(...at(...from))
      await page.mouse.down()
      await page.mouse.move(...at(...to), { steps: 8 })
      await page.mouse.up()
    }
    const pick = (hex: string) => page.locator(`.swatch[data-color="${hex}"]`).click()
    const tool = (id: string) => page.locator(`[data-tool=${id}]`).click()

    await pick('#ff004d')
    await tool('pencil')
    await drag([0, 0], [15, 0]) // top row, red
    await pick('#29adff')
    await tool('rect')
    await drag([2, 2], [6, 6]) // blue outline
    await pick('#ffec27')
    await tool('fill')
    await drag([4, 4], [4, 4]) // yellow inside
    await tool('mirror')
    await pick('#00e436')
    await tool('pencil')
    await drag([1, 10], [1, 10]) // green, mirrored to (14, 10)
    await drag([8, 12], [8, 12]) // a stray pixel…
    await page.keyboard.press('Control+z') // …undone
    await page.keyboard.press('m') // mirror off by shortcut
    await screenshot(page, '05-editor')

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export PNG' }).click()])
    const png = decodePng(await readFile(await download.path()))
    expect([png.width, png.height]).toEqual([16, 16])
    const RED = [0xff, 0x00, 0x4d, 255]
    const BLUE = [0x29, 0xad, 0xff, 255]
    const YELLOW = [0xff, 0xec, 0x27, 255]
    const GREEN = [0x00, 0xe4, 0x36, 255]
    const CLEAR = [0, 0, 0, 0]
    for (let x = 0; x < 16; x++) expect(png.at(x, 0)).toEqual(RED)
    for (const [x, y] of [
      [2, 2],
      [6, 2],
      [2, 6],
      [6, 6],
      [4, 2],
      [2, 4],
    ] as const)
      expect(png.at(x, y)).toEqual(BLUE)
    for (const [x, y] of [
      [3, 3],
      [4, 4],
      [5, 5],
    ] as const)
      expect(png.at(x, y)).toEqual(YELLOW)
    expect(png.at(1, 10)).toEqual(GREEN)
    expect(png.at(14, 10)).toEqual(GREEN)
    expect(png.at(8, 12)).toEqual(CLEAR)
    expect(png.at(7, 7)).toEqual(CLEAR)
    expect(png.at(10, 4)).toEqual(CLEAR)

    await page.getByRole('button', { name: /^Save draft/ }).click()
    await page.getByTestId('editor-status').getByText('Saved').waitFor()
  }, 90_000)

  it('exports an encrypted backup and imports it in a second browser context, which then signs in', async () => {
    await page.getByRole('navigation').getByRole('link', { name: 'Identity' }).click()
    await page.getByLabel(/^Passphrase/).fill(PASSPHRASE)
    await page.getByLabel('Repeat the passphrase').fill(PASSPHRASE)
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export backup' }).click()])
    backupPath = (await download.path())!
    const file = JSON.parse(await readFile(backupPath, 'utf8')) as { identityId: string; kdf: { iterations: number }; ciphertext: string }
    expect(file.identityId).toBe(identityId)
    expect(file.kdf.iterations).toBeGreaterThanOrEqual(310_000)
    await synced(page) // the recovery key (KEY_ADDED) reached the relay

    const second = await browser.newContext({ viewport: { width: 390, height: 844 } }) // phone width
    try {
      const other = await second.newPage()
      await other.goto(`${relay.url}/identity`)
      await other.waitForURL(`${relay.url}/welcome`) // no identity here yet
      await other.getByLabel('Backup file').setInputFiles(backupPath)
      await other.getByLabel('Passphrase').fill('not the passphrase')
      await other.getByRole('button', { name: 'Import identity' }).click()
      await other.getByRole('alert').getByText('wrong passphrase').waitFor()
      await other.getByLabel('Passphrase').fill(PASSPHRASE)
      await other.getByRole('button', { name: 'Import identity' }).click()
      await other.waitForURL(`${relay.url}/identity`)
      await expect(other.getByTestId('identity-id').textContent()).resolves.toBe(identityId)
      await synced(other)
      await other.getByRole('button', { name: 'Sign in to the relay' }).click()
      await other
        .getByTestId('session')
        .getByText(/^signed in until/)
        .waitFor()
      await screenshot(other, '06-imported-identity-phone')
    } finally {
      await second.close()
    }
  }, 90_000)
  it('every screen passes axe-core (WCAG 2.1 A/AA) with no serious or critical violation, in both themes', async () => {
    const found: Record<string, unknown> = {}
    for (const theme of ['dark', 'light'] as const) {
      await page.goto(relay.url)
      await page.evaluate((t) => localStorage.setItem('pixpax.theme', t), theme)
      for (const path of ['/', '/editor', '/identity', '/welcome']) {
        await page.goto(relay.url + path)
        await page.locator('main h1').waitFor()
        expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe(theme)
        const violations = await seriousAxeViolations(page)
        if (violations.length > 0) found[`${theme} ${path}`] = violations
      }
      await screenshot(page, `07-editor-${theme}`)
    }
    expect(found).toEqual({})
  }, 90_000)
})
