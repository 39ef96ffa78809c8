import { inflateSync } from 'node:zlib'
import { GifReader } from 'omggif'
import { describe, expect, it } from 'vitest'
import { createBitmap, getPixel, setPixel, TRANSPARENT } from '../src/editor/model/bitmap.js'
import { parseHex, rgba, toHex } from '../src/editor/model/color.js'
import { PixelDocument, HISTORY_LIMIT } from '../src/editor/model/document.js'
import { encodeGif } from '../src/editor/model/gif.js'
import { addCustomColor, DEFAULT_PALETTE, defaultPalette, paletteColors } from '../src/editor/model/palette.js'
import { encodePng } from '../src/editor/model/png.js'
import { parsePiece, serializePiece } from '../src/editor/model/serialize.js'
import { floodFill, linePoints, Stroke } from '../src/editor/model/tools.js'

const RED = rgba(255, 0, 0)
const BLUE = rgba(0, 0, 255)

/** The bitmap as rows of '.' (transparent) and 'x' (anything else). */
function picture(doc: { bitmap: { width: number; height: number; pixels: Uint32Array } }, rows = doc.bitmap.height): string[] {
  const out: string[] = []
  for (let y = 0; y < rows; y++) {
    let line = ''
    for (let x = 0; x < doc.bitmap.width; x++) line += doc.bitmap.pixels[y * doc.bitmap.width + x] === TRANSPARENT ? '.' : 'x'
    out.push(line)
  }
  return out
}

function draw(doc: PixelDocument, tool: Stroke['tool'], points: Array<[number, number]>, color = RED, mirror = false): Stroke {
  const [first, ...rest] = points
  const stroke = new Stroke(tool, doc.bitmap, { color, mirror }, { x: first![0], y: first![1] })
  for (const [x, y] of rest) stroke.move({ x, y })
  doc.commitPixels(stroke.original)
  return stroke
}

describe('bitmap and colours', () => {
  it('accepts only the Makapix sizes', () => {
    expect(createBitmap(8).pixels.length).toBe(64)
    expect(createBitmap(256).pixels.length).toBe(65536)
    expect(() => createBitmap(10)).toThrow(/not a supported size/)
    expect(() => createBitmap(512)).toThrow(/not a supported size/)
  })

  it('ignores writes outside the canvas', () => {
    const b = createBitmap(8)
    expect(setPixel(b, 8, 0, RED)).toBe(false)
    expect(setPixel(b, -1, 0, RED)).toBe(false)
    expect(getPixel(b, 100, 100)).toBe(TRANSPARENT)
  })

  it('round-trips hex colours and refuses junk', () => {
    expect(toHex(parseHex('#29adff'))).toBe('#29adff')
    expect(parseHex('#ff000080')).toBe(0xff000080)
    expect(() => parseHex('red')).toThrow(SyntaxError)
  })

  it('has the 16 default colours and deduplicated custom colours, newest first', () => {
    expect(DEFAULT_PALETTE).toHaveLength(16)
    let p = defaultPalette()
    p = addCustomColor(p, parseHex('#123456'))
    p = addCustomColor(p, parseHex('#abcdef'))
    p = addCustomColor(p, parseHex('#123456'))
    p = addCustomColor(p, DEFAULT_PALETTE[3]!)
    expect(p.custom.map(toHex)).toEqual(['#123456', '#abcdef'])
    expect(paletteColors(p)).toHaveLength(18)
  })
})

