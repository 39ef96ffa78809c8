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
  const { s } = splitSignature(sig)
  if (s <= P256_HALF_N) return sig
  const out = new Uint8Array(64)
  out.set(sig.subarray(0, 32), 0)
  out.set(bigIntTo32Bytes(P256_N - s), 32)
  return out
}
