/**
 * PNG encoder (RGBA, 8 bits, no filter) for one frame, optionally scaled up by an integer factor with
 * nearest-neighbour so pixel art stays crisp. Compression uses the platform's CompressionStream
 * ('deflate' = zlib, what PNG's IDAT holds), present in browsers and Node ≥ 18, so the same code runs in
 * the page and in unit tests.
 */
import { toRgba, type Bitmap } from './bitmap.js'

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)

let crcTable: Uint32Array | undefined
function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      crcTable[n] = c >>> 0
    }
  }
  let crc = 0xffffffff
  for (const b of bytes) crc = crcTable[(crc ^ b) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, data.length)
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i)
  out.set(data, 8)
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)))
  return out
}

async function deflate(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new CompressionStream('deflate'))
  return new Uint8Array(await new Response(stream).arrayBuffer())
}

/** Scales RGBA pixels by an integer factor (nearest neighbour). */
export function scaleRgba(rgba: Uint8ClampedArray, width: number, height: number, scale: number): Uint8ClampedArray {
  if (scale === 1) return rgba
  const w = width * scale
  const out = new Uint8ClampedArray(w * height * scale * 4)
  const src = new Uint32Array(rgba.buffer, rgba.byteOffset, width * height)
  const dst = new Uint32Array(out.buffer)
  for (let y = 0; y < height * scale; y++) {
    const row = Math.floor(y / scale) * width
    for (let x = 0; x < w; x++) dst[y * w + x] = src[row + Math.floor(x / scale)]!
  }
  return out
}

export async function encodePng(bitmap: Bitmap, scale = 1): Promise<Uint8Array> {
  if (!Number.isInteger(scale) || scale < 1 || scale > 64) throw new RangeError('scale must be an integer 1…64')
  const width = bitmap.width * scale
  const height = bitmap.height * scale
  const rgba = scaleRgba(toRgba(bitmap), bitmap.width, bitmap.height, scale)
  const ihdr = new Uint8Array(13)
  const view = new DataView(ihdr.buffer)
  view.setUint32(0, width)
  view.setUint32(4, height)
  ihdr.set([8, 6, 0, 0, 0], 8) // 8-bit RGBA, deflate, no filter method variants, no interlace
  const raw = new Uint8Array((width * 4 + 1) * height)
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0 // filter: none
    raw.set(rgba.subarray(y * width * 4, (y + 1) * width * 4), y * (width * 4 + 1) + 1)
  }
  const parts = [SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', await deflate(raw)), chunk('IEND', new Uint8Array(0))]
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}
