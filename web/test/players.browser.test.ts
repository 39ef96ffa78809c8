/**
 * Players in real Chromium at phone width, against the built app on a real relay and a real player
 * process (player-agent's main.ts with the PNG display): the owner creates an identity and publishes a
 * piece (the player's default channel is its owner's posts), types the code
 * the player printed, sees the player listed and online, presses Next — a DEVICE_COMMAND signed in the
 * page — and sees the player's own answer (its DEVICE_COMMAND_ACK, verified) next to the command,
 * the same answer the player printed; the card shows the artwork on the player's screen, and "Show on
 * player" of that post is obeyed, and so is "Play playlist" of a playlist made on the screen. axe-core
 * passes on the screen. Renaming shows the new name;
 * removing unpairs it (the player prints `unpaired` and a new code).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPlayer, type PlayerProcess } from '../../player-agent/test/support/player-process.js'
import type { TestRelay } from '../../sync-server/test/support/relay-harness.js'
import { launchChromium, screenshot, seriousAxeViolations } from './support/browser.js'
import { startWebRelay } from './support/web-relay.js'

const CODE = /^PAIRING CODE: ([23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6})$/

describe('players in Chromium', () => {
  let relay: TestRelay
  let browser: Browser
  let page: Page
  let player: PlayerProcess | undefined
  let root = ''
  const consoleLines: string[] = []

  beforeAll(async () => {
    relay = await startWebRelay('webplayers')
    root = await mkdtemp(join(tmpdir(), 'pixpax-webplayer-'))
    browser = await launchChromium()
    page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage() // phone width
    page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`))
    page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`))
  }, 180_000)

  afterAll(async () => {
    await player?.kill()
    await browser?.close()
    await relay?.close()
    if (root) await rm(root, { recursive: true, force: true })
  })

  it('pairs a player by its code, sees it online, sends Next and shows the player’s ack', async () => {
    await page.goto(`${relay.url}/welcome`)
    await page.getByLabel('Display name').fill('Pia')
    await page.getByRole('button', { name: 'Create identity' }).click()
    await page.waitForURL(`${relay.url}/identity`)
    await page
      .locator('[data-testid=sync-status][data-status=synced]')
      .waitFor({ timeout: 60_000 })
      .catch((error: unknown) => {
        throw new Error(`not synced; console:\n${consoleLines.join('\n')}`, { cause: error })
      })

    // One post of Pia's: the player's default channel is its owner's posts.
    await page.getByRole('navigation').getByRole('link', { name: 'Draw' }).click()
    const canvas = page.getByTestId('pixel-canvas')
    await page.locator('.swatch[data-color="#ff004d"]').click()
    await page.locator('[data-tool=rect]').click()
    // Measured after the clicks: at phone width they scroll the page.
    await canvas.scrollIntoViewIfNeeded()
    const box = (await canvas.boundingBox())!
    const cell = box.width / 16
    await page.mouse.move(box.x + 2.5 * cell, box.y + 2.5 * cell)
    await page.mouse.down()
    await page.mouse.move(box.x + 12.5 * cell, box.y + 12.5 * cell, { steps: 4 })
    await page.mouse.up()
    await page.getByLabel('Name').fill('Sunrise')
    await page.getByRole('button', { name: 'Publish', exact: true }).click()
    await page
      .getByTestId('publish-status')
      .getByText(/^Publishing/)
      .waitFor()

    player = startPlayer({
      RELAY_URL: relay.url,
      PLAYER_DIR: join(root, 'p1'),
      PLAYER_POLL_MS: '100',
      PLAYER_HEARTBEAT_SECONDS: '1',
    })
    const [, code] = await player.waitFor(CODE)
    const [, deviceId] = await player.waitFor(/^identity: (dev-[0-9a-f]{20})$/)

    await page.getByRole('navigation').getByRole('link', { name: 'Players' }).click()
    await page.getByRole('heading', { level: 1, name: 'Players' }).waitFor()
    await page.getByText('No players yet: pair one above.').waitFor()
    await page.getByLabel('Pairing code').fill(code!.toLowerCase())
    await page.getByLabel('Name').fill('Kitchen')
    await page.getByRole('button', { name: 'Pair player' }).click()
    await page.getByRole('status').getByText('Paired Kitchen.').waitFor()
    await player.waitFor(/^paired$/)

    const [, showing] = await player.waitFor(/^showing (sha256:[0-9a-f]{64})$/, 0, 60_000)

    const card = page.locator(`[data-testid=player][data-device="${deviceId}"]`)
    await card.getByRole('heading', { name: 'Kitchen' }).waitFor()
    // Online once a heartbeat of the paired player is on the relay (the screen polls and listens).
    await card.locator('[data-testid=player-status][data-online=true]').waitFor({ timeout: 30_000 })
    await card.getByText(/png display, up to 256×256/).waitFor()
    // Only the controls its capabilities allow: the PNG display declares no brightness, rotation or mirror.
    expect(await card.getByRole('button', { name: 'Set brightness' }).count()).toBe(0)
    expect(await card.getByRole('button', { name: 'Rotate' }).count()).toBe(0)
    expect(await card.getByRole('button', { name: 'Mirror on' }).count()).toBe(0)

    const from = player.lines.length
    await card.getByRole('group', { name: 'Remote control of Kitchen' }).getByRole('button', { name: /Next/ }).click()
    const [, eventId, result] = await player.waitFor(/^command ([0-9A-HJKMNP-TV-Z]{26}) next (done|unsupported|refused)$/, from)
    expect(result).toBe('done') // an owner's command, verified and obeyed
    // The page shows the same answer, read from the player's verified stream.
    const entry = card.getByTestId('command-log').locator(`li[data-command=next][data-result=${result}]`)
    await entry.waitFor({ timeout: 30_000 }).catch((error: unknown) => {
      throw new Error(`no ack for ${eventId} shown; console:\n${consoleLines.join('\n')}`, { cause: error })
    })
    await entry.getByText(result!, { exact: true }).waitFor()
    // What it shows, live from its heartbeats; then send it that artwork by name.
    await card.locator(`img.player-art[src$="${showing!.slice(7)}"]`).waitFor({ timeout: 30_000 })
    await card.getByLabel('Artwork').selectOption({ label: 'Sunrise' })
    await card.getByRole('button', { name: 'Show on player' }).click()
    await card.getByTestId('command-log').locator('li[data-command=show][data-result=done]').waitFor({ timeout: 30_000 })
    await player.waitFor(/^command [0-9A-HJKMNP-TV-Z]{26} show done$/, from)
    // A playlist of my posts (PLAYLIST_CREATED signed here), listed once verified back, then played.
    await card.getByRole('button', { name: 'New playlist of my posts' }).click()
    await card
      .getByLabel('Playlist')
      .locator('option', { hasText: /^My posts/ })
      .waitFor({ state: 'attached', timeout: 30_000 })
    await card.getByLabel('Playlist').selectOption({ index: 1 })
    await card.getByRole('button', { name: 'Play playlist' }).click()
    const [, playlistChannel] = await player.waitFor(/^channel (playlist:u-[a-z0-9]{16}\/pl-[a-z0-9]+)$/, from, 30_000)
    await card.getByTestId('command-log').locator('li[data-command=play-playlist][data-result=done]').waitFor({ timeout: 30_000 })
    expect(playlistChannel).toContain(
      await page.evaluate(() => (JSON.parse(localStorage.getItem('pixpax.identity')!) as { identityId: string }).identityId),
    )
    await screenshot(page, 'players')
    expect(await seriousAxeViolations(page)).toEqual([])
    // And in the other theme.
    const theme = await page.evaluate(() => document.documentElement.dataset.theme)
    await page.getByRole('button', { name: /^Switch to (light|dark) theme$/ }).click()
    await page.waitForFunction((was) => document.documentElement.dataset.theme !== was, theme)
    expect(await seriousAxeViolations(page)).toEqual([])

    // Rename, then remove: the player learns it is unpaired and shows a new code.
    await card.getByText('Rename or remove').click()
    await card.getByLabel('New name').fill('Hall')
    await card.getByRole('button', { name: 'Rename', exact: true }).click()
    await card.getByRole('heading', { name: 'Hall' }).waitFor()
    const beforeRemove = player.lines.length
    await card.getByRole('button', { name: 'Remove Hall' }).click()
    await page.getByText('No players yet: pair one above.').waitFor()
    await player.waitFor(/^unpaired$/, beforeRemove)
    await player.waitFor(CODE, beforeRemove)
  }, 180_000)
})
