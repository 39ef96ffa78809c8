/**
 * The PixPax card art format: a card is 16×16 pixels, each a 4-bit index into its collection's palette
 * of 16 colours. The art blob is those 256 indices packed two per byte, row by row from the top-left,
 * the left pixel of each pair in the high nibble: exactly 128 bytes, content-addressed by SHA-256.
 */
import { nobleSha256 } from '../crypto/noble.js'
import type { Sha256 } from '../crypto/types.js'
import { sha256Ref } from '../receipt.js'

export const CARD_SIZE = 16
export const CARD_ART_BYTES = (CARD_SIZE * CARD_SIZE) / 2
export const PALETTE_SIZE = 16

/** Packs 256 palette indices (0–15, row-major) into the 128-byte art blob. Throws RangeError. */
export function packCardArt(indices: ArrayLike<number>): Uint8Array {
  if (indices.length !== CARD_SIZE * CARD_SIZE) throw new RangeError(`card art has ${CARD_SIZE * CARD_SIZE} pixels, not ${indices.length}`)
  const out = new Uint8Array(CARD_ART_BYTES)
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i]!
    if (!Number.isInteger(v) || v < 0 || v >= PALETTE_SIZE) throw new RangeError(`pixel ${i} is ${v}, not a palette index 0–15`)
    out[i >> 1]! |= i % 2 === 0 ? v << 4 : v
  }
  return out
}

/** The 256 palette indices of an art blob. Throws RangeError unless it is exactly 128 bytes. */
export function unpackCardArt(art: Uint8Array): number[] {
  if (art.length !== CARD_ART_BYTES) throw new RangeError(`card art is ${CARD_ART_BYTES} bytes, not ${art.length}`)
  const out: number[] = []
  for (const byte of art) out.push(byte >> 4, byte & 15)
  return out
}

/** The content address (`sha256:…`) of an art blob, as collections name it. */
export function cardArtHash(art: Uint8Array, sha256: Sha256 = nobleSha256): string {
  return sha256Ref(art, sha256)
}

/**
 * The art as an SVG image, each pixel a `scale`-unit square in its palette colour (runs of one colour
 * on a row drawn as one rectangle); crisp when scaled because of `shape-rendering="crispEdges"`.
 */
export function cardArtSvg(art: Uint8Array, palette: readonly string[], scale = 16): string {
  if (palette.length !== PALETTE_SIZE) throw new RangeError(`a palette has ${PALETTE_SIZE} colours`)
  const pixels = unpackCardArt(art)
  const size = CARD_SIZE * scale
  const rects: string[] = []
  for (let y = 0; y < CARD_SIZE; y++) {
    let x = 0
    while (x < CARD_SIZE) {
      const colour = pixels[y * CARD_SIZE + x]!
      let run = 1
      while (x + run < CARD_SIZE && pixels[y * CARD_SIZE + x + run] === colour) run++
      rects.push(`<rect x="${x * scale}" y="${y * scale}" width="${run * scale}" height="${scale}" fill="${palette[colour]}"/>`)
      x += run
    }
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges">` +
    rects.join('') +
    '</svg>'
  )
}