describe('tools', () => {
  it('draws continuous pencil lines between pointer samples (no gaps on fast moves)', () => {
    const doc = new PixelDocument(8)
    draw(doc, 'pencil', [
      [0, 0],
      [7, 0],
      [7, 3],
    ])
    expect(picture(doc, 4)).toEqual(['xxxxxxxx', '.......x', '.......x', '.......x'])
  })

  it('line and rectangle preview until release: moving the pointer redraws, not accumulates', () => {
    const doc = new PixelDocument(8)
    draw(doc, 'line', [
      [0, 0],
      [7, 7],
      [7, 0],
    ])
    expect(picture(doc, 2)).toEqual(['xxxxxxxx', '........'])
    draw(doc, 'rect', [
      [1, 2],
      [6, 6],
      [3, 4],
    ])
    expect(picture(doc).slice(2, 6)).toEqual(['.xxx....', '.x.x....', '.xxx....', '........'])
  })

  it('fills the 4-connected region only, and mirrors every painting tool', () => {
    const doc = new PixelDocument(8)
    draw(doc, 'line', [
      [3, 0],
      [3, 7],
    ])
    draw(doc, 'fill', [[0, 0]], BLUE)
    expect(getPixel(doc.bitmap, 2, 5)).toBe(BLUE)
    expect(getPixel(doc.bitmap, 5, 5)).toBe(TRANSPARENT)
    const mirrored = new PixelDocument(8)
    draw(mirrored, 'pencil', [[1, 1]], RED, true)
    expect(picture(mirrored, 2)).toEqual(['........', '.x....x.'])
  })

  it('erases to transparent and the eyedropper picks without painting', () => {
    const doc = new PixelDocument(8)
    draw(doc, 'pencil', [
      [0, 0],
      [3, 0],
    ])
    draw(doc, 'eraser', [[1, 0]])
    expect(picture(doc, 1)).toEqual(['x.xx....'])
    const pick = draw(doc, 'eyedropper', [[0, 0]])
    expect(pick.picked).toBe(RED)
    expect(picture(doc, 1)).toEqual(['x.xx....'])
  })

  it('flood fill of a 256×256 canvas does not overflow the stack', () => {
    const b = createBitmap(256)
    expect(floodFill(b, { x: 128, y: 128 }, RED)).toBe(true)
    expect(b.pixels.every((c) => c === RED)).toBe(true)
    expect(floodFill(b, { x: 0, y: 0 }, RED)).toBe(false)
  })

  it('linePoints includes both ends in any direction', () => {
    expect(linePoints({ x: 3, y: 1 }, { x: 0, y: 1 })).toEqual([
      { x: 3, y: 1 },
      { x: 2, y: 1 },
      { x: 1, y: 1 },
      { x: 0, y: 1 },
    ])
  })
})

describe('history and frames', () => {
  it('undoes and redoes strokes; a new stroke clears redo; strokes that change nothing are not recorded', () => {
    const doc = new PixelDocument(8)
    draw(doc, 'pencil', [[0, 0]])
    draw(doc, 'pencil', [[1, 0]])
    draw(doc, 'pencil', [[1, 0]]) // same colour again: no change
    expect(picture(doc, 1)).toEqual(['xx......'])
    expect(doc.undo()).toBe(true)
    expect(picture(doc, 1)).toEqual(['x.......'])
    expect(doc.redo()).toBe(true)
    expect(picture(doc, 1)).toEqual(['xx......'])
    doc.undo()
    draw(doc, 'pencil', [[5, 0]])
    expect(doc.canRedo).toBe(false)
    doc.undo()
    doc.undo()
    expect(doc.undo()).toBe(false)
    expect(picture(doc, 1)).toEqual(['........'])
  })

  it('keeps at most HISTORY_LIMIT steps', () => {
    const doc = new PixelDocument(16)
    for (let i = 0; i < HISTORY_LIMIT + 5; i++) draw(doc, 'pencil', [[i % 16, Math.floor(i / 16)]])
    let undone = 0
    while (doc.undo()) undone++
    expect(undone).toBe(HISTORY_LIMIT)
  })

  it('adds, duplicates, moves and deletes frames with undo, and times the animation per frame', () => {
    const doc = new PixelDocument(8)
    draw(doc, 'pencil', [[0, 0]])
    doc.addFrame(true)
    expect(doc.frames).toHaveLength(2)
    expect(doc.current).toBe(1)
    expect(picture(doc, 1)).toEqual(['x.......'])
    doc.setDuration(300)
    doc.addFrame()
    expect(picture(doc, 1)).toEqual(['........'])
    doc.moveFrame(-2)
    expect(doc.current).toBe(0)
    expect(picture(doc, 1)).toEqual(['........'])
    doc.undo()
    expect(doc.current).toBe(2)
    // Frames: 100 ms, 300 ms, 300 ms (the new frame copies the current timing).
    expect([doc.frameAt(0), doc.frameAt(99), doc.frameAt(100), doc.frameAt(399), doc.frameAt(400), doc.frameAt(700)]).toEqual([
      0, 0, 1, 1, 2, 0,
    ])
    doc.deleteFrame()
    doc.deleteFrame()
    expect(doc.deleteFrame()).toBe(false)
    expect(doc.frames).toHaveLength(1)
    doc.setDuration(1)
    expect(doc.frames[0]!.durationMs).toBe(20)
  })
})

