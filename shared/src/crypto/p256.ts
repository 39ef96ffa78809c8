/** Curve constants and the small r‖s helpers every backend shares. */
import { p256 } from '@noble/curves/nist.js'

/** The order n of the P-256 group. */
export const P256_N = p256.Point.CURVE().n
/** ⌊n/2⌋: a signature is low-S when 1 ≤ s ≤ this. */
export const P256_HALF_N = P256_N >> 1n

export function bytesToBigInt(bytes: Uint8Array): bigint {
  let v = 0n
  for (const b of bytes) v = (v << 8n) | BigInt(b)
  return v
}

export function bigIntTo32Bytes(v: bigint): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(v & 0xffn)
    v >>= 8n
  }
  return out
}

/** Splits a 64-byte r‖s signature into its two integers. */
export function splitSignature(sig: Uint8Array): { r: bigint; s: bigint } {
  return { r: bytesToBigInt(sig.subarray(0, 32)), s: bytesToBigInt(sig.subarray(32, 64)) }
}

/**
 * Returns the low-S form of a 64-byte r‖s signature: (r, n − s) when s > n/2. Both forms verify under
 * plain ECDSA; PixPax accepts only the low one so that every receipt has exactly one valid signature
 * encoding (WebCrypto and OpenSSL sign with either, so signers normalize).
 */
export function normalizeLowS(sig: Uint8Array): Uint8Array {
  if (sig.length !== 64) throw new RangeError('expected a 64-byte r‖s signature')
  // Byte-wise, big-endian: every ack and receipt the relay signs comes through here, and the BigInt
  // conversions cost more than the comparison and the subtraction themselves.
  if (compare32(sig, 32, HALF_N_BYTES) <= 0) return sig
  const out = new Uint8Array(64)
  out.set(sig.subarray(0, 32), 0)
  let borrow = 0
  for (let i = 31; i >= 0; i--) {
    const d = N_BYTES[i]! - sig[32 + i]! - borrow
    borrow = d < 0 ? 1 : 0
    out[32 + i] = d & 0xff
  }
  return out
}

const N_BYTES = bigIntTo32Bytes(P256_N)
const HALF_N_BYTES = bigIntTo32Bytes(P256_HALF_N)

/** Compares the 32 bytes of `a` at `offset` with `b`, both big-endian unsigned integers. */
function compare32(a: Uint8Array, offset: number, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) if (a[offset + i] !== b[i]) return a[offset + i]! - b[i]!
  return 0
}
