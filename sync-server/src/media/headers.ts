/**
 * Cheap structural parsers for the four formats, run before any decoder sees the bytes: they read the
 * canvas size from the header and count frames by walking the container (PNG chunks, GIF blocks, RIFF
 * chunks), so a 60000×60000 header or a 20,000-frame GIF is refused after reading a few bytes per frame,
 * and they insist that the structure accounts for every byte (anything after the image's end is how a
 * polyglot hides a second file). They do not decompress pixels: the decoders do that, and must agree.
 */
import { crc32 } from 'node:zlib'
import { isAllowedCanvas, MEDIA_MAX_FRAMES, type MediaMime } from './limits.js'
import { mediaInvalid } from './media-error.js'

export interface HeaderFacts {
  mime: MediaMime
  width: number
  height: number
  frames: number
}

/** BMP specifics the decoder needs (see bmp-decode in decoders.ts). */
export interface BmpFacts extends HeaderFacts {
  mime: 'image/bmp'
  bitsPerPixel: number
  /** Where bmp-ts starts reading pixels (it ignores the header's pixel offset) and where they really are. */
  decoderPixelStart: number
  pixelOffset: number
  headerSize: number
  compression: number
  /** The alpha bit mask for 16/32-bit bit-field images (0: no alpha channel, the image is opaque). */
  alphaMask: number
}

/** A bounds-checked little/big-endian reader: reading past the end is a truncated file. */
class Reader {
  private readonly view: DataView
  constructor(
    readonly bytes: Uint8Array,
    private readonly format: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
  need(offset: number, length: number): void {
    if (offset < 0 || offset + length > this.bytes.length) {
      throw mediaInvalid(
        'decode',
        `the ${this.format} is truncated: it ends at byte ${this.bytes.length}, structure needs ${offset + length}`,
      )
    }
  }
  u8(o: number): number {
    this.need(o, 1)
    return this.bytes[o]!
  }
  u16le(o: number): number {
    this.need(o, 2)
    return this.view.getUint16(o, true)
  }
  u24le(o: number): number {
    this.need(o, 3)
    return this.bytes[o]! | (this.bytes[o + 1]! << 8) | (this.bytes[o + 2]! << 16)
  }
  u32le(o: number): number {
    this.need(o, 4)
    return this.view.getUint32(o, true)
  }
  i32le(o: number): number {
    this.need(o, 4)
    return this.view.getInt32(o, true)
  }
  u32be(o: number): number {
    this.need(o, 4)
    return this.view.getUint32(o, false)
  }
  ascii(o: number, length: number): string {
    this.need(o, length)
    return String.fromCharCode(...this.bytes.subarray(o, o + length))
  }
}

function checkCanvas(format: string, width: number, height: number): void {
  if (!isAllowedCanvas(width, height)) {
    throw mediaInvalid(
      'dimensions',
      `a ${width}×${height} ${format} canvas is not allowed: at most 256×256, and below 128 on a side only the Makapix sizes`,
      { width, height },
    )
  }
}

function checkFrameCount(frames: number): void {
  if (frames > MEDIA_MAX_FRAMES) {
    throw mediaInvalid('frames', `more than ${MEDIA_MAX_FRAMES} frames`, { maxFrames: MEDIA_MAX_FRAMES })
  }
}

function trailing(format: string, end: number, length: number): never {
  throw mediaInvalid('mismatch', `${length - end} bytes follow the end of the ${format} (a second file hidden behind the image?)`, {
    end,
    length,
  })
}

// ------------------------------------------------------------------------------------------------
// PNG: signature, IHDR first, chunks up to IEND (which must be the last byte). APNG (acTL) is refused:
// our decoder sees only its first frame, so frames would be measured wrong.

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
const PNG_DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] }