describe('export and drafts', () => {
  it('encodes a PNG whose pixels are the canvas, scaled crisp', async () => {
    const doc = new PixelDocument(8)
    draw(doc, 'pencil', [[1, 0]])
    const png = await encodePng(doc.bitmap, 2)
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    const view = new DataView(png.buffer, png.byteOffset)
    expect([view.getUint32(16), view.getUint32(20)]).toEqual([16, 16])
    const idatLength = view.getUint32(33)
    const raw = inflateSync(png.subarray(41, 41 + idatLength))
    const stride = 16 * 4 + 1
    const px = (x: number, y: number) => [...raw.subarray(y * stride + 1 + x * 4, y * stride + 1 + x * 4 + 4)]
    expect(px(2, 0)).toEqual([255, 0, 0, 255])
    expect(px(3, 1)).toEqual([255, 0, 0, 255])
    expect(px(0, 0)).toEqual([0, 0, 0, 0])
    expect(px(4, 0)).toEqual([0, 0, 0, 0])
  })

  it('encodes an animated GIF with each frame, its delay and transparency', () => {
    const doc = new PixelDocument(8)
    draw(doc, 'pencil', [[0, 0]])
    doc.addFrame()
    draw(doc, 'pencil', [[7, 7]], BLUE)
    doc.setDuration(250)
    const reader = new GifReader(encodeGif(doc.frames))
    expect(reader.numFrames()).toBe(2)
    expect(reader.loopCount()).toBe(0)
    expect(reader.frameInfo(0).delay).toBe(10)
    expect(reader.frameInfo(1).delay).toBe(25)
    const rgbaOut = new Uint8Array(64 * 4)
    reader.decodeAndBlitFrameRGBA(1, rgbaOut)
    expect([...rgbaOut.subarray(63 * 4)]).toEqual([0, 0, 255, 255])
    expect(rgbaOut[3]).toBe(0)
  })

  it('round-trips a draft and refuses a damaged one with a reason', () => {
    const doc = new PixelDocument(16)
    draw(doc, 'pencil', [
      [0, 0],
      [15, 15],
    ])
    doc.addFrame(true)
    doc.setDuration(500)
    const json = JSON.parse(JSON.stringify(serializePiece(doc))) as ReturnType<typeof serializePiece>
    const back = parsePiece(json)
    expect(back.size).toBe(16)
    expect(back.frames.map((f) => f.durationMs)).toEqual([100, 500])
    expect([...back.frames[1]!.bitmap.pixels]).toEqual([...doc.frames[1]!.bitmap.pixels])
    expect(() => parsePiece({ ...json, size: 20 })).toThrow(/unsupported canvas size/)
    expect(() => parsePiece({ ...json, frames: [{ durationMs: 100, pixels: 'AAAA' }] })).toThrow(/frame 1 has 3 bytes/)
    expect(() => parsePiece(null)).toThrow(/not a PixPax piece/)
  })
})
