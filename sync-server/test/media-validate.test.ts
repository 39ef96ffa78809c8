/**
 * validateMedia over real files of each format (test/fixtures/media/good/, made by
 * scripts/generate-media-fixtures.ts) and hostile ones (hostile/, plus the large ones built here):
 * what it measures, and for each refusal its code and details.reason.
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PixpaxError } from '@pixpax/shared'
import { describe, expect, it } from 'vitest'
import { isAllowedCanvas, MEDIA_MAX_BYTES, validateMedia } from '../src/media/index.js'
import {
  bmp,
  GOOD_FIXTURES,
  HOSTILE_FIXTURES,
  largeHostiles,
  manyFrameGif,
  OPAQUE,
  pngClaiming,
  stripes,
} from './support/media-fixtures.js'

const FIXTURES = join(import.meta.dirname, 'fixtures', 'media')
const read = (sub: string, name: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, sub, name)))

async function refusal(bytes: Uint8Array, declaredMime?: string): Promise<{ code: string; reason?: unknown; message: string }> {
  try {
    await validateMedia(bytes, declaredMime ? { declaredMime } : {})
  } catch (error) {
    expect(error).toBeInstanceOf(PixpaxError)
    const e = error as PixpaxError
    return { code: e.code, reason: e.details?.reason, message: e.message }
  }
  throw new Error('validateMedia accepted it')
}

describe('validateMedia: real files of each format', () => {
  it('has an expectation for every committed fixture and a fixture for every expectation', () => {
    expect(readdirSync(join(FIXTURES, 'good')).sort()).toEqual(Object.keys(GOOD_FIXTURES).sort())
    expect(readdirSync(join(FIXTURES, 'hostile')).sort()).toEqual(Object.keys(HOSTILE_FIXTURES).sort())
  })

  it.each(Object.entries(GOOD_FIXTURES))('%s: measured as made', async (name, expected) => {
    const bytes = read('good', name)
    const info = await validateMedia(bytes, { declaredMime: expected.mime })
    expect(info).toEqual({ ...expected, hash: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, bytes: bytes.length })
  })

  it('covers every format: still PNG, animated GIF with transparency, animated WebP, 24- and 32-bit BMP', () => {
    const kinds = Object.values(GOOD_FIXTURES)
    expect(kinds.some((k) => k.mime === 'image/png')).toBe(true)
    expect(kinds.some((k) => k.mime === 'image/gif' && k.frames > 1 && k.transparent)).toBe(true)
    expect(kinds.some((k) => k.mime === 'image/webp' && k.frames > 1)).toBe(true)
    expect(kinds.filter((k) => k.mime === 'image/bmp').map((k) => k.transparent)).toEqual([false, true])
  })

  it('accepts application/octet-stream and image/x-ms-bmp as declared types', async () => {
    await expect(validateMedia(read('good', 'still-64x64.png'), { declaredMime: 'application/octet-stream' })).resolves.toMatchObject({
      mime: 'image/png',
    })
    await expect(validateMedia(read('good', 'bgr24-130x128.bmp'), { declaredMime: 'image/x-ms-bmp' })).resolves.toMatchObject({
      mime: 'image/bmp',
    })
  })

  it('reads a GIF without its trailer (as browsers do), but not one cut inside a block', async () => {
    const full = read('good', 'anim-transparent-64x64.gif')
    expect(full.at(-1)).toBe(0x3b)
    const untrailed = await validateMedia(full.subarray(0, full.length - 1))
    expect({ ...untrailed, hash: '', bytes: 0 }).toEqual({ ...GOOD_FIXTURES['anim-transparent-64x64.gif'], hash: '', bytes: 0 })
    expect(await refusal(full.subarray(0, full.length - 5))).toMatchObject({ code: 'MEDIA_INVALID', reason: 'decode' })
  })

  it('reads a BMP whose pixel array does not follow its header directly (bmp-ts ignores the pixel offset)', async () => {
    const plain = bmp(16, 16, stripes(16, 16, OPAQUE), 24)
    const gap = Buffer.concat([plain.subarray(0, 54), Buffer.alloc(16, 0xee), plain.subarray(54)])
    gap.writeUInt32LE(54 + 16, 10)
    gap.writeUInt32LE(gap.length, 2)
    const [a, b] = [await validateMedia(plain), await validateMedia(gap)]
    expect({ ...b, hash: a.hash, bytes: a.bytes }).toEqual(a)
    expect(b.uniqueColors).toBe(4)
  })
})

describe('validateMedia: hostile files are refused with their reason', () => {
  it.each(Object.entries(HOSTILE_FIXTURES))('%s', async (name, expected) => {
    const got = await refusal(read('hostile', name), expected.declaredMime)
    expect({ code: got.code, reason: got.reason }).toEqual({
      code: expected.code,
      reason: 'reason' in expected ? expected.reason : undefined,
    })
  })

  it.each(largeHostiles().map((h) => [h.name, h] as const))('%s (built at run time)', async (_name, hostile) => {
    const got = await refusal(hostile.bytes, hostile.declaredMime)
    expect({ code: got.code, reason: got.reason }).toEqual({ code: hostile.code, reason: 'reason' in hostile ? hostile.reason : undefined })
  })

  it('refuses from the header, before decoding: the frame data and pixel data behind these headers are not decodable', async () => {
    // Each 1×1 frame's LZW data is the same 2 bytes, and a 60000×60000 PNG has 8 bytes of IDAT: a decoder
    // would fail ("decode") or run out of memory. The header walk refuses them first, for their real reason.
    expect(await refusal(manyFrameGif(20_000))).toMatchObject({ code: 'MEDIA_INVALID', reason: 'frames' })
    expect(await refusal(pngClaiming(60000, 60000))).toMatchObject({ code: 'MEDIA_INVALID', reason: 'dimensions' })
    expect(await refusal(pngClaiming(64, 64))).toMatchObject({ code: 'MEDIA_INVALID', reason: 'decode' })
    // 1024 frames is the cap; the 1025th is refused.
    await expect(validateMedia(manyFrameGif(1024))).resolves.toMatchObject({ frames: 1024, width: 8, height: 8 })
    expect(await refusal(manyFrameGif(1025))).toMatchObject({ reason: 'frames' })
  })

  it('refuses an empty body (size) and exactly 5 MiB is not over the limit', async () => {
    expect(await refusal(new Uint8Array())).toMatchObject({ code: 'MEDIA_INVALID', reason: 'size' })
    const exactly = new Uint8Array(MEDIA_MAX_BYTES)
    exactly.set(pngClaiming(64, 64))
    // Not refused for its size: refused because a PNG ends at IEND and 5 MiB of zeros follow.
    expect(await refusal(exactly)).toMatchObject({ code: 'MEDIA_INVALID', reason: 'mismatch' })
  })
})

describe('the Makapix canvas rule', () => {
  it.each([
    [8, 8, true],
    [8, 16, true],
    [16, 8, true],
    [8, 32, true],
    [32, 8, true],
    [16, 16, true],
    [16, 32, true],
    [32, 16, true],
    [32, 32, true],
    [32, 64, true],
    [64, 32, true],
    [64, 64, true],
    [64, 128, true],
    [128, 64, true],
    [128, 128, true],
    [129, 200, true],
    [256, 128, true],
    [256, 256, true],
    [10, 10, false],
    [8, 64, false],
    [64, 16, false],
    [127, 128, false],
    [128, 127, false],
    [100, 256, false],
    [257, 256, false],
    [256, 257, false],
    [0, 0, false],
  ])('%i×%i → %s', (w, h, allowed) => {
    expect(isAllowedCanvas(w, h)).toBe(allowed)
  })
})
