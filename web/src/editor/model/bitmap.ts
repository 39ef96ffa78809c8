/**
 * A frame's pixels: width × height RGBA colours packed as 0xRRGGBBAA in a Uint32Array (0 = transparent).
 * Pure data, no DOM: the editor's tools, history and exporters all work on this.
 */

/** The canvas sizes Makapix players show (square, 8×8 … 256×256). */
export const CANVAS_SIZES = [8, 16, 24, 32, 48, 64, 96, 128, 160, 192, 256] as const
export type CanvasSize = (typeof CANVAS_SIZES)[number]

export const TRANSPARENT = 0

export interface Bitmap {
  readonly width: number
  readonly height: number
  readonly pixels: Uint32Array
}

export function isCanvasSize(n: number): n is CanvasSize {
  return (CANVAS_SIZES as readonly number[]).includes(n)
}

export function createBitmap(width: number, height: number = width): Bitmap {
  if (!isCanvasSize(width) || !isCanvasSize(height)) {
    throw new RangeError(`canvas ${width}×${height} is not a supported size (${CANVAS_SIZES.join(', ')})`)
  }
  return { width, height, pixels: new Uint32Array(width * height) }
}

export function cloneBitmap(bitmap: Bitmap): Bitmap {
  return { width: bitmap.width, height: bitmap.height, pixels: bitmap.pixels.slice() }
}

export function inBounds(bitmap: Bitmap, x: number, y: number): boolean {
  return Number.isInteger(x) && Number.isInteger(y) && x >= 0 && y >= 0 && x < bitmap.width && y < bitmap.height
}

export function getPixel(bitmap: Bitmap, x: number, y: number): number {
  return inBounds(bitmap, x, y) ? bitmap.pixels[y * bitmap.width + x]! : TRANSPARENT
}

/** Sets a pixel (ignored outside the canvas); returns whether it changed. */
export function setPixel(bitmap: Bitmap, x: number, y: number, color: number): boolean {
  if (!inBounds(bitmap, x, y)) return false
  const i = y * bitmap.width + x
  if (bitmap.pixels[i] === color >>> 0) return false
  bitmap.pixels[i] = color >>> 0
  return true
}

/** RGBA bytes (for ImageData, PNG and GIF encoders). */
export function toRgba(bitmap: Bitmap): Uint8ClampedArray {
  const out = new Uint8ClampedArray(bitmap.pixels.length * 4)
  for (let i = 0; i < bitmap.pixels.length; i++) {
    const c = bitmap.pixels[i]!
    out[i * 4] = c >>> 24
    out[i * 4 + 1] = (c >>> 16) & 0xff
    out[i * 4 + 2] = (c >>> 8) & 0xff
    out[i * 4 + 3] = c & 0xff
  }
  return out
}
