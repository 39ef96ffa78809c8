/**
 * The social screens in real Chromium against the built app on a real relay (Postgres, filesystem
 * store), two people in two browser contexts:
 * - Ada creates her identity **offline** (IDENTITY_CREATED, ACCOUNT_CREATED and PROFILE_UPDATED queued
 *   together: the sync client's ordering of a new identity's deliveries is exercised), draws a piece and
 *   publishes it offline: it shows as pending in her feed, also after an offline reload;
 * - back online, the upload and the POST_PUBLISHED receipt go out, and the post appears live in Bob's
 *   Recent feed (no reload);
 * - Bob opens the post (art scaled crisp), reacts and comments (pending until acked), follows Ada;
 *   Ada's notifications show both live;
 * - Bob's Following feed, a hashtag feed and search as you type find the post; axe-core passes on every
 *   social screen in both themes.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestRelay } from '../../sync-server/test/support/relay-harness.js'
import { launchChromium, screenshot, seriousAxeViolations } from './support/browser.js'
import { startWebRelay } from './support/web-relay.js'

const TITLE = 'Sunset over pixels'

describe('social screens in Chromium, two people', () => {
  let relay: TestRelay
  let browser: Browser
  let adaContext: BrowserContext
  let bobContext: BrowserContext
  let ada: Page
  let bob: Page
  let adaId = ''
  let postId = ''
  const consoleLines: string[] = []

  beforeAll(async () => {
    // Posts show in Recent without a moderator's approval here (the relay's default asks for one).
    relay = await startWebRelay('websocial', { SOCIAL_REQUIRE_APPROVAL: 'false' })
    browser = await launchChromium()
    adaContext = await browser.newContext({ viewport: { width: 1200, height: 900 } })
    bobContext = await browser.newContext({ viewport: { width: 390, height: 844 } }) // phone width
    ada = await adaContext.newPage()
    bob = await bobContext.newPage()
    for (const [who, page] of [
      ['ada', ada],
      ['bob', bob],
    ] as const) {
      page.on('console', (m) => consoleLines.push(`[${who} ${m.type()}] ${m.text()}`))
      page.on('pageerror', (e) => consoleLines.push(`[${who} pageerror] ${e.message}`))
    }
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    await relay?.close()
  })

  const synced = async (p: Page) => {
    try {
      await p.locator('[data-testid=sync-status][data-status=synced]').waitFor({ timeout: 20_000 })
    } catch (error) {
      const badge = await p.getByTestId('sync-status').textContent()
      throw new Error(`not synced (badge: ${badge}); console:\n${consoleLines.join('\n')}`, { cause: error })
    }
  }
  const nav = (p: Page, name: string) => p.getByRole('navigation').getByRole('link', { name, exact: true }).click()

  it('Bob creates an identity online and watches the Recent feed', async () => {
    await bob.goto(`${relay.url}/welcome`)
    await bob.getByLabel('Display name').fill('Bob')
    await bob.getByLabel('Handle (optional)').fill('bob')
    await bob.getByRole('button', { name: 'Create identity' }).click()
    await bob.waitForURL(`${relay.url}/identity`)
    await synced(bob)
    expect((await fetch(`${relay.url}/v1/profiles/by-handle/bob`)).status).toBe(200)
    await nav(bob, 'Feed')
    await bob.getByText('No posts here yet.').waitFor()
  }, 90_000)

  it('Ada, offline from the start, creates an identity, draws and publishes: pending, also after an offline reload', async () => {
    await ada.goto(relay.url)
    await ada.getByText('PixPax is ready to work offline.').waitFor() // the service worker is active
    await adaContext.setOffline(true)
    await ada.goto(`${relay.url}/welcome`)
    await ada.getByLabel('Display name').fill('Ada')
    await ada.getByLabel('Handle (optional)').fill('ada')
    await ada.getByRole('button', { name: 'Create identity' }).click()
    await ada.waitForURL(`${relay.url}/identity`)
    adaId = (await ada.getByTestId('identity-id').textContent())!
    await ada.locator('[data-testid=sync-status][data-status=offline]').waitFor()

    await nav(ada, 'Draw')
    const canvas = ada.getByTestId('pixel-canvas')
    const box = (await canvas.boundingBox())!
    const cell = box.width / 16
    await ada.locator('.swatch[data-color="#ff004d"]').click()
    await ada.locator('[data-tool=rect]').click()
    await ada.mouse.move(box.x + 2.5 * cell, box.y + 2.5 * cell)
    await ada.mouse.down()
    await ada.mouse.move(box.x + 12.5 * cell, box.y + 12.5 * cell, { steps: 6 })
    await ada.mouse.up()
    await ada.getByLabel('Name').fill(TITLE)
    await ada.getByLabel('Hashtags').fill('#Sunset pixelart')
    await ada.getByRole('button', { name: 'Publish', exact: true }).click()
    await ada.getByTestId('publish-status').getByText('Queued: it is published when you are online.').waitFor()

    await nav(ada, 'Feed')
    const pending = ada.getByTestId('pending-publication')
    await pending.getByText(TITLE).waitFor()
    await pending.getByText(/^Pending/).waitFor()
    // Offline reload: the shell comes from the service worker, the publication from IndexedDB.
    await ada.reload()
    await ada.getByTestId('pending-publication').getByText(TITLE).waitFor()
    expect(await ada.evaluate(() => navigator.onLine)).toBe(false)
    await screenshot(ada, '11-feed-pending-offline')
    // Nothing reached the relay.
    expect((await fetch(`${relay.url}/v1/identities/${adaId}`)).status).toBe(404)
  }, 90_000)

  it('back online, the post goes out and appears live in Bob’s Recent feed', async () => {
    await adaContext.setOffline(false)
    await synced(ada)
    await ada.getByTestId('feed').locator('article:not(.pending)').getByText(TITLE).waitFor({ timeout: 20_000 })
    expect(await ada.getByTestId('pending-publication').count()).toBe(0)
    // Bob's screen was not reloaded: the feed refreshed when the relay's log grew.
    const card = bob.getByTestId('feed').locator('article').filter({ hasText: TITLE })
    await card.waitFor({ timeout: 20_000 })
    await card.getByText('by Ada').waitFor()
    await screenshot(bob, '12-recent-feed-live-phone')
    const href = await card.getByRole('link', { name: TITLE, exact: true }).getAttribute('href')
    postId = href!.replace('/post/', '')
    expect(postId).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/)
  }, 90_000)

  it('Bob reacts, comments and follows; Ada sees the notifications arrive live', async () => {
    await nav(ada, 'Notifications')
    await ada.getByText('Nothing yet.').waitFor()

    await bob.getByTestId('feed').getByRole('link', { name: TITLE, exact: true }).click()
    await bob.waitForURL(`${relay.url}/post/${postId}`)
    await bob.getByRole('heading', { level: 1, name: TITLE }).waitFor()
    // Crisp: a whole-number scale of 16 pixels, never smoothed.
    const art = bob.locator('.art-frame img')
    const [width, rendering] = await art.evaluate((img) => [(img as HTMLImageElement).width, getComputedStyle(img).imageRendering])
    expect(width % 16).toBe(0)
    expect(rendering).toBe('pixelated')

    const heart = bob.getByRole('button', { name: /^❤️/ })
    await heart.click()
    // The press shows once the reaction is signed and stored locally: wait for it, do not read it at once.
    await bob.getByRole('button', { name: /^❤️/, pressed: true }).waitFor()
    await bob.getByTestId('count-❤️').getByText('1').waitFor()
    await bob.getByLabel('Comment', { exact: true }).fill('Lovely colours')
    await bob.getByRole('button', { name: 'Post comment' }).click()
    await bob.getByTestId('comments').getByText('Lovely colours').waitFor()
    await bob.getByRole('button', { name: 'Follow', exact: true }).first().click()
    await bob
      .getByRole('button', { name: /^Following/ })
      .first()
      .waitFor()
    await synced(bob)
    // Once acked, the comment is the relay's (no pending mark left).
    await bob.locator('.comment:not(.pending)').getByText('Lovely colours').waitFor({ timeout: 20_000 })
    await screenshot(bob, '13-post-phone')

    const list = ada.getByTestId('notifications')
    await list.locator('li[data-kind=reaction]').waitFor({ timeout: 20_000 })
    await list.locator('li[data-kind=comment]').waitFor({ timeout: 20_000 })
    await list.locator('li[data-kind=follow]').getByText('@bob').waitFor({ timeout: 20_000 })
    await screenshot(ada, '14-notifications')
  }, 90_000)

  it('Following, hashtag and profile feeds, and search as you type, find the post', async () => {
    await nav(bob, 'Feed')
    await bob.getByRole('button', { name: 'Following' }).click()
    await bob.getByTestId('feed').getByText(TITLE).waitFor()
    await bob.getByRole('textbox', { name: 'Hashtag' }).fill('#sunset')
    await bob.getByRole('button', { name: 'Open' }).click()
    await bob.waitForURL(`${relay.url}/tag/sunset`)
    await bob.getByTestId('feed').getByText(TITLE).waitFor()

    await nav(bob, 'Search')
    await bob.getByLabel('Search', { exact: true }).pressSequentially('sunse', { delay: 30 })
    await bob.getByTestId('search-results').getByText(TITLE).waitFor()
    await bob.getByRole('button', { name: 'People' }).click()
    await bob.getByLabel('Search', { exact: true }).fill('ada')
    await bob.getByTestId('search-results').getByRole('link', { name: /@ada/ }).click()
    await bob.waitForURL(`${relay.url}/u/${adaId}`)
    await bob.getByTestId('followers').getByText('1').waitFor()
    await bob.getByText(TITLE).waitFor()
    await screenshot(bob, '15-profile-phone')
  }, 90_000)

  it('the social screens pass axe-core (WCAG 2.1 A/AA) in both themes', async () => {
    const found: Record<string, unknown> = {}
    for (const theme of ['dark', 'light'] as const) {
      await bob.evaluate((t) => localStorage.setItem('pixpax.theme', t), theme)
      for (const path of ['/feed', `/post/${postId}`, '/search', '/notifications', `/u/${adaId}`, '/tag/sunset', '/editor']) {
        await bob.goto(relay.url + path)
        await bob.locator('main h1').waitFor()
        await bob.locator('main [aria-busy=true]').waitFor({ state: 'detached' })
        const violations = await seriousAxeViolations(bob)
        if (violations.length > 0) found[`${theme} ${path}`] = violations
      }
    }
    await screenshot(bob, '16-editor-publish-light-phone')
    expect(found).toEqual({})
  }, 120_000)
})
