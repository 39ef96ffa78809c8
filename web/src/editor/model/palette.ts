/**
 * Palettes: the 16-colour default (PICO-8's, a well-known pixel-art palette with good contrast between
 * neighbours) plus the user's custom colours, deduplicated and capped so the swatch grid stays usable.
 */
import { parseHex } from './color.js'

export const DEFAULT_PALETTE: readonly number[] = [
  '#000000',
  '#1d2b53',
  '#7e2553',
  '#008751',
  '#ab5236',
  '#5f574f',
  '#c2c3c7',
  '#fff1e8',
  '#ff004d',
  '#ffa300',
  '#ffec27',
  '#00e436',
  '#29adff',
  '#83769c',
  '#ff77a8',
  '#ffccaa',
].map(parseHex)

export const MAX_CUSTOM_COLORS = 32

export interface Palette {
  readonly base: readonly number[]
  readonly custom: readonly number[]
}

export function defaultPalette(): Palette {
  return { base: DEFAULT_PALETTE, custom: [] }
}

/** Adds a custom colour (most recent first); a colour already in the palette is not added twice. */
export function addCustomColor(palette: Palette, color: number): Palette {
  const c = color >>> 0
  if (palette.base.includes(c)) return palette
  const custom = [c, ...palette.custom.filter((x) => x !== c)].slice(0, MAX_CUSTOM_COLORS)
  return { ...palette, custom }
}

export function paletteColors(palette: Palette): number[] {
  return [...palette.base, ...palette.custom]
}
