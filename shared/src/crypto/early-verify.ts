/**
 * Signature checks started ahead of the ordered rules. ECDSA verification is the expensive part of
 * accepting a receipt and needs nothing but the key, the bytes and the signature, so a verifier can
 * start it for a whole batch at once (worker threads, Web Workers) and let the rules — which decide in
 * order whether that key is valid at that position — reuse the result instead of verifying again.
 */
import type { PublicJwk } from './jwk.js'
import type { SignatureVerifier } from './types.js'

/** One signature check under way: for these bytes and this signature, under this key. */
export interface EarlyVerification {
  readonly publicKey: PublicJwk
  readonly data: Uint8Array
  readonly signature: Uint8Array
  /** The verifier's answer. Never an unhandled rejection: it is observed when (if ever) it is reused. */
  readonly result: Promise<boolean>
}

/** Starts `verifier.verify(publicKey, data, signature)` now, to be reused later by `reusingVerifier`. */
export function startVerification(
  verifier: SignatureVerifier,
  publicKey: PublicJwk,
  data: Uint8Array,
  signature: Uint8Array,
): EarlyVerification {
  const result = Promise.resolve(verifier.verify(publicKey, data, signature))
  result.catch(() => undefined) // observed by whoever reuses it; never an unhandled rejection meanwhile
  return { publicKey, data, signature, result }
}

/**
 * A SignatureVerifier that answers with `early`'s result when asked about exactly its key (same point),
 * bytes and signature, and asks `base` about anything else. Without `early` it is `base` itself.
 */
export function reusingVerifier(base: SignatureVerifier, early: EarlyVerification | undefined): SignatureVerifier {
  if (!early) return base
  return {
    name: base.name,
    verify: (publicKey, data, signature) =>
      publicKey.x === early.publicKey.x &&
      publicKey.y === early.publicKey.y &&
      sameBytes(data, early.data) &&
      sameBytes(signature, early.signature)
        ? early.result
        : base.verify(publicKey, data, signature),
  }
}

// The rules pass the very arrays the check was started with, so identity answers at once; comparing
// contents otherwise keeps a copy from missing the early result (and a different message from getting it).
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
