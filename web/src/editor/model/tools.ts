/**
 * Drawing tools as pure functions over a Bitmap. A stroke is what one pointer press does: from the
 * press to the release, the tool sees every pointer position (in canvas pixels) and changes pixels.
 * Line and rectangle are previews until release: the stroke redraws them from the pixels as they were
 * at the press. Mirror (horizontal symmetry) applies to every painting tool.
 */
import { cloneBitmap, getPixel, inBounds, setPixel, TRANSPARENT, type Bitmap } from './bitmap.js'

export type ToolId = 'pencil' | 'eraser' | 'fill' | 'line' | 'rect' | 'eyedropper'

export const TOOLS: ReadonlyArray<{ id: ToolId; label: string; key: string }> = [
  { id: 'pencil', label: 'Pencil', key: 'b' },
  { id: 'eraser', label: 'Eraser', key: 'e' },
  { id: 'fill', label: 'Fill', key: 'f' },
  { id: 'line', label: 'Line', key: 'l' },
  { id: 'rect', label: 'Rectangle', key: 'r' },
  { id: 'eyedropper', label: 'Eyedropper', key: 'i' },
]

export interface Point {
  x: number
  y: number
}

export interface ToolOptions {
  color: number
  /** Horizontal mirror: every painted pixel is also painted at (width − 1 − x, y). */
  mirror: boolean
}

/** Every integer point on the segment a→b (Bresenham), both ends included. */
export function linePoints(a: Point, b: Point): Point[] {
  const points: Point[] = []
  let { x, y } = a
  const dx = Math.abs(b.x - x)
  const dy = -Math.abs(b.y - y)
  const sx = x < b.x ? 1 : -1
  const sy = y < b.y ? 1 : -1
  let err = dx + dy
  for (;;) {
    points.push({ x, y })
    if (x === b.x && y === b.y) return points
    const e2 = 2 * err
    if (e2 >= dy) {
      err += dy
      x += sx
    }
    if (e2 <= dx) {
      err += dx
      y += sy
    }
  }
}

/** The outline of the rectangle with corners a and b. */
export function rectPoints(a: Point, b: Point): Point[] {
  const [x0, x1] = [Math.min(a.x, b.x), Math.max(a.x, b.x)]
  const [y0, y1] = [Math.min(a.y, b.y), Math.max(a.y, b.y)]
  const points: Point[] = []
  for (let x = x0; x <= x1; x++) points.push({ x, y: y0 }, { x, y: y1 })
  for (let y = y0 + 1; y < y1; y++) points.push({ x: x0, y }, { x: x1, y })
  return points
}

function paint(bitmap: Bitmap, points: Iterable<Point>, color: number, mirror: boolean): boolean {
  let changed = false
  for (const { x, y } of points) {
    changed = setPixel(bitmap, x, y, color) || changed
    if (mirror) changed = setPixel(bitmap, bitmap.width - 1 - x, y, color) || changed
  }
  return changed
}

/** Flood fill (4-connected) of the region of `at`'s colour; returns whether anything changed. */
export function floodFill(bitmap: Bitmap, at: Point, color: number): boolean {
  if (!inBounds(bitmap, at.x, at.y)) return false
  const target = getPixel(bitmap, at.x, at.y)
  const c = color >>> 0
  if (target === c) return false
  const { width, height, pixels } = bitmap
  const stack = [at.y * width + at.x]
  while (stack.length > 0) {
    const i = stack.pop()!
    if (pixels[i] !== target) continue
    pixels[i] = c
    const x = i % width
    if (x > 0) stack.push(i - 1)
    if (x < width - 1) stack.push(i + 1)
    if (i >= width) stack.push(i - width)
    if (i < width * (height - 1)) stack.push(i + width)
  }
  return true
}

/** One pointer press of one tool, from down to up. */
export class Stroke {
  private readonly before: Bitmap
  private last: Point
  /** Set by the eyedropper: the colour it picked. */
  picked: number | undefined

  constructor(
    readonly tool: ToolId,
    private readonly bitmap: Bitmap,
    private readonly options: ToolOptions,
    private readonly start: Point,
  ) {
    this.before = cloneBitmap(bitmap)
    this.last = start
    this.apply(start)
  }

  /** The pixels as they were when the stroke began (for history). */
  get original(): Bitmap {
    return this.before
  }

  /** The pointer moved to `to`; returns whether pixels changed. */
  move(to: Point): boolean {
    const changed = this.apply(to)
    this.last = to
    return changed
  }

  private apply(to: Point): boolean {
    const { color, mirror } = this.options
    switch (this.tool) {
      case 'pencil':
        return paint(this.bitmap, linePoints(this.last, to), color, mirror)
      case 'eraser':
        return paint(this.bitmap, linePoints(this.last, to), TRANSPARENT, mirror)
      case 'fill': {
        if (to !== this.start) return false
        const changed = floodFill(this.bitmap, to, color)
        if (mirror) return floodFill(this.bitmap, { x: this.bitmap.width - 1 - to.x, y: to.y }, color) || changed
        return changed
      }
      case 'line':
      case 'rect': {
        this.bitmap.pixels.set(this.before.pixels)
        const points = this.tool === 'line' ? linePoints(this.start, to) : rectPoints(this.start, to)
        paint(this.bitmap, points, color, mirror)
        return true
      }
      case 'eyedropper':
        if (inBounds(this.bitmap, to.x, to.y)) this.picked = getPixel(this.bitmap, to.x, to.y)
        return false
    }
  }
}
