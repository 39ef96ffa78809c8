/**
 * The pixbook in real Chromium against the built app on a real relay with an issuer, a collection of
 * six cards and this week's drop (sync-server's economy fixtures): a new user creates a book (a signed
 * PIXBOOK_CREATED), claims the week's pack and opens it; once the drop's seed is revealed (the screen
 * learns it live), "Verify this pack" recomputes it in the page — commitment, ticket, pack id, cards —
 * and every step is green. The book shows the cards and the completion bars; axe-core passes.
 */
import { isoWeekDropId } from '@pixpax/shared'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ECONOMY_ENV, economyWorld, ISSUER_ID, postAs, type EconomyWorld } from '../../sync-server/test/support/economy-fixtures.js'
import type { TestRelay } from '../../sync-server/test/support/relay-harness.js'
import { launchChromium, screenshot, seriousAxeViolations } from './support/browser.js'
import { startWebRelay } from './support/web-relay.js'

describe('pixbook in Chromium', () => {
  let relay: TestRelay
  let world: EconomyWorld
  let browser: Browser
  let page: Page
  const dropId = isoWeekDropId(new Date())

  beforeAll(async () => {
    relay = await startWebRelay('webpixbook', ECONOMY_ENV)
    world = await economyWorld(
      relay,
      Array.from({ length: 6 }, (_, i) => ({ cardId: `c${i}`, seriesId: 's1', supply: null })),
    )
    const scheduled = await postAs(`${relay.url}/v1/drops`, world.adminToken, {
      issuerId: ISSUER_ID,
      collectionId: world.collectionId,
      dropId,
      packSize: 5,
      opensAt: new Date(Date.now() - 60_000).toISOString(),
    })
    expect(scheduled.status, scheduled.text).toBe(200)
    browser = await launchChromium()
    page = await (await browser.newContext({ viewport: { width: 1000, height: 900 } })).newPage()
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    await relay?.close()
  })

  it('creates a book, claims and opens the week’s pack, and verifies it from the revealed seed', async () => {
    await page.goto(`${relay.url}/welcome`)
    await page.getByLabel('Display name').fill('Cleo')
    await page.getByRole('button', { name: 'Create identity' }).click()
    await page.waitForURL(`${relay.url}/identity`)
    await page.getByRole('navigation').getByRole('link', { name: 'Pixbook' }).click()
    await page.getByRole('button', { name: 'Create my pixbook' }).click()
    await page
      .locator('[data-testid=sync-status][data-status=synced]')
      // A new identity's first connection has no session; the app reconnects with one (slow in CI).
      .waitFor({ timeout: 60_000 })
      .catch(async (error: unknown) => {
        throw new Error(`not synced: ${await page.getByTestId('sync-status').textContent()} ${await page.locator('main').textContent()}`, {
          cause: error,
        })
      })
    // Enabled once the book is on the relay (its PIXBOOK_CREATED verified back into the local log).
    await page.locator('button:enabled', { hasText: "Claim this week's pack" }).click({ timeout: 20_000 })
    const cards = page.getByTestId('pack').locator('li')
    await cards.nth(4).waitFor()
    expect(await cards.count()).toBe(5)
    await screenshot(page, '31-pack-opened')

    const verify = page.getByRole('button', { name: 'Verify this pack' })
    expect(await verify.isDisabled()).toBe(true) // the seed is still secret
    expect((await postAs(`${relay.url}/v1/drops/${dropId}/reveal`, world.adminToken)).status).toBe(200)
    // The screen learns of the reveal live (the relay's log grew), no reload.
    await page.locator('button:enabled', { hasText: 'Verify this pack' }).click({ timeout: 20_000 })
    const checks = page.getByTestId('pack-checks')
    await checks.waitFor()
    expect(await checks.locator('li').count()).toBe(4)
    expect(await checks.locator('li[data-ok=false]').count()).toBe(0)
    await expect(checks.getAttribute('data-ok')).resolves.toBe('true')

    await page.getByTestId('book-cards').locator('li').nth(4).waitFor()
    await expect(page.locator('progress').first().getAttribute('value')).resolves.toBe('5')
    await screenshot(page, '32-pack-verified')
    expect(await seriousAxeViolations(page)).toEqual([])
  }, 120_000)
})
