/**
 * Receipts you can verify, in real Chromium against the built app on a real relay:
 * - an honest relay: every receipt of the new identity's streams shows green badges (signature, chain,
 *   key, relay ack, checkpoint), and the exported NDJSON verifies in Node with shared's ChainVerifier;
 * - a tampering relay (a proxy in front of the same relay altering a delivered receipt of the account
 *   stream): that stream turns red with the reason, and the altered receipt is not shown as verified.
 */
import { readFile } from 'node:fs/promises'
import { ChainVerifier } from '@pixpax/shared'
import { nodeVerifier } from '@pixpax/shared/node'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestRelay } from '../../sync-server/test/support/relay-harness.js'
import { launchChromium, screenshot, seriousAxeViolations } from './support/browser.js'
import { startTamperProxy, type TamperProxy } from './support/tamper-proxy.js'
import { startWebRelay } from './support/web-relay.js'

/** Alters the display name in every delivered ACCOUNT_CREATED (its hash no longer matches). */
function alterAccountDeliveries(message: Record<string, unknown>): Record<string, unknown> {
  if (message.type !== 'receipts' || !String(message.stream).startsWith('account/')) return message
  const receipts = (message.receipts as Array<{ receipt: unknown }>).map((d) => {
    const receipt = (typeof d.receipt === 'string' ? JSON.parse(d.receipt) : d.receipt) as { payload: Record<string, unknown> }
    return { ...d, receipt: { ...receipt, payload: { ...receipt.payload, displayName: 'Mallory' } } }
  })
  return { ...message, receipts }
}

describe('receipts you can verify, in Chromium', () => {
  let relay: TestRelay
  let proxy: TamperProxy
  let browser: Browser

  beforeAll(async () => {
    relay = await startWebRelay('webreceipts')
    proxy = await startTamperProxy(relay.url, alterAccountDeliveries)
    browser = await launchChromium()
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    await proxy?.close()
    await relay?.close()
  })

  async function newIdentity(origin: string, name: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, acceptDownloads: true })
    const page = await context.newPage()
    await page.goto(`${origin}/welcome`)
    await page.getByLabel('Display name').fill(name)
    await page.getByRole('button', { name: 'Create identity' }).click()
    await page.waitForURL(`${origin}/identity`)
    return page
  }

  it('an honest relay: every receipt green, and the NDJSON export verifies independently', async () => {
    const page = await newIdentity(relay.url, 'Ada')
    await page.locator('[data-testid=sync-status][data-status=synced]').waitFor({ timeout: 20_000 })
    await page.getByRole('navigation').getByRole('link', { name: 'Receipts' }).click()
    const streams = page.locator('section.stream')
    await page.locator('section.stream[data-stream^="account/"] li[data-type=ACCOUNT_CREATED]').waitFor()
    expect(await streams.count()).toBe(3) // identity, account, profile
    expect(await page.locator('section.stream[data-state=failed]').count()).toBe(0)
    for (const type of ['IDENTITY_CREATED', 'ACCOUNT_CREATED', 'PROFILE_UPDATED']) {
      const row = page.locator(`li[data-type=${type}]`)
      await expect(row.getAttribute('data-verified')).resolves.toBe('true')
      for (const badge of ['signature', 'chain', 'key', 'relay ack', 'checkpoint'])
        await expect(row.locator(`[data-badge="${badge}"]`).getAttribute('data-state')).resolves.toBe('ok')
    }
    await page.getByTestId('checkpoint').locator('[data-badge="relay signature"][data-state=ok]').waitFor()
    await screenshot(page, '21-receipts-verified')

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export NDJSON' }).click()])
    const lines = (await readFile(await download.path(), 'utf8')).trim().split('\n')
    expect(lines).toHaveLength(3)
    const verifier = new ChainVerifier({ verifier: nodeVerifier() })
    for (const line of lines) expect(await verifier.add(line)).toMatchObject({ ok: true })

    const found: Record<string, unknown> = {}
    for (const theme of ['dark', 'light'] as const) {
      await page.evaluate((t) => localStorage.setItem('pixpax.theme', t), theme)
      await page.reload()
      await page.locator('section.stream').first().waitFor()
      const violations = await seriousAxeViolations(page)
      if (violations.length) found[theme] = violations
    }
    expect(found).toEqual({})
    await page.context().close()
  }, 120_000)

  it('a tampering relay: the altered delivery is refused, its stream red with the reason, nothing shown as verified', async () => {
    const page = await newIdentity(proxy.url, 'Eve')
    await page.locator('[data-testid=sync-status][data-status=error]').waitFor({ timeout: 20_000 })
    await page.getByRole('navigation').getByRole('link', { name: 'Receipts' }).click()
    const account = page.locator('section.stream[data-stream^="account/"]')
    await account.locator('.quarantined').waitFor()
    await expect(account.getAttribute('data-state')).resolves.toBe('failed')
    await account
      .getByRole('alert')
      .getByText(/^Not verified/)
      .waitFor()
    expect(await account.locator('.quarantined').getAttribute('data-code')).toBe('HASH_MISMATCH')
    // The altered receipt never entered the log: no verified ACCOUNT_CREATED, only the pending one.
    expect(await account.locator('li[data-type=ACCOUNT_CREATED][data-verified=true]').count()).toBe(0)
    await account.locator('.pending-list li[data-type=ACCOUNT_CREATED]').waitFor()
    // The streams the proxy left alone are still green.
    await expect(page.locator('section.stream[data-stream^="identity/"]').getAttribute('data-state')).resolves.toBe('ok')
    await screenshot(page, '22-receipts-tampered')
    await page.context().close()
  }, 90_000)
})
