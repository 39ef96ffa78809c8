/** Colours as 0xRRGGBBAA numbers, and the conversions to and from CSS hex the palette UI needs. */

export function rgba(r: number, g: number, b: number, a = 255): number {
  return (((r & 0xff) << 24) | ((g & 0xff) << 16) | ((b & 0xff) << 8) | (a & 0xff)) >>> 0
}

/** `#rrggbb` or `#rrggbbaa` → colour; throws on anything else. */
export function parseHex(hex: string): number {
  const m = /^#([0-9a-f]{6})([0-9a-f]{2})?$/i.exec(hex.trim())
  if (!m) throw new SyntaxError(`${JSON.stringify(hex)} is not a #rrggbb colour`)
  return parseInt(m[1]! + (m[2] ?? 'ff'), 16) >>> 0
}

/** Colour → `#rrggbb` (alpha dropped: the palette holds opaque colours). */
export function toHex(color: number): string {
  return `#${(color >>> 8).toString(16).padStart(6, '0')}`
}

/** Colour → CSS `rgba(…)` (for drawing swatches with alpha). */
export function toCss(color: number): string {
  const a = (color & 0xff) / 255
  return `rgba(${color >>> 24}, ${(color >>> 16) & 0xff}, ${(color >>> 8) & 0xff}, ${a})`
}
