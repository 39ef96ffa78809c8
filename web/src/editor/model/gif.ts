/**
 * Animated GIF export through omggif's GifWriter: one global palette of every colour the frames use
 * (index 0 is transparent when a frame has transparent pixels), each frame with its own delay (GIF
 * counts in 1/100 s), looping forever. A piece with more than 255 colours keeps the 255 most used and
 * maps the rest to the nearest of them — pixel art rarely gets there.
 */
import { GifWriter } from 'omggif'
import type { Frame } from './document.js'

function nearest(color: number, palette: number[]): number {
  let best = 0
  let bestDistance = Infinity
  for (let i = 0; i < palette.length; i++) {
    const p = palette[i]!
    const d =
      ((p >>> 24) - (color >>> 24)) ** 2 +
      (((p >>> 16) & 0xff) - ((color >>> 16) & 0xff)) ** 2 +
      (((p >>> 8) & 0xff) - ((color >>> 8) & 0xff)) ** 2
    if (d < bestDistance) {
      bestDistance = d
      best = i
    }
  }
  return best
}

export function encodeGif(frames: readonly Frame[], scale = 1): Uint8Array {
  const first = frames[0]
  if (!first) throw new RangeError('a GIF needs at least one frame')
  const { width, height } = first.bitmap
  const counts = new Map<number, number>()
  let transparent = false
  for (const f of frames) {
    for (const c of f.bitmap.pixels) {
      if ((c & 0xff) < 128) transparent = true
      else counts.set(c >>> 8, (counts.get(c >>> 8) ?? 0) + 1)
    }
  }
  const offset = transparent ? 1 : 0
  const colors = [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 256 - offset)
    .map(([rgb]) => rgb)
  const index = new Map<number, number>(colors.map((rgb, i) => [rgb, i + offset]))
  let size = 2
  while (size < colors.length + offset) size *= 2
  const palette = new Array<number>(size).fill(0)
  colors.forEach((rgb, i) => (palette[i + offset] = rgb))
  const w = width * scale
  const h = height * scale
  const buffer = new Uint8Array(1024 + frames.length * (w * h * 2 + 1024) + size * 3)
  const writer = new GifWriter(buffer, w, h, { palette, loop: 0 })
  const shifted = colors.map((rgb) => (rgb << 8) >>> 0)
  for (const f of frames) {
    const indexed = new Uint8Array(w * h)
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const c = f.bitmap.pixels[Math.floor(y / scale) * width + Math.floor(x / scale)]!
        let i = 0
        if ((c & 0xff) >= 128) {
          i = index.get(c >>> 8) ?? nearest(c, shifted) + offset
        }
        indexed[y * w + x] = i
      }
    }
    writer.addFrame(0, 0, w, h, indexed as unknown as number[], {
      delay: Math.max(2, Math.round(f.durationMs / 10)),
      disposal: 2, // restore to background: a transparent pixel shows through, not the previous frame
      ...(transparent ? { transparent: 0 } : {}),
    })
  }
  return buffer.slice(0, writer.end())
}
