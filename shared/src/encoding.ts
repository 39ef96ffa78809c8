/**
 * Byte encodings used by the receipt format, written for every runtime (no Buffer, no atob): standard
 * base64 with padding for signatures, unpadded base64url for JWK coordinates and key ids, lowercase hex
 * for hashes. Decoders are strict — they accept exactly one spelling of each byte string — because a
 * receipt must have exactly one valid encoding.
 */
import { bytesToHex as nobleBytesToHex, hexToBytes as nobleHexToBytes } from '@noble/hashes/utils.js'

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

function makeDecodeTable(alphabet: string): Int16Array {
  const table = new Int16Array(128).fill(-1)
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i
  return table
}
const B64_DECODE = makeDecodeTable(B64)
const B64URL_DECODE = makeDecodeTable(B64URL)

function encode(bytes: Uint8Array, alphabet: string, pad: boolean): string {
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out += alphabet[(n >> 18) & 63]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + alphabet[n & 63]!
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = bytes[i]! << 16
    out += alphabet[(n >> 18) & 63]! + alphabet[(n >> 12) & 63]! + (pad ? '==' : '')
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8)
    out += alphabet[(n >> 18) & 63]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + (pad ? '=' : '')
  }
  return out
}

function decode(text: string, table: Int16Array, pad: boolean): Uint8Array | undefined {
  let body = text
  if (pad) {
    if (text.length % 4 !== 0) return undefined
    if (text.endsWith('==')) body = text.slice(0, -2)
    else if (text.endsWith('=')) body = text.slice(0, -1)
  }
  if (body.length % 4 === 1) return undefined
  const out = new Uint8Array(Math.floor((body.length * 3) / 4))
  let acc = 0
  let bits = 0
  let o = 0
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i)
    const v = c < 128 ? table[c]! : -1
    if (v < 0) return undefined
    acc = (acc << 6) | v
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >> bits) & 0xff
    }
  }
  // Non-zero leftover bits mean a second spelling of the same bytes: refuse it.
  if ((acc & ((1 << bits) - 1)) !== 0) return undefined
  return out
}

/** Standard base64 with padding (RFC 4648 §4). */
export const base64Encode = (bytes: Uint8Array): string => encode(bytes, B64, true)
/** Strict standard base64: padding required, no whitespace, canonical trailing bits; undefined if not. */
export const base64Decode = (text: string): Uint8Array | undefined => decode(text, B64_DECODE, true)
/** base64url without padding (RFC 4648 §5, as JWK and RFC 7638 use it). */
export const base64UrlEncode = (bytes: Uint8Array): string => encode(bytes, B64URL, false)
/** Strict unpadded base64url; undefined if not. */
export const base64UrlDecode = (text: string): Uint8Array | undefined => decode(text, B64URL_DECODE, false)

export const bytesToHex = (bytes: Uint8Array): string => nobleBytesToHex(bytes)
export const hexToBytes = (hex: string): Uint8Array => nobleHexToBytes(hex)

const encoder = new TextEncoder()
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export const utf8Encode = (text: string): Uint8Array => encoder.encode(text)
/** Decodes UTF-8, throwing on malformed bytes instead of inserting U+FFFD. */
export const utf8DecodeStrict = (bytes: Uint8Array): string => strictDecoder.decode(bytes)