export function parsePngHeader(bytes: Uint8Array): HeaderFacts {
  const r = new Reader(bytes, 'PNG')
  r.need(0, 8)
  if (PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) throw mediaInvalid('mismatch', 'not a PNG signature')
  if (r.u32be(8) !== 13 || r.ascii(12, 4) !== 'IHDR') throw mediaInvalid('decode', 'a PNG must start with a 13-byte IHDR chunk')
  const width = r.u32be(16)
  const height = r.u32be(20)
  checkCanvas('PNG', width, height)
  const depth = r.u8(24)
  const colorType = r.u8(25)
  if (!PNG_DEPTHS[colorType]?.includes(depth) || r.u8(26) !== 0 || r.u8(27) !== 0 || r.u8(28) > 1) {
    throw mediaInvalid('decode', `PNG IHDR has an invalid colour type ${colorType} / bit depth ${depth} / method`)
  }
  let offset = 8 + 12 + 13
  let idat = false
  for (;;) {
    const length = r.u32be(offset)
    if (length > 0x7fffffff) throw mediaInvalid('decode', 'a PNG chunk length is over 2^31-1')
    const type = r.ascii(offset + 4, 4)
    r.need(offset + 8, length + 4)
    // Our decoder does not check chunk CRCs of image data: a flipped byte would decode to other pixels.
    if (crc32(bytes.subarray(offset + 4, offset + 8 + length)) !== r.u32be(offset + 8 + length)) {
      throw mediaInvalid('decode', `PNG chunk ${type} at byte ${offset} fails its CRC`)
    }
    offset += 12 + length
    if (type === 'acTL') throw mediaInvalid('format', 'animated PNG (APNG) is not supported: upload a GIF or WebP animation')
    if (type === 'IDAT') idat = true
    if (type === 'IEND') break
  }
  if (!idat) throw mediaInvalid('decode', 'the PNG has no IDAT chunk')
  if (offset !== bytes.length) trailing('PNG', offset, bytes.length)
  return { mime: 'image/png', width, height, frames: 1 }
}

// ------------------------------------------------------------------------------------------------
// GIF: logical screen, then blocks — extensions (sub-block chains), image descriptors (one frame each:
// optional local colour table, LZW code size, data sub-blocks) — up to the trailer 0x3B, the last byte
// (or the end of the file, right after a block).

function skipSubBlocks(r: Reader, offset: number): number {
  for (;;) {
    const size = r.u8(offset)
    offset += 1
    if (size === 0) return offset
    r.need(offset, size)
    offset += size
  }
}

export function parseGifHeader(bytes: Uint8Array): HeaderFacts {
  const r = new Reader(bytes, 'GIF')
  const magic = r.ascii(0, 6)
  if (magic !== 'GIF87a' && magic !== 'GIF89a') throw mediaInvalid('mismatch', 'not a GIF signature')
  const width = r.u16le(6)
  const height = r.u16le(8)
  checkCanvas('GIF', width, height)
  const packed = r.u8(10)
  const globalPalette = (packed & 0x80) !== 0
  let offset = 13
  if (globalPalette) offset += 3 * (1 << ((packed & 7) + 1))
  let frames = 0
  for (;;) {
    // Encoders that omit the trailer are common enough, and browsers show their GIFs: a file that ends
    // right after a complete block is read as if the trailer were there.
    if (offset === bytes.length && frames > 0) break
    const block = r.u8(offset)
    if (block === 0x3b) {
      offset += 1
      break
    }
    if (block === 0x21) {
      r.u8(offset + 1) // label
      offset = skipSubBlocks(r, offset + 2)
    } else if (block === 0x2c) {
      const left = r.u16le(offset + 1)
      const top = r.u16le(offset + 3)
      const w = r.u16le(offset + 5)
      const h = r.u16le(offset + 7)
      const local = r.u8(offset + 9)
      if (left + w > width || top + h > height) {
        throw mediaInvalid('dimensions', `GIF frame ${frames} (${w}×${h} at ${left},${top}) lies outside the ${width}×${height} canvas`)
      }
      frames += 1
      checkFrameCount(frames)
      offset += 10
      if (local & 0x80) offset += 3 * (1 << ((local & 7) + 1))
      else if (!globalPalette) throw mediaInvalid('decode', `GIF frame ${frames - 1} has no colour table (neither local nor global)`)
      const codeSize = r.u8(offset)
      if (codeSize < 1 || codeSize > 11) throw mediaInvalid('decode', `GIF frame ${frames - 1} has an invalid LZW code size ${codeSize}`)
      offset = skipSubBlocks(r, offset + 1)
    } else {
      throw mediaInvalid('decode', `unknown GIF block 0x${block.toString(16)} at byte ${offset}`)
    }
  }
  if (frames === 0) throw mediaInvalid('frames', 'the GIF has no frame')
  if (offset !== bytes.length) trailing('GIF', offset, bytes.length)
  return { mime: 'image/gif', width, height, frames }
}

