import { base64Decode, base64Encode } from '../encoding.js'
import { PixpaxError } from '../errors.js'
import { bigIntTo32Bytes, P256_HALF_N, P256_N } from './p256.js'

const N_BYTES = bigIntTo32Bytes(P256_N)
const HALF_N_BYTES = bigIntTo32Bytes(P256_HALF_N)

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return 0
}

function isZero(a: Uint8Array): boolean {
  return a.every((byte) => byte === 0)
}

export const SIGNATURE_PREFIX = 'ecdsa-p256:'

/** Formats a 64-byte low-S r‖s signature as a receipt `signature` string. */
export function formatSignature(sig: Uint8Array): string {
  return SIGNATURE_PREFIX + base64Encode(sig)
}

/**
 * Decodes a receipt `signature` string under the receipt policy: the `ecdsa-p256:` prefix, strict padded
 * base64, exactly 64 bytes (r‖s, not DER), 1 ≤ r < n, 1 ≤ s ≤ n/2 (low-S). Anything else throws
 * SIGNATURE_NOT_CANONICAL. What it returns still has to verify.
 */
export function parseSignature(signature: string): Uint8Array {
  if (!signature.startsWith(SIGNATURE_PREFIX)) {
    throw new PixpaxError('SIGNATURE_NOT_CANONICAL', `signature must start with "${SIGNATURE_PREFIX}"`)
  }
  const bytes = base64Decode(signature.slice(SIGNATURE_PREFIX.length))
  if (!bytes) throw new PixpaxError('SIGNATURE_NOT_CANONICAL', 'signature is not canonical padded base64')
  if (bytes.length !== 64) {
    const hint = bytes[0] === 0x30 ? ' (looks like DER; PixPax uses raw r‖s)' : ''
    throw new PixpaxError('SIGNATURE_NOT_CANONICAL', `signature must be 64 bytes r‖s, got ${bytes.length}${hint}`)
  }
  // Byte-wise big-endian comparisons: this runs for every receipt, and BigInt conversion costs more.
  const r = bytes.subarray(0, 32)
  const s = bytes.subarray(32, 64)
  if (isZero(r) || compare(r, N_BYTES) >= 0 || isZero(s) || compare(s, N_BYTES) >= 0) {
    throw new PixpaxError('SIGNATURE_NOT_CANONICAL', 'signature r or s is out of range')
  }
  if (compare(s, HALF_N_BYTES) > 0) throw new PixpaxError('SIGNATURE_NOT_CANONICAL', 'signature has high S (s > n/2); normalize to n − s')
  return bytes
}
