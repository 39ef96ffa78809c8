/**
 * Real Chromium for the web tests (playwright-core driving the system's /usr/bin/chromium; never a
 * downloaded browser), and screenshots under web/test-results/ (CI keeps them as artifacts).
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { WEB_DIR } from '../../scripts/ensure-build.js'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const RESULTS_DIR = join(WEB_DIR, 'test-results')

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(RESULTS_DIR, { recursive: true })
  await page.screenshot({ path: join(RESULTS_DIR, `${name}.png`), fullPage: true })
}