// ------------------------------------------------------------------------------------------------
// WebP: a RIFF container that must span the file exactly. Simple lossy (VP8) or lossless (VP8L), or
// extended (VP8X) whose canvas size is in its header and whose animation frames are ANMF chunks.

export function parseWebpHeader(bytes: Uint8Array): HeaderFacts {
  const r = new Reader(bytes, 'WebP')
  if (r.ascii(0, 4) !== 'RIFF' || r.ascii(8, 4) !== 'WEBP') throw mediaInvalid('mismatch', 'not a RIFF/WEBP signature')
  const riffEnd = 8 + r.u32le(4)
  if (riffEnd > bytes.length)
    throw mediaInvalid('decode', `the WebP is truncated: RIFF says ${riffEnd} bytes, the file has ${bytes.length}`)
  if (riffEnd < bytes.length) trailing('WebP', riffEnd, bytes.length)
  const chunks: { type: string; data: number; size: number }[] = []
  let offset = 12
  while (offset < riffEnd) {
    const type = r.ascii(offset, 4)
    const size = r.u32le(offset + 4)
    r.need(offset + 8, size)
    chunks.push({ type, data: offset + 8, size })
    offset += 8 + size + (size & 1)
  }
  if (offset !== riffEnd) throw mediaInvalid('decode', 'a WebP chunk runs past the RIFF end')
  const first = chunks[0]
  if (!first) throw mediaInvalid('decode', 'the WebP has no chunk')
  let width: number
  let height: number
  let frames = 1
  if (first.type === 'VP8 ') {
    if (r.u8(first.data + 3) !== 0x9d || r.u8(first.data + 4) !== 0x01 || r.u8(first.data + 5) !== 0x2a) {
      throw mediaInvalid('decode', 'VP8 frame has no start code')
    }
    width = r.u16le(first.data + 6) & 0x3fff
    height = r.u16le(first.data + 8) & 0x3fff
    checkCanvas('WebP', width, height)
  } else if (first.type === 'VP8L') {
    if (r.u8(first.data) !== 0x2f) throw mediaInvalid('decode', 'VP8L chunk has no signature byte')
    const bits = r.u32le(first.data + 1)
    width = (bits & 0x3fff) + 1
    height = ((bits >>> 14) & 0x3fff) + 1
    checkCanvas('WebP', width, height)
  } else if (first.type === 'VP8X') {
    if (first.size < 10) throw mediaInvalid('decode', 'VP8X chunk is too short')
    const flags = r.u8(first.data)
    width = r.u24le(first.data + 4) + 1
    height = r.u24le(first.data + 7) + 1
    checkCanvas('WebP', width, height)
    if (flags & 0x02) {
      if (!chunks.some((c) => c.type === 'ANIM')) throw mediaInvalid('decode', 'animated WebP without an ANIM chunk')
      frames = 0
      for (const chunk of chunks) {
        if (chunk.type !== 'ANMF') continue
        if (chunk.size < 16) throw mediaInvalid('decode', 'ANMF chunk is too short')
        const x = r.u24le(chunk.data) * 2
        const y = r.u24le(chunk.data + 3) * 2
        const w = r.u24le(chunk.data + 6) + 1
        const h = r.u24le(chunk.data + 9) + 1
        if (x + w > width || y + h > height) {
          throw mediaInvalid('dimensions', `WebP frame ${frames} (${w}×${h} at ${x},${y}) lies outside the ${width}×${height} canvas`)
        }
        frames += 1
        checkFrameCount(frames)
      }
      if (frames === 0) throw mediaInvalid('frames', 'the animated WebP has no frame')
    } else if (!chunks.some((c) => c.type === 'VP8 ' || c.type === 'VP8L')) {
      throw mediaInvalid('decode', 'the WebP has no image data chunk')
    }
  } else {
    throw mediaInvalid('decode', `a WebP must start with VP8, VP8L or VP8X, not ${JSON.stringify(first.type)}`)
  }
  return { mime: 'image/webp', width, height, frames }
}

