/**
 * Builders for the media fixtures: real images of each accepted format (made with sharp, omggif and a
 * BMP writer of our own) and hostile ones. `scripts/generate-media-fixtures.ts` writes them once to
 * test/fixtures/media/ (committed); the large hostile inputs (5 MiB + 1, 20,000 frames) are cheap to
 * build, so tests build them at run time instead of committing megabytes.
 */
import { crc32 } from 'node:zlib'
import { GifWriter } from 'omggif'
import sharp from 'sharp'

export type Rgba = [number, number, number, number]

/** A w×h RGBA image of a few colours (diagonal stripes); `alpha` makes one stripe see-through. */
export function stripes(width: number, height: number, palette: Rgba[], shift = 0): Uint8Array {
  const out = new Uint8Array(width * height * 4)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out.set(palette[(x + y + shift) % palette.length]!, (y * width + x) * 4)
  }
  return out
}

export const OPAQUE: Rgba[] = [
  [255, 0, 0, 255],
  [0, 255, 0, 255],
  [0, 0, 255, 255],
  [255, 255, 0, 255],
]
export const WITH_CLEAR: Rgba[] = [
  [255, 0, 0, 255],
  [0, 0, 0, 0],
  [0, 128, 255, 255],
]

export async function png(width: number, height: number, palette: Rgba[], options: { palette?: boolean } = {}): Promise<Uint8Array> {
  const raw = { width, height, channels: 4 as const }
  return new Uint8Array(
    await sharp(Buffer.from(stripes(width, height, palette)), { raw })
      .png({ palette: options.palette ?? false })
      .toBuffer(),
  )
}

export async function webp(width: number, height: number, palette: Rgba[], options: { lossless: boolean }): Promise<Uint8Array> {
  const raw = { width, height, channels: 4 as const }
  return new Uint8Array(
    await sharp(Buffer.from(stripes(width, height, palette)), { raw })
      .webp({ lossless: options.lossless, quality: 90 })
      .toBuffer(),
  )
}

/** An animated WebP: `frames` frames, each the stripes shifted by one. */
export async function animatedWebp(width: number, height: number, frames: number, palette: Rgba[]): Promise<Uint8Array> {
  const all = new Uint8Array(width * height * 4 * frames)
  for (let f = 0; f < frames; f++) all.set(stripes(width, height, palette, f), f * width * height * 4)
  const raw = { width, height: height * frames, channels: 4 as const, pageHeight: height }
  return new Uint8Array(
    await sharp(Buffer.from(all), { raw })
      .webp({ lossless: true, loop: 0, delay: Array(frames).fill(100) })
      .toBuffer(),
  )
}

/**
 * An animated GIF through omggif: index 0 is transparent, frames cycle the stripes, each disposed to
 * background (2) so the transparent stripe shows through.
 */
export function animatedGif(width: number, height: number, frames: number): Uint8Array {
  // 4 colours: transparent (index 0), red, green, blue.
  const palette = [0x000000, 0xff0000, 0x00ff00, 0x0000ff]
  const buf = new Uint8Array(1024 + width * height * frames * 2)
  const writer = new GifWriter(buf, width, height, { palette, loop: 0 })
  for (let f = 0; f < frames; f++) {
    const indices: number[] = []
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) indices.push((x + y + f) % 4)
    writer.addFrame(0, 0, width, height, indices, { delay: 10, disposal: 2, transparent: 0 })
  }
  return buf.slice(0, writer.end())
}

/**
 * A GIF of `frames` 1×1 frames on an 8×8 canvas, written block by block (no encoder): 14 bytes a frame,
 * so 20,000 frames is 280 kB.
 */
export function manyFrameGif(frames: number): Uint8Array {
  const head = [...Buffer.from('GIF89a'), 8, 0, 8, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255]
  // Image descriptor at 0,0 1×1, no local table; LZW code size 2; one sub-block: clear, 0, end.
  const frame = [0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0]
  const out = new Uint8Array(head.length + frame.length * frames + 1)
  out.set(head, 0)
  for (let i = 0; i < frames; i++) out.set(frame, head.length + i * frame.length)
  out[out.length - 1] = 0x3b
  return out
}

