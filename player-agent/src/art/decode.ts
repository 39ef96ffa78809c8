/**
 * Art bytes → frames: PNG (pngjs) and GIF, animated included (omggif, which composes frames with their
 * disposal methods onto a full canvas). Anything else is refused: the player never guesses a format.
 */
import { GifReader } from 'omggif'
import { PNG } from 'pngjs'
import type { Frame } from '../device/device-adapter.js'

export class ArtFormatError extends Error {
  override name = 'ArtFormatError'
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
/** Browsers treat GIF delays under 20 ms as 100 ms; so do we, so art plays at the speed its author saw. */
const MIN_GIF_DELAY_MS = 20
const STATIC_DELAY_MS = 10_000

export function detectFormat(bytes: Uint8Array): 'png' | 'gif' | undefined {
  if (PNG_MAGIC.every((b, i) => bytes[i] === b)) return 'png'
  if (bytes.length >= 6 && String.fromCharCode(...bytes.subarray(0, 6)).match(/^GIF8[79]a$/)) return 'gif'
  return undefined
}

export function decodeArt(bytes: Uint8Array): Frame[] {
  const format = detectFormat(bytes)
  if (format === 'png') {
    let png: PNG
    try {
      png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    } catch (cause) {
      throw new ArtFormatError(`not a readable PNG: ${(cause as Error).message}`)
    }
    return [{ width: png.width, height: png.height, rgba: new Uint8Array(png.data), delayMs: STATIC_DELAY_MS }]
  }
  if (format === 'gif') {
    let reader: GifReader
    try {
      reader = new GifReader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    } catch (cause) {
      throw new ArtFormatError(`not a readable GIF: ${(cause as Error).message}`)
    }
    const { width, height } = reader
    const canvas = new Uint8Array(width * height * 4)
    const frames: Frame[] = []
    for (let i = 0; i < reader.numFrames(); i++) {
      const info = reader.frameInfo(i)
      const before = info.disposal === 3 ? canvas.slice() : undefined
      reader.decodeAndBlitFrameRGBA(i, canvas)
      const delay = info.delay * 10
      frames.push({
        width,
        height,
        rgba: canvas.slice(),
        delayMs: reader.numFrames() === 1 ? STATIC_DELAY_MS : delay < MIN_GIF_DELAY_MS ? 100 : delay,
      })
      if (info.disposal === 2) {
        for (let y = info.y; y < info.y + info.height; y++) canvas.fill(0, (y * width + info.x) * 4, (y * width + info.x + info.width) * 4)
      } else if (before) canvas.set(before)
    }
    return frames
  }
  throw new ArtFormatError('unknown art format (PNG and GIF are supported)')
}

/**
 * Scales a frame down by an integer factor (nearest neighbour: pixel art stays crisp) until it fits
 * `maxWidth × maxHeight`; a frame that fits is returned as is.
 */
export function fitFrame(frame: Frame, maxWidth: number, maxHeight: number): Frame {
  if (frame.width <= maxWidth && frame.height <= maxHeight) return frame
  const factor = Math.max(Math.ceil(frame.width / maxWidth), Math.ceil(frame.height / maxHeight))
  const width = Math.max(1, Math.floor(frame.width / factor))
  const height = Math.max(1, Math.floor(frame.height / factor))
  const rgba = new Uint8Array(width * height * 4)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (y * factor * frame.width + x * factor) * 4
      rgba.set(frame.rgba.subarray(from, from + 4), (y * width + x) * 4)
    }
  }
  return { width, height, rgba, delayMs: frame.delayMs }
}

/** Encodes a frame as PNG bytes (the PNG display and the HTTP page). */
export function encodePng(frame: Frame): Buffer {
  const png = new PNG({ width: frame.width, height: frame.height })
  png.data = Buffer.from(frame.rgba.buffer, frame.rgba.byteOffset, frame.rgba.byteLength)
  return PNG.sync.write(png)
}