// ------------------------------------------------------------------------------------------------
// BMP: Windows BITMAPINFOHEADER and its V2–V5 extensions (what bmp-ts reads), uncompressed or with bit
// fields; RLE, JPEG/PNG-in-BMP and OS/2 headers are refused. The pixel array must lie inside the file.

const BMP_HEADERS = new Set([40, 52, 56, 108, 124])
const BMP_DEPTHS = new Set([1, 4, 8, 16, 24, 32])
const BI_RGB = 0
const BI_BITFIELDS = 3
const BI_ALPHABITFIELDS = 6

export function parseBmpHeader(bytes: Uint8Array): BmpFacts {
  const r = new Reader(bytes, 'BMP')
  if (r.ascii(0, 2) !== 'BM') throw mediaInvalid('mismatch', 'not a BMP signature')
  const fileSize = r.u32le(2)
  const pixelOffset = r.u32le(10)
  const headerSize = r.u32le(14)
  if (!BMP_HEADERS.has(headerSize)) throw mediaInvalid('format', `BMP header size ${headerSize} is not supported (Windows V1–V5 only)`)
  const width = r.i32le(18)
  const rawHeight = r.i32le(22)
  const height = Math.abs(rawHeight)
  checkCanvas('BMP', width, height)
  const planes = r.u16le(26)
  const bitsPerPixel = r.u16le(28)
  const compression = r.u32le(30)
  const colors = r.u32le(46)
  if (planes !== 1 || !BMP_DEPTHS.has(bitsPerPixel))
    throw mediaInvalid('decode', `BMP with ${planes} planes at ${bitsPerPixel} bits per pixel`)
  const bitFields = compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS
  if (!(compression === BI_RGB || (bitFields && (bitsPerPixel === 16 || bitsPerPixel === 32)))) {
    throw mediaInvalid('format', `BMP compression ${compression} is not supported (uncompressed or bit fields only)`)
  }
  if (colors > 256 || (bitsPerPixel <= 8 && colors > 2 ** bitsPerPixel)) throw mediaInvalid('decode', `BMP palette of ${colors} colours`)
  // Mirror where bmp-ts's cursor is after the headers, masks and palette: it reads pixels from there.
  let cursor = 14 + 40
  if (headerSize > 40 || bitFields) cursor += 12
  if (headerSize > 52 || compression === BI_ALPHABITFIELDS) cursor += 4
  cursor = Math.max(cursor, 14 + headerSize)
  if (bitsPerPixel <= 8 || colors > 0) cursor += 4 * (colors === 0 ? 2 ** bitsPerPixel : colors)
  if (pixelOffset < cursor) throw mediaInvalid('decode', `BMP pixel data at ${pixelOffset} overlaps its headers (which end at ${cursor})`)
  const pixelEnd = pixelOffset + Math.ceil((width * bitsPerPixel) / 32) * 4 * height
  r.need(0, pixelEnd)
  // Writers pad the file a little (bmp-ts adds 2 bytes); a whole second file does not fit in 4.
  const end = Math.max(pixelEnd, Math.min(fileSize, bytes.length))
  if (bytes.length > end + 4) trailing('BMP', end, bytes.length)
  const alphaMask = bitFields && (headerSize >= 56 || compression === BI_ALPHABITFIELDS) ? r.u32le(66) : 0
  return {
    mime: 'image/bmp',
    width,
    height,
    frames: 1,
    bitsPerPixel,
    decoderPixelStart: cursor,
    pixelOffset,
    headerSize,
    compression,
    alphaMask,
  }
}

/** The structural facts of `bytes` as the format `mime` (chosen by magic bytes). */
export function parseHeader(mime: MediaMime, bytes: Uint8Array): HeaderFacts {
  switch (mime) {
    case 'image/png':
      return parsePngHeader(bytes)
    case 'image/gif':
      return parseGifHeader(bytes)
    case 'image/webp':
      return parseWebpHeader(bytes)
    case 'image/bmp':
      return parseBmpHeader(bytes)
  }
}
