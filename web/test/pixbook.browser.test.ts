/**
 * The pixbook in real Chromium against the built app on a real relay with an issuer, a collection of
 * six cards and this week's drop (sync-server's economy fixtures): a new user creates a book (a signed
 * PIXBOOK_CREATED), claims the week's pack and opens it; once the drop's seed is revealed (the screen
 * learns it live), "Verify this pack" recomputes it in the page — commitment, ticket, pack id, cards —
 * and every step is green. The book shows the cards and the completion bars; axe-core passes.
 *
 * Then a printed code (minted by the admin as sync-server's economy-codes test does) is pasted and
 * redeemed into the book; a second collector in another browser context gets a card offered by the first
 * (book address pasted), accepts it, and both books show the move — computed in each page from its local
 * log and the verified counterpart receipts, so the second book still renders after an offline reload.
 * An offer made offline shows pending at once, goes out once online, and is cancelled.
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

  /** Cards held, summed from the book's "×N" counts. */
  const held = async (p: Page): Promise<number> =>
    (await p.getByTestId('book-cards').locator('li').allTextContents()).reduce((n, t) => n + Number(/×(\d+)/.exec(t)?.[1] ?? 0), 0)

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

  it('redeems a printed code pasted into the code field', async () => {
    const minted = await postAs<{ codes: Array<{ token: string; packId: string }> }>(`${relay.url}/v1/codes`, world.adminToken, {
      issuerId: ISSUER_ID,
      collectionId: world.collectionId,
      kind: 'pack',
      cards: 3,
    })
    expect(minted.status, minted.text).toBe(200)
    const { token, packId } = minted.json.codes[0]!
    await page.getByLabel('Code', { exact: true }).fill(token)
    await page.getByRole('button', { name: 'Redeem code' }).click()
    // The pack arrives in the book's stream (verified into the local log) and the book grows by 3.
    await page.getByTestId('pack-history').getByText('printed code', { exact: false }).waitFor({ timeout: 20_000 })
    await expect.poll(() => held(page), { timeout: 20_000 }).toBe(8)
    expect(packId.startsWith('pc')).toBe(true)
    await screenshot(page, 'pixbook-code')
    // Once only: the same code again is refused with the relay's reason, nothing changes.
    await page.getByLabel('Code', { exact: true }).fill(token)
    await page.getByRole('button', { name: 'Redeem code' }).click()
    await page
      .getByRole('alert')
      .getByText(/already redeemed/i)
      .waitFor()
    expect(await held(page)).toBe(8)
  }, 90_000)

  it('a trade between two browser contexts completes, and the book renders offline', async () => {
    const otherContext = await browser.newContext({ viewport: { width: 1000, height: 900 } })
    const dan = await otherContext.newPage()
    await dan.goto(`${relay.url}/welcome`)
    await dan.getByLabel('Display name').fill('Dan')
    await dan.getByRole('button', { name: 'Create identity' }).click()
    await dan.waitForURL(`${relay.url}/identity`)
    await dan.getByRole('navigation').getByRole('link', { name: 'Pixbook' }).click()
    await dan.getByRole('button', { name: 'Create my pixbook' }).click()
    const address = (await dan.getByTestId('book-address').textContent({ timeout: 60_000 }))!
    expect(address).toMatch(/^a-[a-z0-9]+\/main$/)

    // Cleo offers a card (the form's first pick: a spare if she has one) to Dan's book, as a gift.
    const offered = await page.getByLabel('Card to offer').inputValue()
    await page.getByLabel("Recipient's book address").fill(address)
    await page.getByRole('button', { name: 'Offer card' }).click()
    await page.getByTestId('trade-outbox').locator('li[data-state=open]').waitFor({ timeout: 20_000 })

    // Dan's inbox shows it live (his page fetched and verified the offer); he accepts.
    const offer = dan.getByTestId('trade-inbox').locator('li[data-state=open]')
    await offer.getByText(offered).first().waitFor({ timeout: 30_000 })
    await offer.getByRole('button', { name: 'Accept' }).click()
    await dan.getByTestId('trade-history').locator('li[data-state=accepted]').waitFor({ timeout: 30_000 })
    await expect.poll(() => held(dan), { timeout: 30_000 }).toBe(1)
    await dan.getByTestId('book-cards').locator('button').first().click()
    await dan.getByTestId('card-detail').getByText(offered).first().waitFor()

    // Cleo's book learns of the acceptance: the card left it, the trade is in her history.
    await page.getByTestId('trade-history').locator('li[data-state=accepted]').waitFor({ timeout: 30_000 })
    await expect.poll(() => held(page), { timeout: 30_000 }).toBe(7)
    await screenshot(page, 'pixbook-trade')

    // Offline, an offer is signed and shown pending at once; online it goes out, and Cleo cancels it.
    // (An emulated offline context keeps an open WebSocket: reload, so the app really has no relay.)
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined))
    await page.context().setOffline(true)
    await page.reload()
    await page.locator('[data-testid=sync-status][data-status=offline]').waitFor()
    await page.getByLabel("Recipient's book address").fill(address)
    await page.getByRole('button', { name: 'Offer card' }).click()
    await page
      .getByTestId('book-pending')
      .locator('li[data-state=queued]')
      .getByText(/^offer of trade .*: pending$/)
      .waitFor()
    expect(await page.getByTestId('trade-outbox').count()).toBe(0)
    await page.context().setOffline(false)
    const second = page.getByTestId('trade-outbox').locator('li[data-state=open]')
    await second.getByRole('button', { name: 'Cancel offer' }).click({ timeout: 30_000 })
    await page.getByTestId('trade-history').locator('li[data-state=cancelled]').waitFor({ timeout: 30_000 })
    await page.getByTestId('book-pending').waitFor({ state: 'detached', timeout: 30_000 })

    // Offline, a reload still shows Dan's book: computed from his local log and the kept counterparts.
    await dan.evaluate(() => navigator.serviceWorker.ready.then(() => undefined))
    await otherContext.setOffline(true)
    try {
      await dan.reload()
      await dan
        .getByTestId('book-stale')
        .getByText(/offline/)
        .waitFor()
      await expect.poll(() => held(dan), { timeout: 20_000 }).toBe(1)
      await dan.getByTestId('trade-history').locator('li[data-state=accepted]').getByText(offered).first().waitFor()
      await screenshot(dan, 'pixbook-offline')
    } finally {
      await otherContext.setOffline(false)
      await otherContext.close()
    }
  }, 180_000)
})
