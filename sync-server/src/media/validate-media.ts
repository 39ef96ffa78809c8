/**
 * validateMedia(bytes): the relay's verdict on an uploaded image (docs/media.md). Pure — no I/O — and
 * ordered so that the cheap checks refuse hostile input before anything is decoded:
 *
 * 1. size (≤ 5 MiB, not empty);
 * 2. magic bytes (file-type): PNG, GIF, WebP or BMP, and the declared content type if one was given;
 * 3. the format's own header and container walk (headers.ts): canvas rule, frame cap, decoded-pixel
 *    budget, a structure that ends where the file ends;
 * 4. the decoder: it must succeed and measure the same format, canvas and frames as the header.
 */
import { createHash } from 'node:crypto'
import { PixpaxError } from '@pixpax/shared'
import { fileTypeFromBuffer } from 'file-type'
import { decodeBmp, decodeGif, decodeWithSharp, gifMetadataWithSharp, type Decoded } from './decoders.js'
import { parseHeader, type BmpFacts, type HeaderFacts } from './headers.js'
import { MEDIA_MAX_BYTES, MEDIA_MAX_DECODED_PIXELS, MEDIA_MIMES, type MediaMime } from './limits.js'
import { mediaInvalid } from './media-error.js'

/** What the relay measured of a media blob; a POST_PUBLISHED's `media` must agree with it. */
export interface MediaInfo {
  /** `sha256:<hex>` of the bytes. */
  hash: string
  mime: MediaMime
  width: number
  height: number
  /** 1 for a still image. */
  frames: number
  /** Distinct RGBA colours over all frames as shown; every fully transparent pixel counts as one. */
  uniqueColors: number
  /** Some shown pixel, in some frame, is not fully opaque. */
  transparent: boolean
  /** Size of the file in bytes. */
  bytes: number
}

export interface ValidateOptions {
  /** The uploader's Content-Type: when it names an image type, the bytes must be that type. */
  declaredMime?: string
}

export const isMediaMime = (value: unknown): value is MediaMime => MEDIA_MIMES.includes(value as MediaMime)

export async function validateMedia(bytes: Uint8Array, options: ValidateOptions = {}): Promise<MediaInfo> {
  if (bytes.length > MEDIA_MAX_BYTES) {
    throw new PixpaxError('MEDIA_TOO_LARGE', `the image is ${bytes.length} bytes; the limit is ${MEDIA_MAX_BYTES} (5 MiB)`, {
      bytes: bytes.length,
      maxBytes: MEDIA_MAX_BYTES,
    })
  }
  if (bytes.length === 0) throw mediaInvalid('size', 'the image is empty')

  const sniffed = await fileTypeFromBuffer(bytes)
  if (!sniffed || !isMediaMime(sniffed.mime)) {
    throw mediaInvalid(
      'format',
      sniffed ? `${sniffed.mime} is not accepted: PNG, GIF, WebP or BMP only` : 'not a recognised image: PNG, GIF, WebP or BMP only',
      { detected: sniffed?.mime ?? null },
    )
  }
  const declared = options.declaredMime?.split(';')[0]?.trim().toLowerCase()
  if (
    declared &&
    declared.startsWith('image/') &&
    declared !== sniffed.mime &&
    !(declared === 'image/x-ms-bmp' && sniffed.mime === 'image/bmp')
  ) {
    throw mediaInvalid('mismatch', `declared ${declared} but the bytes are ${sniffed.mime}`, { declared, detected: sniffed.mime })
  }

  const header = parseHeader(sniffed.mime, bytes)
  const decodedPixels = header.width * header.height * header.frames
  if (decodedPixels > MEDIA_MAX_DECODED_PIXELS) {
    throw mediaInvalid(
      'frames',
      `${header.frames} frames of ${header.width}×${header.height} are over the budget of ${MEDIA_MAX_DECODED_PIXELS} decoded pixels`,
      { frames: header.frames, maxDecodedPixels: MEDIA_MAX_DECODED_PIXELS },
    )
  }

  const decoded = await decode(bytes, header)
  for (const field of ['width', 'height', 'frames'] as const) {
    if (decoded[field] !== header[field]) {
      throw mediaInvalid('mismatch', `the header says ${field} ${header[field]}, the decoder measured ${decoded[field]}`, {
        field,
        header: header[field],
        decoder: decoded[field],
      })
    }
  }
  return {
    hash: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    mime: header.mime,
    width: header.width,
    height: header.height,
    frames: header.frames,
    uniqueColors: decoded.uniqueColors,
    transparent: decoded.transparent,
    bytes: bytes.length,
  }
}

async function decode(bytes: Uint8Array, header: HeaderFacts): Promise<Decoded> {
  const failed = (error: unknown): PixpaxError =>
    error instanceof PixpaxError ? error : mediaInvalid('decode', `the ${header.mime} decoder refused it: ${(error as Error).message}`)
  try {
    switch (header.mime) {
      case 'image/png':
      case 'image/webp': {
        const expected = header.mime === 'image/png' ? 'png' : 'webp'
        const decoded = await decodeWithSharp(bytes, expected)
        if (decoded.format !== expected) throw mediaInvalid('mismatch', `magic bytes say ${expected}, the decoder read ${decoded.format}`)
        return decoded
      }
      case 'image/gif': {
        const meta = await gifMetadataWithSharp(bytes)
        if (meta.format !== 'gif') throw mediaInvalid('mismatch', `magic bytes say gif, the decoder read ${meta.format}`)
        const decoded = decodeGif(bytes)
        for (const field of ['width', 'height', 'frames'] as const) {
          if (meta[field] !== decoded[field]) {
            throw mediaInvalid('mismatch', `the GIF decoders disagree on ${field}: ${meta[field]} and ${decoded[field]}`)
          }
        }
        return decoded
      }
      case 'image/bmp':
        return decodeBmp(bytes, header as BmpFacts)
    }
  } catch (error) {
    throw failed(error)
  }
}
