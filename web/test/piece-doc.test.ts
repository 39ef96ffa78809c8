/**
 * The piece ↔ draft document mapping (editor/drafts/piece-doc.ts) on plain objects — the same mutations
 * run inside Automerge's `handle.change` in the app: a round trip keeps every pixel and timing, a stroke
 * rewrites only the rows it touched, and a damaged draft is refused with the reason.
 */
import { describe, expect, it } from 'vitest'
import { readPiece, writePiece, type PieceDoc } from '../src/editor/drafts/piece-doc.js'
import { PixelDocument } from '../src/editor/model/document.js'

function piece(): PixelDocument {
  const doc = new PixelDocument(16)
  doc.bitmap.pixels[3 * 16 + 2] = 0xff004dff
  doc.addFrame()
  doc.bitmap.pixels[15 * 16 + 15] = 0x29adffff
  doc.setDuration(250)
  return doc
}

describe('piece drafts', () => {
  it('round-trips size, frames, timings and pixels', () => {
    const draft: Partial<PieceDoc> = {}
    writePiece(draft, 'Sunset', piece())
    const back = readPiece(draft)
    expect(back.name).toBe('Sunset')
    expect(back.piece.size).toBe(16)
    expect(back.piece.frames.map((f) => f.durationMs)).toEqual([100, 250])
    expect(back.piece.frames[0]!.bitmap.pixels[3 * 16 + 2]).toBe(0xff004dff)
    expect(back.piece.frames[1]!.bitmap.pixels[15 * 16 + 15]).toBe(0x29adffff)
    expect(draft.frames![0]!.rows).toHaveLength(16)
  })

  it('a stroke rewrites only the rows it changed; removed frames are removed', () => {
    const doc = piece()
    const draft: Partial<PieceDoc> = {}
    writePiece(draft, 'A', doc)
    const before = draft.frames!.map((f) => [...f.rows])
    doc.selectFrame(0)
    doc.bitmap.pixels[7 * 16 + 1] = 0x00e436ff
    const rows = new Proxy(draft.frames![0]!.rows, {
      set(target, key, value) {
        written.push(String(key))
        return Reflect.set(target, key, value)
      },
    })
    const written: string[] = []
    draft.frames![0]!.rows = rows
    writePiece(draft, 'A', doc)
    expect(written).toEqual(['7'])
    expect(draft.frames![1]!.rows).toEqual(before[1])
    doc.deleteFrame()
    writePiece(draft, 'A', doc)
    expect(draft.frames).toHaveLength(1)
  })

  it('refuses a draft without a piece or with a damaged frame', () => {
    expect(() => readPiece(undefined)).toThrow(/no piece/)
    const draft: Partial<PieceDoc> = {}
    writePiece(draft, 'A', piece())
    draft.frames![0]!.rows.pop()
    expect(() => readPiece(draft)).toThrow(/frame 1 has 960 bytes, expected 1024/)
  })
})