/** A GIF with a header and colour table but no image: zero frames. */
export function zeroFrameGif(): Uint8Array {
  return new Uint8Array([...Buffer.from('GIF89a'), 8, 0, 8, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255, 0x3b])
}

export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  out.write(type, 4, 'latin1')
  out.set(data, 8)
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length)
  return out
}

/** A PNG whose IHDR claims width×height, followed by a tiny IDAT and IEND (never decodable). */
export function pngClaiming(width: number, height: number): Uint8Array {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.set([8, 6, 0, 0, 0], 8)
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', new Uint8Array([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    pngChunk('IEND', new Uint8Array()),
  ])
}

/** `still` with an acTL chunk after its IHDR: what file-type (and browsers) take for an APNG. */
export function apngFrom(still: Uint8Array): Uint8Array {
  const actl = Buffer.alloc(8)
  actl.writeUInt32BE(2, 0)
  return Buffer.concat([still.subarray(0, 33), pngChunk('acTL', actl), still.subarray(33)])
}

/** A minimal stored ZIP (one file): appended to an image it makes a polyglot that unzip reads. */
export function tinyZip(name: string, content: string): Uint8Array {
  const data = Buffer.from(content)
  const fname = Buffer.from(name)
  const crc = crc32(data)
  const local = Buffer.alloc(30)
  local.writeUInt32LE(0x04034b50, 0)
  local.writeUInt16LE(20, 4)
  local.writeUInt32LE(crc, 14)
  local.writeUInt32LE(data.length, 18)
  local.writeUInt32LE(data.length, 22)
  local.writeUInt16LE(fname.length, 26)
  const central = Buffer.alloc(46)
  central.writeUInt32LE(0x02014b50, 0)
  central.writeUInt16LE(20, 4)
  central.writeUInt16LE(20, 6)
  central.writeUInt32LE(crc, 16)
  central.writeUInt32LE(data.length, 20)
  central.writeUInt32LE(data.length, 24)
  central.writeUInt16LE(fname.length, 28)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(1, 8)
  end.writeUInt16LE(1, 10)
  end.writeUInt32LE(46 + fname.length, 12)
  end.writeUInt32LE(30 + fname.length + data.length, 16)
  return Buffer.concat([local, fname, data, central, fname, end])
}

/**
 * A BMP written by hand: bottom-up rows, 24-bit (BITMAPINFOHEADER, BGR, rows padded to 4 bytes) or
 * 32-bit (BITMAPV4HEADER with BI_BITFIELDS and an alpha mask, BGRA).
 */
export function bmp(width: number, height: number, rgba: Uint8Array, bits: 24 | 32): Uint8Array {
  const headerSize = bits === 32 ? 108 : 40
  const rowBytes = Math.ceil((width * bits) / 32) * 4
  const offset = 14 + headerSize
  const out = Buffer.alloc(offset + rowBytes * height)
  out.write('BM', 0, 'latin1')
  out.writeUInt32LE(out.length, 2)
  out.writeUInt32LE(offset, 10)
  out.writeUInt32LE(headerSize, 14)
  out.writeInt32LE(width, 18)
  out.writeInt32LE(height, 22)
  out.writeUInt16LE(1, 26)
  out.writeUInt16LE(bits, 28)
  out.writeUInt32LE(bits === 32 ? 3 : 0, 30)
  out.writeUInt32LE(rowBytes * height, 34)
  out.writeInt32LE(2835, 38)
  out.writeInt32LE(2835, 42)
  if (bits === 32) {
    out.writeUInt32LE(0x00ff0000, 54)
    out.writeUInt32LE(0x0000ff00, 58)
    out.writeUInt32LE(0x000000ff, 62)
    out.writeUInt32LE(0xff000000, 66)
    out.write('BGRs', 70, 'latin1') // LCS_WINDOWS_COLOR_SPACE, little-endian 'sRGB'
  }
  for (let y = 0; y < height; y++) {
    const row = offset + (height - 1 - y) * rowBytes
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 4
      const o = row + x * (bits / 8)
      out[o] = rgba[p + 2]!
      out[o + 1] = rgba[p + 1]!
      out[o + 2] = rgba[p]!
      if (bits === 32) out[o + 3] = rgba[p + 3]!
    }
  }
  return out
}

