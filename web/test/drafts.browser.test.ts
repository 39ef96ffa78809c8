/**
 * Drafts in Automerge, synced through the relay, in real Chromium against the built app on a real relay.
 * One identity on two browsers (two contexts: the second imports the first one's encrypted backup), so
 * what one draws reaches the other only through the relay — they share no storage:
 * - the first screen loads neither Automerge's wasm nor the drafts chunk; the editor loads them;
 * - browser A draws: the piece goes into a draft the relay registered to the identity's pixbook;
 * - browser B lists that draft, opens it with A's pixels, then sees A's next stroke arrive live;
 * - nothing was saved by syncing (no PIXBOOK_SAVE on the relay); B presses Save: the snapshot blob is on
 *   the relay (its SHA-256 is the receipt's snapshotHash) and PIXBOOK_SAVE is accepted in the book.
 */
import { createHash } from 'node:crypto'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestRelay } from '../../sync-server/test/support/relay-harness.js'
import { launchChromium, screenshot } from './support/browser.js'
import { startWebRelay } from './support/web-relay.js'

const RED = [255, 0, 77, 255]
const BLUE = [41, 173, 255, 255]

const PASSPHRASE = 'correct horse battery staple'

describe('drafts synced across two browsers of one identity in Chromium', () => {
  let relay: TestRelay
  let browser: Browser
  let context: BrowserContext
  let a: Page
  let b: Page

  beforeAll(async () => {
    relay = await startWebRelay('webdrafts')
    browser = await launchChromium()
    context = await browser.newContext({ viewport: { width: 1000, height: 900 }, acceptDownloads: true })
    a = await context.newPage()
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    await relay?.close()
  })

  /** The colour of piece pixel (x, y) as drawn on the page's canvas. */
  const pixelOnScreen = (page: Page, x: number, y: number) =>
    page.evaluate(
      ([px, py]) => {
        const canvas = document.querySelector<HTMLCanvasElement>('[data-testid=pixel-canvas]')!
        const cell = canvas.width / Number(canvas.dataset.size)
        return Array.from(canvas.getContext('2d')!.getImageData(Math.floor((px! + 0.5) * cell), Math.floor((py! + 0.5) * cell), 1, 1).data)
      },
      [x, y],
    )

  const waitForPixel = (page: Page, x: number, y: number, rgba: number[]) =>
    page.waitForFunction(
      ([px, py, want]) => {
        const canvas = document.querySelector<HTMLCanvasElement>('[data-testid=pixel-canvas]')
        if (!canvas) return false
        const cell = canvas.width / Number(canvas.dataset.size)
        const got = canvas.getContext('2d')!.getImageData(Math.floor((px + 0.5) * cell), Math.floor((py + 0.5) * cell), 1, 1).data
        return want.every((v, i) => got[i] === v)
      },
      [x, y, rgba] as const,
      { timeout: 20_000 },
    )

  async function draw(page: Page, hex: string, x: number, y: number): Promise<void> {
    await page.locator(`.swatch[data-color="${hex}"]`).click()
    await page.locator('[data-tool=pencil]').click()
    const box = (await page.getByTestId('pixel-canvas').boundingBox())!
    const cell = box.width / 16
    await page.mouse.click(box.x + (x + 0.5) * cell, box.y + (y + 0.5) * cell)
  }

  const saves = async () =>
    (await relay.db.query<{ body: string }>(`SELECT body FROM receipts WHERE type = 'PIXBOOK_SAVE' ORDER BY position`)).rows.map(
      (r) => JSON.parse(r.body) as { payload: { snapshotHash: string; documentUrl: string; heads: string[] } },
    )

  const synced = (page: Page) =>
    page
      .locator('[data-testid=sync-status][data-status=synced]')
      .waitFor({ timeout: 60_000 })
      .catch(async (error: unknown) => {
        throw new Error(`not synced: ${await page.getByTestId('sync-status').textContent()} ${await page.locator('main').textContent()}`, {
          cause: error,
        })
      })

  it('a stroke in one browser reaches the other through the relay; Save signs PIXBOOK_SAVE of the snapshot', async () => {
    const requests: string[] = []
    a.on('request', (r) => requests.push(new URL(r.url()).pathname))
    await a.goto(`${relay.url}/welcome`)
    await a.getByLabel('Display name').fill('Dora')
    await a.getByRole('button', { name: 'Create identity' }).click()
    await a.waitForURL(`${relay.url}/identity`)
    await synced(a)
    // Automerge is not part of the first screens.
    expect(requests.filter((p) => /automerge|synced-drafts/.test(p))).toEqual([])

    // The same identity on a second browser, from an encrypted backup (its recovery key synced first).
    await a.getByRole('navigation').getByRole('link', { name: 'Identity' }).click()
    await a.getByLabel(/^Passphrase/).fill(PASSPHRASE)
    await a.getByLabel('Repeat the passphrase').fill(PASSPHRASE)
    const [download] = await Promise.all([a.waitForEvent('download'), a.getByRole('button', { name: 'Export backup' }).click()])
    const backupPath = await download.path()
    await synced(a)
    b = await (await browser.newContext({ viewport: { width: 1000, height: 900 } })).newPage()
    await b.goto(`${relay.url}/welcome`)
    await b.getByLabel('Backup file').setInputFiles(backupPath)
    await b.getByLabel('Passphrase').fill(PASSPHRASE)
    await b.getByRole('button', { name: 'Import identity' }).click()
    await b.waitForURL(`${relay.url}/identity`)
    await synced(b)
    await a.getByRole('navigation').getByRole('link', { name: 'Draw' }).click()
    await draw(a, '#ff004d', 2, 3)
    await a.locator('section.editor[data-draft-url^="automerge:"]').waitFor({ timeout: 20_000 })
    const documentUrl = (await a.locator('section.editor').getAttribute('data-draft-url'))!
    expect(requests.some((p) => p.endsWith('.wasm'))).toBe(true) // loaded with the editor's drafts

    await b.getByRole('navigation').getByRole('link', { name: 'Draw' }).click()
    const listed = b.getByTestId('synced-drafts').getByRole('button', { name: /^Untitled · 16×16/ })
    await listed.click({ timeout: 20_000 })
    await waitForPixel(b, 2, 3, RED)
    await expect(b.locator('section.editor').getAttribute('data-draft-url')).resolves.toBe(documentUrl)

    // Live: A's next stroke shows up in B without a reload.
    await draw(a, '#29adff', 9, 5)
    await waitForPixel(b, 9, 5, BLUE)
    expect(await pixelOnScreen(b, 2, 3)).toEqual(RED)
    await b.getByTestId('editor-status').getByText('Updated from another device').waitFor()
    await screenshot(b, 'drafts')

    // Syncing is not saving: no receipt, until B presses Save (autosave is off by default).
    expect(await saves()).toEqual([])
    expect(await b.getByRole('checkbox', { name: 'Autosave' }).isChecked()).toBe(false)
    await b.getByRole('button', { name: /^Save draft \*/ }).click()
    await b.getByTestId('editor-status').getByText('PIXBOOK_SAVE signed').waitFor({ timeout: 20_000 })
    await synced(b)
    await expect.poll(async () => (await saves()).length, { timeout: 20_000 }).toBe(1)
    const [save] = await saves()
    expect(save!.payload.documentUrl).toBe(documentUrl)
    const hex = save!.payload.snapshotHash.replace(/^sha256:/, '')
    const blob = await relay.store.get(`pixpax/blobs/sha256/${hex}`)
    expect(blob).toBeDefined()
    expect(createHash('sha256').update(blob!).digest('hex')).toBe(hex)
    await b.getByRole('button', { name: 'Save draft', exact: true }).waitFor() // no unsaved changes left
  }, 180_000)
})
