/**
 * The drawing surface: one <canvas> sized to the piece × zoom, drawn with smoothing off so pixels stay
 * square. Pointer events (mouse, pen, touch) with pointer capture; every coalesced event is used, so a
 * fast stroke has no gaps. A keyboard cursor (arrow keys, Space to apply) makes it usable without a
 * pointer.
 */
import { useLayoutEffect, useRef } from 'preact/hooks'
import { toRgba, type Bitmap } from '../model/bitmap.js'
import type { Point } from '../model/tools.js'

export interface PixelCanvasProps {
  bitmap: Bitmap
  /** Bumped by the editor whenever pixels changed (the bitmap is mutated in place). */
  version: number
  zoom: number
  grid: boolean
  cursor: Point | undefined
  label: string
  onStrokeStart: (at: Point) => void
  onStrokeMove: (at: Point) => void
  onStrokeEnd: () => void
  onKeyDown: (event: KeyboardEvent) => void
  /**
   * Set to a function that redraws the canvas from the (mutated) bitmap at once: the editor calls it on
   * every pointer sample of a stroke instead of re-rendering the whole screen per sample.
   */
  redrawRef?: { current: (() => void) | undefined }
}

export function PixelCanvas(props: PixelCanvasProps) {
  const canvas = useRef<HTMLCanvasElement>(null)
  const source = useRef<HTMLCanvasElement | undefined>(undefined)
  const drawing = useRef(false)
  const { bitmap, zoom, grid, cursor } = props

  const draw = () => {
    const el = canvas.current
    if (!el) return
    source.current ??= document.createElement('canvas')
    const src = source.current
    src.width = bitmap.width
    src.height = bitmap.height
    src.getContext('2d')!.putImageData(new ImageData(toRgba(bitmap) as Uint8ClampedArray<ArrayBuffer>, bitmap.width, bitmap.height), 0, 0)
    const ctx = el.getContext('2d')!
    ctx.imageSmoothingEnabled = false
    ctx.clearRect(0, 0, el.width, el.height)
    ctx.drawImage(src, 0, 0, el.width, el.height)
    if (grid && zoom >= 4) {
      ctx.strokeStyle = 'rgba(128, 128, 128, 0.35)'
      ctx.lineWidth = 1
      ctx.beginPath()
      for (let i = 1; i < bitmap.width; i++) {
        ctx.moveTo(i * zoom + 0.5, 0)
        ctx.lineTo(i * zoom + 0.5, el.height)
        ctx.moveTo(0, i * zoom + 0.5)
        ctx.lineTo(el.width, i * zoom + 0.5)
      }
      ctx.stroke()
    }
    if (cursor) {
      ctx.strokeStyle = '#29adff'
      ctx.lineWidth = 2
      ctx.strokeRect(cursor.x * zoom + 1, cursor.y * zoom + 1, zoom - 2, zoom - 2)
    }
  }
  if (props.redrawRef) props.redrawRef.current = draw
  // A layout effect, not useEffect: Preact runs effects after the next paint, which put every stroke's
  // pixels on screen a frame late (p95 31 ms pointer → pixel on 64×64); drawn before the paint, they
  // show in the frame that handled the pointer event.
  useLayoutEffect(draw, [bitmap, props.version, zoom, grid, cursor])

  const toPixel = (event: PointerEvent): Point => {
    const rect = canvas.current!.getBoundingClientRect()
    return {
      x: Math.floor(((event.clientX - rect.left) / rect.width) * bitmap.width),
      y: Math.floor(((event.clientY - rect.top) / rect.height) * bitmap.height),
    }
  }

  return (
    <canvas
      ref={canvas}
      class="pixel-canvas"
      data-testid="pixel-canvas"
      data-size={bitmap.width}
      width={bitmap.width * zoom}
      height={bitmap.height * zoom}
      tabIndex={0}
      role="img"
      aria-label={props.label}
      aria-roledescription="drawing canvas"
      onPointerDown={(event) => {
        if (event.button !== 0 && event.pointerType === 'mouse') return
        event.preventDefault()
        canvas.current!.setPointerCapture(event.pointerId)
        canvas.current!.focus()
        drawing.current = true
        props.onStrokeStart(toPixel(event))
      }}
      onPointerMove={(event) => {
        if (!drawing.current) return
        const events = event.getCoalescedEvents?.() ?? []
        for (const e of events.length > 0 ? events : [event]) props.onStrokeMove(toPixel(e))
      }}
      onPointerUp={() => {
        if (!drawing.current) return
        drawing.current = false
        props.onStrokeEnd()
      }}
      onPointerCancel={() => {
        if (!drawing.current) return
        drawing.current = false
        props.onStrokeEnd()
      }}
      onKeyDown={props.onKeyDown}
    />
  )
}