export interface Fixture {
  name: string
  bytes: Uint8Array
}

export interface Measured {
  mime: string
  width: number
  height: number
  frames: number
  uniqueColors: number
  transparent: boolean
}

/** What the validator must measure of each accepted fixture (test/fixtures/media/good/). */
export const GOOD_FIXTURES: Record<string, Measured> = {
  'still-64x64.png': { mime: 'image/png', width: 64, height: 64, frames: 1, uniqueColors: 4, transparent: false },
  'alpha-palette-32x32.png': { mime: 'image/png', width: 32, height: 32, frames: 1, uniqueColors: 3, transparent: true },
  'still-256x128.png': { mime: 'image/png', width: 256, height: 128, frames: 1, uniqueColors: 4, transparent: false },
  // red, green, blue and the transparent index
  'anim-transparent-64x64.gif': { mime: 'image/gif', width: 64, height: 64, frames: 4, uniqueColors: 4, transparent: true },
  'still-16x16.gif': { mime: 'image/gif', width: 16, height: 16, frames: 1, uniqueColors: 4, transparent: true },
  'anim-128x128.webp': { mime: 'image/webp', width: 128, height: 128, frames: 3, uniqueColors: 3, transparent: true },
  'lossless-32x64.webp': { mime: 'image/webp', width: 32, height: 64, frames: 1, uniqueColors: 4, transparent: false },
  'lossy-128x128.webp': { mime: 'image/webp', width: 128, height: 128, frames: 1, uniqueColors: 562, transparent: false },
  'bgr24-130x128.bmp': { mime: 'image/bmp', width: 130, height: 128, frames: 1, uniqueColors: 4, transparent: false },
  'bgra32-16x16.bmp': { mime: 'image/bmp', width: 16, height: 16, frames: 1, uniqueColors: 3, transparent: true },
}

export async function buildGoodFixtures(): Promise<Fixture[]> {
  const built: Record<keyof typeof GOOD_FIXTURES, Uint8Array> = {
    'still-64x64.png': await png(64, 64, OPAQUE),
    'alpha-palette-32x32.png': await png(32, 32, WITH_CLEAR, { palette: true }),
    'still-256x128.png': await png(256, 128, OPAQUE),
    'anim-transparent-64x64.gif': animatedGif(64, 64, 4),
    'still-16x16.gif': animatedGif(16, 16, 1),
    'anim-128x128.webp': await animatedWebp(128, 128, 3, WITH_CLEAR),
    'lossless-32x64.webp': await webp(32, 64, OPAQUE, { lossless: true }),
    'lossy-128x128.webp': await webp(128, 128, OPAQUE, { lossless: false }),
    'bgr24-130x128.bmp': bmp(130, 128, stripes(130, 128, OPAQUE), 24),
    'bgra32-16x16.bmp': bmp(16, 16, stripes(16, 16, WITH_CLEAR), 32),
  }
  return Object.entries(built).map(([name, bytes]) => ({ name, bytes }))
}

export type Refusal =
  { code: 'MEDIA_TOO_LARGE' } | { code: 'MEDIA_INVALID'; reason: 'format' | 'size' | 'dimensions' | 'frames' | 'decode' | 'mismatch' }

