/** Art decoding (PNG, animated GIF with disposal and delays), scaling, the playlist file and the config. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GifWriter } from 'omggif'
import { describe, expect, it } from 'vitest'
import { ArtFormatError, decodeArt, encodePng, fitFrame } from '../src/art/decode.js'
import { filterForDisplay, PlaylistFormatError, StaticListSource } from '../src/channels/channel-source.js'
import { ConfigError, loadPlayerConfig } from '../src/config.js'
import { solidFrame } from '../src/testing/device-adapter-contract.js'

function gif(frames: Array<{ index: number; delay: number }>): Uint8Array {
  const buf = Buffer.alloc(4096)
  const writer = new GifWriter(buf, 2, 2, { palette: [0xff0000, 0x00ff00], loop: 0 })
  for (const f of frames) writer.addFrame(0, 0, 2, 2, new Array<number>(4).fill(f.index), { delay: f.delay })
  return new Uint8Array(buf.subarray(0, writer.end()))
}

describe('decodeArt', () => {
  it('decodes a PNG into one still frame', () => {
    const [frame, ...rest] = decodeArt(encodePng(solidFrame(3, 2, [1, 2, 3, 255])))
    expect(rest).toEqual([])
    expect([frame!.width, frame!.height, ...frame!.rgba.subarray(0, 4)]).toEqual([3, 2, 1, 2, 3, 255])
  })

  it('decodes every frame of an animated GIF with its delay (under 20 ms plays at 100 ms)', () => {
    const frames = decodeArt(
      gif([
        { index: 0, delay: 5 },
        { index: 1, delay: 1 },
      ]),
    )
    expect(frames.map((f) => [f.delayMs, ...f.rgba.subarray(0, 4)])).toEqual([
      [50, 255, 0, 0, 255],
      [100, 0, 255, 0, 255],
    ])
  })

  it('refuses bytes that are not PNG or GIF, or a truncated PNG', () => {
    expect(() => decodeArt(new TextEncoder().encode('<svg/>'))).toThrow(ArtFormatError)
    expect(() => decodeArt(encodePng(solidFrame(4, 4, [0, 0, 0, 255])).subarray(0, 40))).toThrow(ArtFormatError)
  })

  it('scales down by an integer factor to fit, keeping pixels crisp', () => {
    const big = solidFrame(100, 50, [9, 9, 9, 255])
    const fitted = fitFrame(big, 32, 32)
    expect([fitted.width, fitted.height]).toEqual([25, 12])
    expect(fitFrame(big, 100, 50)).toBe(big)
  })
})

describe('StaticListSource', () => {
  it('reads a list of hashes and explains a bad one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pixpax-list-'))
    try {
      const path = join(dir, 'list.json')
      const hash = 'sha256:' + 'c'.repeat(64)
      await writeFile(path, JSON.stringify({ items: [{ artwork: hash, durationSeconds: 5, animated: true }] }))
      const items = await new StaticListSource(path).load()
      expect(items).toEqual([{ artwork: hash, durationSeconds: 5, animated: true, source: `${path}#0` }])
      expect(filterForDisplay(items, { maxWidth: 64, maxHeight: 64, animation: false })).toEqual([])
      await writeFile(path, JSON.stringify({ items: [{ artwork: 'sha256:XYZ' }] }))
      await expect(new StaticListSource(path).load()).rejects.toThrow(PlaylistFormatError)
      await writeFile(path, '{"items": [')
      await expect(new StaticListSource(path).load()).rejects.toThrow(/not readable JSON/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('loadPlayerConfig', () => {
  it('takes the environment, lets flags win, and refuses what it cannot use', () => {
    const config = loadPlayerConfig({ RELAY_URL: 'http://127.0.0.1:8787', PLAYER_HEARTBEAT_SECONDS: '30' }, ['--display', 'http'])
    expect(config).toMatchObject({
      relayUrl: 'http://127.0.0.1:8787',
      display: 'http',
      heartbeatSeconds: 30,
      cacheBytes: 256 * 1024 * 1024,
    })
    expect(config.dir).toMatch(/data\/player$/)
    expect(Object.isFrozen(config)).toBe(true)
    expect(loadPlayerConfig({ RELAY_URL: 'http://r' }, [], true).display).toBe('terminal')
    expect(() => loadPlayerConfig({}, [])).toThrow(ConfigError)
    expect(() => loadPlayerConfig({ RELAY_URL: 'ftp://r' }, [])).toThrow(ConfigError)
    expect(() => loadPlayerConfig({ RELAY_URL: 'http://r' }, ['--display', 'led'])).toThrow(/display/)
    expect(() => loadPlayerConfig({ RELAY_URL: 'http://r' }, ['--bogus'])).toThrow(ConfigError)
    expect(() => loadPlayerConfig({ RELAY_URL: 'http://r', PLAYER_HEARTBEAT_SECONDS: '0' }, [])).toThrow(ConfigError)
  })
})
