/**
 * The play loop in process, with a display whose frame draw the test holds open: a stop or a jump that
 * comes while a frame is being drawn (nobody is waiting on the timer yet) still cuts the 60 s still short.
 * This is what once made a stopping player sleep out the still (the wake was lost, Wakeable).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BlobCache } from '../src/cache/blob-cache.js'
import type { DeviceAdapter, ShownArt } from '../src/device/device-adapter.js'
import { Playback } from '../src/player/playback.js'
import { sha256Hex, solidPng } from './support/owner.js'

/** A display whose `show` resolves only when the test lets it (the frame is "being drawn" until then). */
function heldDisplay() {
  const shown: string[] = []
  let release: (() => void) | undefined
  let drawing: ((artwork: string) => void) | undefined
  const display: DeviceAdapter = {
    capabilities: { display: 'held', maxWidth: 64, maxHeight: 64, animation: false, brightness: false, rotation: false, mirror: false },
    open: async () => undefined,
    show: (art: ShownArt) =>
      new Promise<void>((resolve) => {
        shown.push(art.artwork!)
        release = resolve
        drawing?.(art.artwork!)
      }),
    message: async () => undefined,
    current: () => undefined,
    close: async () => undefined,
  }
  return {
    display,
    shown,
    /** Resolves when a draw of `artwork` has started (now, if one is under way). */
    drawStarted: (artwork: string) =>
      new Promise<void>((resolve) => {
        if (shown.at(-1) === artwork && release) return resolve()
        drawing = (a) => a === artwork && resolve()
      }),
    finishDraw: () => {
      const r = release
      release = undefined
      r?.()
    },
  }
}

/** `promise`, or a failure after `ms` — a still of 60 s must not be waited out. */
const within = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms).unref())])

describe('Playback wakes', () => {
  let dir: string
  let cache: BlobCache
  const art: string[] = []

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pixpax-playback-'))
    cache = await BlobCache.open(dir, 1 << 20)
    art.length = 0
    for (const colour of [
      [255, 0, 0],
      [0, 255, 0],
    ] as const) {
      const png = solidPng(8, [...colour])
      art.push(`sha256:${sha256Hex(png)}`)
      await cache.put(art.at(-1)!, png)
    }
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  const items = () => art.map((artwork) => ({ artwork, source: 'test', durationSeconds: 60 }))

  it('a stop during a frame draw ends the play at once, not after the still', async () => {
    const held = heldDisplay()
    const playback = new Playback(cache, held.display, { showing: () => undefined, refused: () => undefined })
    playback.setPlaylist(items())
    playback.start()
    await held.drawStarted(art[0]!)
    const stopped = playback.stop()
    held.finishDraw()
    await within(stopped, 5_000, 'stop')
    expect(held.shown).toEqual([art[0]])
  })

  it('a jump (remote show) during a frame draw shows that artwork at once', async () => {
    const held = heldDisplay()
    const playback = new Playback(cache, held.display, { showing: () => undefined, refused: () => undefined })
    playback.setPlaylist(items())
    playback.start()
    await held.drawStarted(art[0]!)
    expect(playback.show(art[1]!)).toBe(true)
    held.finishDraw()
    await within(held.drawStarted(art[1]!), 5_000, 'show')
    held.finishDraw()
    const stopped = playback.stop()
    held.finishDraw()
    await within(stopped, 5_000, 'stop')
    expect(held.shown.slice(0, 2)).toEqual([art[0], art[1]])
  })
})
