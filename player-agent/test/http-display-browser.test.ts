/**
 * The HTTP display with a real browser as the screen (Chromium through playwright-core): the page shows
 * the current frame, and a new frame replaces it live, pushed by Server-Sent Events.
 */
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HttpDisplay } from '../src/device/http-display.js'
import { solidFrame } from '../src/testing/device-adapter-contract.js'

describe('HTTP display in Chromium', () => {
  let browser: Browser
  const display = new HttpDisplay({ port: 0 })

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
    await display.open()
  }, 60_000)
  afterAll(async () => {
    await display.close()
    await browser?.close()
  })

  /** The colour of the image's top-left pixel as the page decoded it, with its natural size. */
  const shown = () =>
    `(() => {
      const img = document.getElementById('art')
      if (!img.complete || img.naturalWidth === 0) return null
      const canvas = document.createElement('canvas')
      canvas.width = img.naturalWidth
      canvas.height = img.naturalHeight
      const ctx = canvas.getContext('2d')
      ctx.drawImage(img, 0, 0)
      return [img.naturalWidth, img.naturalHeight, ...ctx.getImageData(0, 0, 1, 1).data]
    })()`

  it('shows the current frame and follows new frames and messages live', async () => {
    await display.show({ artwork: 'sha256:' + 'a'.repeat(64), frameIndex: 0, frame: solidFrame(8, 8, [255, 0, 0, 255]) })
    const page = await browser.newPage()
    await page.goto(display.url)
    await page.waitForFunction(`JSON.stringify(${shown()}) === JSON.stringify([8, 8, 255, 0, 0, 255])`)

    await display.show({ artwork: 'sha256:' + 'b'.repeat(64), frameIndex: 0, frame: solidFrame(16, 8, [0, 0, 255, 255]) })
    await page.waitForFunction(`JSON.stringify(${shown()}) === JSON.stringify([16, 8, 0, 0, 255, 255])`)
    await display.message('PAIRING CODE: ABC234')
    await page.waitForFunction(`document.getElementById('message').textContent === 'PAIRING CODE: ABC234'`)

    const state = (await (await fetch(new URL('/state.json', display.url))).json()) as Record<string, unknown>
    expect(state).toMatchObject({ artwork: 'sha256:' + 'b'.repeat(64), width: 16, height: 8, message: 'PAIRING CODE: ABC234' })
    await page.close()
  }, 60_000)
})
