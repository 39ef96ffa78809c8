/**
 * A piece as an Automerge draft document. Each frame's pixels are one base64 string per row (big-endian
 * 0xRRGGBBAA words, as in serialize.ts), so two devices drawing on different rows of a frame merge, and
 * a stroke rewrites only the rows it touched (small changes, small sync messages). No Automerge import:
 * `writePiece` mutates whatever object it is given — the draft inside `handle.change`, or a plain object
 * in the unit tests.
 */
import { parsePiece, serializePiece, type PieceJson } from '../model/serialize.js'
import type { PixelDocument } from '../model/document.js'

export const PIECE_DOC_KIND = 'pixpax-piece'

export interface PieceDoc {
  kind: typeof PIECE_DOC_KIND
  v: 1
  name: string
  size: number
  frames: Array<{ durationMs: number; rows: string[] }>
}

function rowsOf(pixels: string, size: number): string[] {
  const bytes = Uint8Array.from(atob(pixels), (c) => c.charCodeAt(0))
  const rows: string[] = []
  const rowBytes = size * 4
  for (let y = 0; y < size; y++) {
    let s = ''
    for (const b of bytes.subarray(y * rowBytes, (y + 1) * rowBytes)) s += String.fromCharCode(b)
    rows.push(btoa(s))
  }
  return rows
}

function pixelsOf(rows: readonly string[]): string {
  let s = ''
  for (const row of rows) s += atob(String(row))
  return btoa(s)
}

/** Writes the piece into the draft, touching only what differs (a fresh draft gets everything). */
export function writePiece(draft: Partial<PieceDoc>, name: string, piece: PixelDocument): void {
  const json = serializePiece(piece)
  if (draft.kind !== PIECE_DOC_KIND) draft.kind = PIECE_DOC_KIND
  if (draft.v !== 1) draft.v = 1
  if (draft.name !== name) draft.name = name
  if (draft.size !== json.size || !Array.isArray(draft.frames)) {
    draft.size = json.size
    draft.frames = json.frames.map((f) => ({ durationMs: f.durationMs, rows: rowsOf(f.pixels, json.size) }))
    return
  }
  const frames = draft.frames
  if (frames.length > json.frames.length) frames.splice(json.frames.length)
  json.frames.forEach((f, i) => {
    const rows = rowsOf(f.pixels, json.size)
    const have = frames[i]
    if (!have) {
      frames.push({ durationMs: f.durationMs, rows })
      return
    }
    if (have.durationMs !== f.durationMs) have.durationMs = f.durationMs
    rows.forEach((row, y) => {
      if (have.rows[y] !== row) have.rows[y] = row
    })
  })
}

/** The piece in a draft, checked like any stored draft (parsePiece): a damaged one throws with the reason. */
export function readPiece(doc: Partial<PieceDoc> | undefined): { name: string; piece: PixelDocument } {
  if (!doc || doc.kind !== PIECE_DOC_KIND) throw new Error('this draft holds no piece yet')
  const json: PieceJson = {
    v: 1,
    size: Number(doc.size),
    frames: (doc.frames ?? []).map((f) => ({ durationMs: f.durationMs, pixels: pixelsOf(f.rows ?? []) })),
  }
  return { name: typeof doc.name === 'string' ? doc.name : 'Untitled', piece: parsePiece(json) }
}
