/**
 * What the relay accepts as post media (docs/media.md): Makapix's rules — PNG, GIF, WebP or BMP, at most
 * 5 MiB, a canvas of at most 256×256 and, below 128 on either side, only the sizes pixel-art displays
 * use — plus caps of our own on frames and on decoded pixels, so an upload cannot make the relay
 * decode more than a bounded amount of memory.
 */
export const MEDIA_MIMES = ['image/png', 'image/gif', 'image/webp', 'image/bmp'] as const
export type MediaMime = (typeof MEDIA_MIMES)[number]

export const MEDIA_MAX_BYTES = 5 * 1024 * 1024
export const MEDIA_MAX_SIDE = 256
/** Below this on either side, only MAKAPIX_SMALL_SIZES. */
export const MEDIA_FREE_SIDE = 128
/** Makapix's allowed sizes when a side is under 128 (both orientations listed). */
export const MAKAPIX_SMALL_SIZES: readonly (readonly [number, number])[] = [
  [8, 8],
  [8, 16],
  [16, 8],
  [8, 32],
  [32, 8],
  [16, 16],
  [16, 32],
  [32, 16],
  [32, 32],
  [32, 64],
  [64, 32],
  [64, 64],
  [64, 128],
  [128, 64],
]
/** Makapix scans at most 1024 frames; we refuse more rather than measure part of an animation. */
export const MEDIA_MAX_FRAMES = 1024
/**
 * width × height × frames: 2^25 pixels (128 MiB as RGBA) — 512 frames at 256×256, 1024 at 128×181.
 * Animated WebP is decoded whole, so this bounds the memory one upload can take.
 */
export const MEDIA_MAX_DECODED_PIXELS = 2 ** 25

/** Makapix's canvas rule: 1–256 on each side; both sides ≥ 128 is free, else one of the listed sizes. */
export function isAllowedCanvas(width: number, height: number): boolean {
  if (!Number.isInteger(width) || !Number.isInteger(height)) return false
  if (width < 1 || height < 1 || width > MEDIA_MAX_SIDE || height > MEDIA_MAX_SIDE) return false
  if (width >= MEDIA_FREE_SIDE && height >= MEDIA_FREE_SIDE) return true
  return MAKAPIX_SMALL_SIZES.some(([w, h]) => w === width && h === height)
}
