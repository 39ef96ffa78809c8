/**
 * The piece being drawn: square frames of one size, each with its own display time (animation), and
 * an undo/redo history. Pixel edits are recorded as diffs (only the pixels a stroke changed), frame
 * edits (add, duplicate, delete, move, timing) as whole frame lists — they are rare and small.
 */
import { cloneBitmap, createBitmap, type Bitmap, type CanvasSize } from './bitmap.js'

export interface Frame {
  bitmap: Bitmap
  /** How long this frame shows in the animation, in milliseconds. */
  durationMs: number
}

export const DEFAULT_FRAME_MS = 100
export const MIN_FRAME_MS = 20
export const MAX_FRAME_MS = 10_000
export const MAX_FRAMES = 64
export const HISTORY_LIMIT = 200

type HistoryEntry =
  | { kind: 'pixels'; frame: number; indices: Uint32Array; before: Uint32Array; after: Uint32Array }
  | { kind: 'frames'; before: FrameState; after: FrameState }

interface FrameState {
  frames: Frame[]
  current: number
}

function cloneFrames(frames: readonly Frame[]): Frame[] {
  return frames.map((f) => ({ bitmap: cloneBitmap(f.bitmap), durationMs: f.durationMs }))
}

export function clampDuration(ms: number): number {
  if (!Number.isFinite(ms)) return DEFAULT_FRAME_MS
  return Math.min(MAX_FRAME_MS, Math.max(MIN_FRAME_MS, Math.round(ms)))
}

export class PixelDocument {
  frames: Frame[]
  current = 0
  private readonly undoStack: HistoryEntry[] = []
  private readonly redoStack: HistoryEntry[] = []

  constructor(
    readonly size: CanvasSize,
    frames?: Frame[],
  ) {
    this.frames = frames && frames.length > 0 ? frames : [{ bitmap: createBitmap(size), durationMs: DEFAULT_FRAME_MS }]
    for (const f of this.frames) {
      if (f.bitmap.width !== size || f.bitmap.height !== size) throw new RangeError(`every frame must be ${size}×${size}`)
    }
  }

  get bitmap(): Bitmap {
    return this.frames[this.current]!.bitmap
  }

  get canUndo(): boolean {
    return this.undoStack.length > 0
  }

  get canRedo(): boolean {
    return this.redoStack.length > 0
  }

  /**
   * Records that the current frame changed from `before` (its pixels at the start of a stroke) to
   * what it is now. Nothing is recorded when no pixel differs.
   */
  commitPixels(before: Bitmap): boolean {
    const now = this.bitmap.pixels
    const changed: number[] = []
    for (let i = 0; i < now.length; i++) if (now[i] !== before.pixels[i]) changed.push(i)
    if (changed.length === 0) return false
    const indices = Uint32Array.from(changed)
    this.push({
      kind: 'pixels',
      frame: this.current,
      indices,
      before: indices.map((i) => before.pixels[i]!),
      after: indices.map((i) => now[i]!),
    })
    return true
  }

  private push(entry: HistoryEntry): void {
    this.undoStack.push(entry)
    if (this.undoStack.length > HISTORY_LIMIT) this.undoStack.shift()
    this.redoStack.length = 0
  }

  private editFrames(change: (state: FrameState) => void): void {
    const before = { frames: cloneFrames(this.frames), current: this.current }
    const state = { frames: cloneFrames(this.frames), current: this.current }
    change(state)
    this.frames = state.frames
    this.current = Math.min(Math.max(0, state.current), state.frames.length - 1)
    this.push({ kind: 'frames', before, after: { frames: cloneFrames(this.frames), current: this.current } })
  }

  undo(): boolean {
    const entry = this.undoStack.pop()
    if (!entry) return false
    this.applyEntry(entry, 'before')
    this.redoStack.push(entry)
    return true
  }

  redo(): boolean {
    const entry = this.redoStack.pop()
    if (!entry) return false
    this.applyEntry(entry, 'after')
    this.undoStack.push(entry)
    return true
  }

  private applyEntry(entry: HistoryEntry, side: 'before' | 'after'): void {
    if (entry.kind === 'pixels') {
      const pixels = this.frames[entry.frame]!.bitmap.pixels
      const values = entry[side]
      entry.indices.forEach((i, n) => (pixels[i] = values[n]!))
      this.current = entry.frame
    } else {
      const state = entry[side]
      this.frames = cloneFrames(state.frames)
      this.current = state.current
    }
  }

  selectFrame(index: number): void {
    if (index >= 0 && index < this.frames.length) this.current = index
  }

  /** Adds a blank frame after the current one (or a copy of it) and selects it. */
  addFrame(copy = false): boolean {
    if (this.frames.length >= MAX_FRAMES) return false
    this.editFrames((s) => {
      const from = s.frames[s.current]!
      const bitmap = copy ? cloneBitmap(from.bitmap) : createBitmap(this.size)
      s.frames.splice(s.current + 1, 0, { bitmap, durationMs: from.durationMs })
      s.current += 1
    })
    return true
  }

  deleteFrame(): boolean {
    if (this.frames.length <= 1) return false
    this.editFrames((s) => {
      s.frames.splice(s.current, 1)
      s.current = Math.min(s.current, s.frames.length - 1)
    })
    return true
  }

  /** Moves the current frame by `delta` places (−1: earlier). */
  moveFrame(delta: number): boolean {
    const to = this.current + delta
    if (to < 0 || to >= this.frames.length || delta === 0) return false
    this.editFrames((s) => {
      const [frame] = s.frames.splice(s.current, 1)
      s.frames.splice(to, 0, frame!)
      s.current = to
    })
    return true
  }

  setDuration(ms: number): void {
    const durationMs = clampDuration(ms)
    if (this.frames[this.current]!.durationMs === durationMs) return
    this.editFrames((s) => {
      s.frames[s.current]!.durationMs = durationMs
    })
  }

  /** Which frame shows `elapsedMs` into the looping animation. */
  frameAt(elapsedMs: number): number {
    const total = this.frames.reduce((sum, f) => sum + f.durationMs, 0)
    let t = ((elapsedMs % total) + total) % total
    for (let i = 0; i < this.frames.length; i++) {
      t -= this.frames[i]!.durationMs
      if (t < 0) return i
    }
    return this.frames.length - 1
  }
}