/** Refused fixtures (test/fixtures/media/hostile/): the Content-Type an uploader declares and the refusal. */
export const HOSTILE_FIXTURES: Record<string, { declaredMime: string } & Refusal> = {
  'truncated.png': { declaredMime: 'image/png', code: 'MEDIA_INVALID', reason: 'decode' },
  'corrupt-idat.png': { declaredMime: 'image/png', code: 'MEDIA_INVALID', reason: 'decode' },
  'gif-named.png': { declaredMime: 'image/png', code: 'MEDIA_INVALID', reason: 'mismatch' },
  'ihdr-60000x60000.png': { declaredMime: 'image/png', code: 'MEDIA_INVALID', reason: 'dimensions' },
  'polyglot-zip.png': { declaredMime: 'image/png', code: 'MEDIA_INVALID', reason: 'mismatch' },
  'size-10x10.png': { declaredMime: 'image/png', code: 'MEDIA_INVALID', reason: 'dimensions' },
  'size-300x256.webp': { declaredMime: 'image/webp', code: 'MEDIA_INVALID', reason: 'dimensions' },
  'vp8x-16384x16384.webp': { declaredMime: 'image/webp', code: 'MEDIA_INVALID', reason: 'dimensions' },
  'zero-frames.gif': { declaredMime: 'image/gif', code: 'MEDIA_INVALID', reason: 'frames' },
  'frame-outside-canvas.gif': { declaredMime: 'image/gif', code: 'MEDIA_INVALID', reason: 'dimensions' },
  'apng.png': { declaredMime: 'image/png', code: 'MEDIA_INVALID', reason: 'format' },
  'photo.jpg': { declaredMime: 'image/jpeg', code: 'MEDIA_INVALID', reason: 'format' },
  'text.txt': { declaredMime: 'text/plain', code: 'MEDIA_INVALID', reason: 'format' },
}

export async function buildHostileFixtures(): Promise<Fixture[]> {
  const still = await png(64, 64, OPAQUE)
  // A broken zlib header inside IDAT, with the chunk's CRC recomputed: the structure checks pass and
  // only the decoder can refuse it.
  const corrupt = Buffer.from(still)
  const idat = corrupt.indexOf('IDAT', 0, 'latin1')
  const idatLength = corrupt.readUInt32BE(idat - 4)
  corrupt[idat + 4] = 0xff
  corrupt.writeUInt32BE(crc32(corrupt.subarray(idat, idat + 4 + idatLength)), idat + 4 + idatLength)
  const outside = Buffer.from(animatedGif(16, 16, 1))
  outside.writeUInt16LE(4, outside.indexOf(0x2c) + 1) // move the 16×16 frame 4 px right
  const vp8x = Buffer.alloc(30)
  vp8x.write('RIFF', 0, 'latin1')
  vp8x.writeUInt32LE(22, 4)
  vp8x.write('WEBPVP8X', 8, 'latin1')
  vp8x.writeUInt32LE(10, 16)
  vp8x.writeUIntLE(16383, 24, 3)
  vp8x.writeUIntLE(16383, 27, 3)
  const built: Record<keyof typeof HOSTILE_FIXTURES, Uint8Array> = {
    'truncated.png': still.subarray(0, Math.floor(still.length / 2)),
    'corrupt-idat.png': corrupt,
    'gif-named.png': animatedGif(16, 16, 2),
    'ihdr-60000x60000.png': pngClaiming(60000, 60000),
    'polyglot-zip.png': Buffer.concat([still, tinyZip('hello.js', 'alert(1)')]),
    'size-10x10.png': await png(10, 10, OPAQUE),
    'size-300x256.webp': await webp(300, 256, OPAQUE, { lossless: true }),
    'vp8x-16384x16384.webp': vp8x,
    'zero-frames.gif': zeroFrameGif(),
    'frame-outside-canvas.gif': outside,
    'apng.png': apngFrom(still),
    'photo.jpg': new Uint8Array(
      await sharp({ create: { width: 64, height: 64, channels: 3, background: '#336699' } })
        .jpeg()
        .toBuffer(),
    ),
    'text.txt': Buffer.from('just some text, not an image\n'),
  }
  return Object.entries(built).map(([name, bytes]) => ({ name, bytes }))
}

/** Hostile inputs built at run time (too big to commit): name, bytes, declared type, refusal. */
export function largeHostiles(): (Fixture & { declaredMime: string } & Refusal)[] {
  const oversize = new Uint8Array(5 * 1024 * 1024 + 1)
  oversize.set(pngClaiming(64, 64))
  return [
    { name: '20000-frames.gif', bytes: manyFrameGif(20_000), declaredMime: 'image/gif', code: 'MEDIA_INVALID', reason: 'frames' },
    { name: '5MiB+1.png', bytes: oversize, declaredMime: 'image/png', code: 'MEDIA_TOO_LARGE' },
  ]
}
