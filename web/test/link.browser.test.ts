/**
 * Device linking in real Chromium, two browser contexts (two "browsers"): Ada's signed-in browser shows a
 * link code; the new browser types it, makes its own non-extractable key and shows that key's
 * fingerprint (still after a reload); Ada's browser shows the same fingerprint and approves (KEY_ADDED signed there). The new
 * browser becomes Ada's identity with its own key, and a reaction it signs is accepted by the relay
 * under Ada's identity with the new key. A used code is refused with the reason.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newOwner, solidPng } from '../../player-agent/test/support/owner.js'
import { fetchStreamJson, type TestRelay } from '../../sync-server/test/support/relay-harness.js'
import { launchChromium, screenshot, seriousAxeViolations } from './support/browser.js'
import { startWebRelay } from './support/web-relay.js'

describe('linking a second browser', () => {
  let relay: TestRelay
  let browser: Browser
  let first: Page
  let second: Page
  const consoleLines: string[] = []

  beforeAll(async () => {
    relay = await startWebRelay('weblink', { SOCIAL_REQUIRE_APPROVAL: 'false' })
    browser = await launchChromium()
    const contexts: BrowserContext[] = [
      await browser.newContext({ viewport: { width: 1000, height: 900 } }),
      await browser.newContext({ viewport: { width: 390, height: 844 } }),
    ]
    first = await contexts[0]!.newPage()
    second = await contexts[1]!.newPage()
    for (const [who, page] of [
      ['first', first],
      ['second', second],
    ] as const) {
      page.on('console', (m) => consoleLines.push(`[${who} ${m.type()}] ${m.text()}`))
      page.on('pageerror', (e) => consoleLines.push(`[${who} pageerror] ${e.message}`))
    }
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    await relay?.close()
  })

  const synced = (p: Page) =>
    p
      .locator('[data-testid=sync-status][data-status=synced]')
      .waitFor({ timeout: 60_000 })
      .catch((error: unknown) => {
        throw new Error(`not synced; console:\n${consoleLines.join('\n')}`, { cause: error })
      })

  it('links by a code and fingerprint; the second browser then reacts as the same identity with its own key', async () => {
    await first.goto(`${relay.url}/welcome`)
    await first.getByLabel('Display name').fill('Ada')
    await first.getByRole('button', { name: 'Create identity' }).click()
    await first.waitForURL(`${relay.url}/identity`)
    const identityId = (await first.getByTestId('identity-id').textContent())!
    const firstKey = await first.locator('.facts code').textContent()
    await synced(first)

    await first.getByRole('button', { name: 'Show a link code' }).click()
    const code = (await first.getByTestId('link-code').textContent())!
    expect(code).toMatch(/^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$/)

    await second.goto(`${relay.url}/welcome`)
    // A mistyped code: the relay's reason is shown, and the form can be used again.
    await second.getByLabel('Link code').fill(code === 'ZZZZZZ' ? 'YYYYYY' : 'ZZZZZZ')
    await second.getByRole('button', { name: 'Link this browser' }).click()
    await second
      .getByRole('alert')
      .getByText(/no such link code: it is mistyped or replaced/)
      .waitFor()
    await second.getByLabel('Link code').fill(code.toLowerCase())
    await second.getByRole('button', { name: 'Link this browser' }).click()
    const fingerprint = (await second.getByTestId('my-fingerprint').textContent())!
    expect(fingerprint).toMatch(/^[0-9A-F]{4} [0-9A-F]{4} [0-9A-F]{4}$/)
    // A reload while waiting resumes the wait with the same key.
    await second.reload()
    expect(await second.getByTestId('my-fingerprint').textContent()).toBe(fingerprint)

    // The first browser shows the same fingerprint; the person compares and approves.
    const request = first.getByTestId('link-requests').locator('li', { hasText: fingerprint })
    await request.waitFor({ timeout: 20_000 })
    await screenshot(first, 'link-approve')
    expect(await seriousAxeViolations(first)).toEqual([])
    await request.getByRole('button', { name: `Approve the key ${fingerprint}` }).click()
    await request.getByText('added to this identity').waitFor({ timeout: 30_000 })

    // The second browser is now the same identity, with its own key.
    await second.waitForURL(`${relay.url}/identity`, { timeout: 30_000 })
    expect(await second.getByTestId('identity-id').textContent()).toBe(identityId)
    const secondKey = await second.locator('.facts code').textContent()
    expect(secondKey).not.toBe(firstKey)
    await synced(second)
    await screenshot(second, 'link-linked-phone')

    // A used code is refused, with the reason.
    const reuse = await fetch(`${relay.url}/v1/identity-links/claim`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code, publicKey: (await newOwner(relay.url)).who.signer.publicKey }),
    })
    expect(reuse.status).toBe(404)
    expect(await reuse.json()).toMatchObject({ error: { code: 'NOT_FOUND', details: { reason: 'LINK_CODE_USED' } } })

    // Someone's post; the second browser reacts to it as Ada.
    const author = await newOwner(relay.url)
    const { postId } = await author.publish(solidPng(16, [255, 0, 77]), 'Red square')
    await second.goto(`${relay.url}/post/${postId}`)
    await second.getByRole('heading', { level: 1, name: 'Red square' }).waitFor()
    await second.getByRole('button', { name: /^❤️/ }).click()
    await second.getByRole('button', { name: /^❤️/, pressed: true }).waitFor()
    await synced(second)
    await second.locator('.reaction .badge-pending').waitFor({ state: 'detached', timeout: 30_000 })

    const profile = await fetchStreamJson(relay.url, `profile/${identityId}`)
    const reaction = profile.find((r) => r.type === 'REACTION_ADDED')
    expect(reaction?.issuer).toEqual({ identityId, publicKeyId: secondKey })
    expect(reaction?.payload).toMatchObject({ postId, emoji: '❤️' })
  }, 240_000)
})
