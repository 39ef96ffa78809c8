/**
 * A piece as JSON (drafts): its size and frames, each frame's pixels as base64 of big-endian 0xRRGGBBAA
 * words. Parsing checks everything, so a damaged draft is refused with a reason instead of drawing junk.
 */
import { isCanvasSize, type CanvasSize } from './bitmap.js'
import { clampDuration, MAX_FRAMES, PixelDocument, type Frame } from './document.js'

export interface PieceJson {
  v: 1
  size: number
  frames: Array<{ durationMs: number; pixels: string }>
}

function toBase64(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}

function fromBase64(text: string): Uint8Array {
  const s = atob(text)
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i)
  return out
}

export function serializePiece(doc: PixelDocument): PieceJson {
  return {
    v: 1,
    size: doc.size,
    frames: doc.frames.map((f) => {
      const bytes = new Uint8Array(f.bitmap.pixels.length * 4)
      const view = new DataView(bytes.buffer)
      f.bitmap.pixels.forEach((c, i) => view.setUint32(i * 4, c))
      return { durationMs: f.durationMs, pixels: toBase64(bytes) }
    }),
  }
}

export function parsePiece(json: unknown): PixelDocument {
  const piece = json as Partial<PieceJson> | null
  if (!piece || piece.v !== 1) throw new Error('not a PixPax piece (v 1)')
  if (typeof piece.size !== 'number' || !isCanvasSize(piece.size)) throw new Error(`unsupported canvas size ${String(piece.size)}`)
  const size: CanvasSize = piece.size
  if (!Array.isArray(piece.frames) || piece.frames.length < 1 || piece.frames.length > MAX_FRAMES) {
    throw new Error(`a piece has 1…${MAX_FRAMES} frames`)
  }
  const frames: Frame[] = piece.frames.map((f, n) => {
    const bytes = fromBase64(String(f.pixels))
    if (bytes.length !== size * size * 4) throw new Error(`frame ${n + 1} has ${bytes.length} bytes, expected ${size * size * 4}`)
    const view = new DataView(bytes.buffer)
    const pixels = new Uint32Array(size * size)
    for (let i = 0; i < pixels.length; i++) pixels[i] = view.getUint32(i * 4)
    return { bitmap: { width: size, height: size, pixels }, durationMs: clampDuration(Number(f.durationMs)) }
  })
  return new PixelDocument(size, frames)
}
