/**
 * The decoders, each for the formats it gets right on this machine: sharp (libvips) for PNG and WebP
 * (animated WebP composited frame by frame) and as a second reader of GIF metadata; omggif for GIF
 * frames, composited here with their disposal methods; bmp-ts for BMP. Each returns what it measured
 * (canvas, frames) and the colour statistics of the frames as a viewer sees them.
 */
import { decode as decodeBmpPixels } from 'bmp-ts'
import { GifReader } from 'omggif'
import sharp from 'sharp'
import type { BmpFacts, HeaderFacts } from './headers.js'
import { MEDIA_MAX_DECODED_PIXELS } from './limits.js'

export interface Decoded {
  width: number
  height: number
  frames: number
  uniqueColors: number
  transparent: boolean
}

/**
 * Distinct colours and transparency over RGBA frames. Every fully transparent pixel counts as one
 * colour ("transparent") whatever its RGB, since nobody sees the difference.
 */
export class ColorStats {
  private readonly colors = new Set<number>()
  transparent = false

  /** `rgba`: 4 bytes a pixel in `order` (byte offsets of r, g, b, a); `opaque` ignores the alpha bytes. */
  add(rgba: Uint8Array, order: readonly [number, number, number, number] = [0, 1, 2, 3], opaque = false): void {
    const [ri, gi, bi, ai] = order
    let last = -1
    for (let p = 0; p + 3 < rgba.length; p += 4) {
      const a = opaque ? 255 : rgba[p + ai]!
      let key: number
      if (a === 0) {
        key = 0
        this.transparent = true
      } else {
        if (a < 255) this.transparent = true
        key = ((rgba[p + ri]! << 24) | (rgba[p + gi]! << 16) | (rgba[p + bi]! << 8) | a) >>> 0
      }
      if (key !== last) {
        this.colors.add(key)
        last = key
      }
    }
  }

  get uniqueColors(): number {
    return this.colors.size
  }
}

// Every upload is a different image: libvips's operation cache would only hold memory (up to 50 MB).
sharp.cache(false)

const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** PNG and WebP through sharp: every frame, RGBA, composited by libvips. */
export async function decodeWithSharp(bytes: Uint8Array, format: 'png' | 'webp'): Promise<Decoded & { format: string }> {
  // One instance for both reads: constructing a sharp pipeline is most of its JavaScript cost.
  const image = sharp(asBuffer(bytes), { animated: true, failOn: 'warning', limitInputPixels: MEDIA_MAX_DECODED_PIXELS })
  const meta = await image.metadata()
  const { data, info } = await image.ensureAlpha().raw().toBuffer({ resolveWithObject: true })
  const frames = meta.pages ?? 1
  const height = meta.pageHeight ?? meta.height
  if (info.channels !== 4 || data.length !== info.width * height * frames * 4) {
    throw new Error(`sharp returned ${data.length} bytes for ${frames} frames of ${info.width}×${height}`)
  }
  const stats = new ColorStats()
  stats.add(data)
  return {
    format: meta.format ?? format,
    width: meta.width,
    height,
    frames,
    uniqueColors: stats.uniqueColors,
    transparent: stats.transparent,
  }
}

/** What sharp reads from a GIF's metadata: a second opinion on canvas and frame count. */
export async function gifMetadataWithSharp(bytes: Uint8Array): Promise<{ format: string; width: number; height: number; frames: number }> {
  const meta = await sharp(asBuffer(bytes), { animated: true, failOn: 'warning', limitInputPixels: MEDIA_MAX_DECODED_PIXELS }).metadata()
  return { format: meta.format ?? 'unknown', width: meta.width, height: meta.pageHeight ?? meta.height, frames: meta.pages ?? 1 }
}

/**
 * GIF through omggif, composited as a browser does: the canvas starts transparent; after a frame,
 * disposal 2 clears its rectangle and disposal 3 restores what was there before it.
 */
export function decodeGif(bytes: Uint8Array): Decoded {
  const reader = new GifReader(bytes)
  const { width, height } = reader
  const frames = reader.numFrames()
  const canvas = new Uint8Array(width * height * 4)
  const stats = new ColorStats()
  for (let i = 0; i < frames; i++) {
    const frame = reader.frameInfo(i)
    const saved = frame.disposal === 3 ? canvas.slice() : undefined
    reader.decodeAndBlitFrameRGBA(i, canvas)
    stats.add(canvas)
    if (frame.disposal === 2) {
      for (let y = frame.y; y < frame.y + frame.height; y++)
        canvas.fill(0, (y * width + frame.x) * 4, (y * width + frame.x + frame.width) * 4)
    } else if (saved) {
      canvas.set(saved)
    }
  }
  return { width, height, frames, uniqueColors: stats.uniqueColors, transparent: stats.transparent }
}

/**
 * BMP through bmp-ts, with two fixes around it: it reads pixels right after the palette, ignoring the
 * header's pixel offset, so a gap is cut out first; and its output is A,B,G,R per pixel (not RGBA) with
 * a meaningless alpha unless the image has an alpha mask (24-bit and palette images get 0, which would
 * read as fully transparent).
 */
export function decodeBmp(bytes: Uint8Array, facts: BmpFacts): Decoded {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let input =
    facts.pixelOffset > facts.decoderPixelStart
      ? Buffer.concat([buffer.subarray(0, facts.decoderPixelStart), buffer.subarray(facts.pixelOffset)])
      : buffer
  // An uncompressed V2–V5 header carries mask fields that mean nothing (often zero); bmp-ts would use
  // them. Put the BI_RGB defaults there, in a copy.
  if (facts.compression === 0 && facts.headerSize > 40 && (facts.bitsPerPixel === 16 || facts.bitsPerPixel === 32)) {
    input = Buffer.from(input)
    const masks = facts.bitsPerPixel === 32 ? [0x00ff0000, 0x0000ff00, 0x000000ff, 0] : [0x7c00, 0x03e0, 0x001f, 0]
    masks.forEach((mask, i) => input.writeUInt32LE(mask, 54 + 4 * i))
  }
  const image = decodeBmpPixels(input)
  const stats = new ColorStats()
  stats.add(image.data, [3, 2, 1, 0], facts.alphaMask === 0)
  return { width: image.width, height: Math.abs(image.height), frames: 1, uniqueColors: stats.uniqueColors, transparent: stats.transparent }
}

export type { HeaderFacts }
