/**
 * The moderators' report queue in real Chromium against the built app on a real relay (MODERATORS lists
 * `web-mod`): Ann's post (signed in Node by the test kit) is in the Recent feed; Rita, a new user in one
 * browser context, reports it from the post page; the moderator, who brought her identity to another
 * context from a backup file, sees the report in her queue (the Moderation link only shows for her) and
 * takes the post down — two receipts in her moderation stream — after which the post is gone from the
 * feed and the report is resolved. A person's navigation has no Moderation link, and the queue route
 * refuses her.
 */
import { identityCreated, newIdentity, StreamWriter } from '@pixpax/shared/testing'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sealBackup } from '../src/identity/backup.js'
import { appendOk, appendVia, type TestRelay } from '../../sync-server/test/support/relay-harness.js'
import { launchChromium, screenshot, seriousAxeViolations } from './support/browser.js'
import { startWebRelay } from './support/web-relay.js'

const MEDIA = { hash: 'sha256:' + 'ce'.repeat(32), mime: 'image/png' as const, width: 16, height: 16, frames: 1 }
const TITLE = 'Definitely not spam'

describe('moderation in Chromium', () => {
  let relay: TestRelay
  let browser: Browser
  let rita: Page
  let mod: Page
  let postId: string
  const moderator = newIdentity('acc-web-mod', 'moderator', 'web-mod')

  const recentTitles = async (): Promise<string[]> =>
    ((await (await fetch(`${relay.url}/v1/feeds/recent`)).json()) as { items: Array<{ title: string }> }).items.map((p) => p.title)

  beforeAll(async () => {
    relay = await startWebRelay('webmod', { MODERATORS: moderator.identityId, SOCIAL_REQUIRE_APPROVAL: 'false' })
    const ann = newIdentity('acc-web-ann', 'person', 'web-ann')
    await appendOk(relay.url, [await identityCreated(ann), await identityCreated(moderator, 'Mo')])
    // What the media module records once it has validated an upload (the art itself is not needed here).
    await relay.db.query(
      `INSERT INTO media_blobs (hash, mime, width, height, frames, unique_colors, transparent, byte_size, uploaded_by, uploaded_at, status)
       VALUES ($1, 'image/png', 16, 16, 1, 4, false, 100, 'web-ann', '2026-12-01T00:00:00.000Z', 'ok')`,
      [MEDIA.hash],
    )
    const profile = new StreamWriter({ type: 'profile', identityId: ann.identityId })
    await appendVia(relay.url, profile, await profile.build('PROFILE_UPDATED', { handle: 'ann' }, ann))
    const post = await profile.build('POST_PUBLISHED', { title: TITLE, media: MEDIA }, ann)
    await appendVia(relay.url, profile, post)
    postId = post.eventId
    expect(await recentTitles()).toContain(TITLE)

    browser = await launchChromium()
    rita = await (await browser.newContext({ viewport: { width: 1000, height: 900 } })).newPage()
    mod = await (await browser.newContext({ viewport: { width: 1000, height: 900 } })).newPage()
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    await relay?.close()
  })

  const synced = (p: Page) => p.locator('[data-testid=sync-status][data-status=synced]').waitFor({ timeout: 60_000 })

  it('a report filed by one user appears in the moderator’s queue; a takedown hides the post from the feed', async () => {
    // Rita reports the post.
    await rita.goto(`${relay.url}/welcome`)
    await rita.getByLabel('Display name').fill('Rita')
    await rita.getByRole('button', { name: 'Create identity' }).click()
    await rita.waitForURL(`${relay.url}/identity`)
    await synced(rita)
    expect(await rita.getByRole('navigation').getByRole('link', { name: 'Moderation' }).count()).toBe(0)
    await rita.goto(`${relay.url}/post/${postId}`)
    await rita.getByText('Report this post').click()
    await rita.getByLabel('Reason').selectOption('spam')
    await rita.getByLabel('Note (optional)').fill('sells pixels')
    await rita.getByRole('button', { name: 'Send report' }).click()
    await rita.getByText('Reported. A moderator will look at it.').waitFor()
    await synced(rita)

    // The moderator brings her identity from a backup file.
    const file = await sealBackup(
      { identityId: moderator.identityId, accountId: moderator.accountId, displayName: 'Mo', privateKey: moderator.jwk },
      'moderator passphrase',
    )
    await mod.goto(`${relay.url}/welcome`)
    await mod
      .getByLabel('Backup file')
      .setInputFiles({ name: 'mo.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(file)) })
    await mod.getByLabel('Passphrase').fill('moderator passphrase')
    await mod.getByRole('button', { name: 'Import identity' }).click()
    await mod.getByRole('navigation').getByRole('link', { name: 'Moderation' }).click({ timeout: 60_000 })

    const report = mod.getByTestId('report-queue').locator(`li[data-target="${postId}"]`)
    await report.getByText('sells pixels').waitFor({ timeout: 30_000 })
    await screenshot(mod, 'moderation')
    expect(await seriousAxeViolations(mod)).toEqual([])
    await report.getByRole('button', { name: 'Take down' }).click()
    // Gone from the open queue once the relay accepted the takedown and the resolution.
    await report.waitFor({ state: 'detached', timeout: 30_000 })
    await expect.poll(recentTitles, { timeout: 20_000 }).not.toContain(TITLE)
    await mod.getByRole('button', { name: 'Resolved' }).click()
    await mod.getByTestId('report-queue').locator(`li[data-target="${postId}"]`).getByText('Resolved: taken down').waitFor()

    // Rita's Recent feed no longer shows it.
    await rita.goto(`${relay.url}/feed`)
    await rita.locator('[data-testid=feed][aria-busy=false]').waitFor({ state: 'attached' })
    expect(await rita.getByTestId('feed').getByText(TITLE).count()).toBe(0)
    // Not a moderator: the queue page says so (the relay answered 403).
    await rita.goto(`${relay.url}/moderation`)
    await rita.getByText('Only the moderators of this relay see the report queue.').waitFor()
  }, 180_000)
})
