/** The animation preview: plays the frames at their own timings, small and crisp. */
import { useEffect, useRef } from 'preact/hooks'
import { toRgba } from '../model/bitmap.js'
import type { PixelDocument } from '../model/document.js'

export function AnimationPreview(props: { doc: PixelDocument; version: number; playing: boolean }) {
  const canvas = useRef<HTMLCanvasElement>(null)
  const { doc, playing } = props
  useEffect(() => {
    const el = canvas.current
    if (!el) return
    const ctx = el.getContext('2d')!
    const images = doc.frames.map((f) => new ImageData(toRgba(f.bitmap) as Uint8ClampedArray<ArrayBuffer>, doc.size, doc.size))
    let raf = 0
    const start = performance.now()
    let shown = -1
    const tick = () => {
      const index = playing ? doc.frameAt(performance.now() - start) : doc.current
      if (index !== shown) {
        ctx.clearRect(0, 0, doc.size, doc.size)
        ctx.putImageData(images[index]!, 0, 0)
        shown = index
      }
      if (playing) raf = requestAnimationFrame(tick)
    }
    tick()
    return () => cancelAnimationFrame(raf)
  }, [doc, props.version, playing])
  return <canvas ref={canvas} class="preview" width={doc.size} height={doc.size} role="img" aria-label="Animation preview" />
}
