import { p256 } from '@noble/curves/nist.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { base64UrlDecode, base64UrlEncode } from '../encoding.js'
import { jwkThumbprint, jwkToUncompressed, publicJwk, uncompressedToJwk, type PrivateJwk, type PublicJwk } from './jwk.js'
import type { Sha256, SignatureVerifier, Signer } from './types.js'

/** Portable SHA-256 (pure JS). */
export const nobleSha256: Sha256 = (data) => sha256(data)

/**
 * The portable reference verifier, pure JS (@noble/curves). About 35× slower than node:crypto, so it is
 * the yardstick the fast backends are tested against, not the hot path.
 */
export const nobleVerifier: SignatureVerifier = {
  name: 'noble',
  verify(publicKey: PublicJwk, data: Uint8Array, signature: Uint8Array): boolean {
    if (signature.length !== 64) return false
    try {
      // lowS:false — this is the raw primitive; receipt policy rejects high-S before calling it.
      return p256.verify(signature, data, jwkToUncompressed(publicKey), { prehash: true, lowS: false, format: 'compact' })
    } catch {
      return false // noble throws on some malformed inputs (r or s out of range, bad point)
    }
  },
}

/** A new random P-256 private key as a JWK (pure JS; fine everywhere, used by tests and tools). */
export function generatePrivateJwk(): PrivateJwk {
  const secret = p256.utils.randomSecretKey()
  return privateJwkFromSecret(secret)
}

/** The private JWK of a 32-byte secret scalar. */
export function privateJwkFromSecret(secret: Uint8Array): PrivateJwk {
  const pub = uncompressedToJwk(p256.getPublicKey(secret, false))
  return { ...pub, d: base64UrlEncode(secret) }
}

/**
 * Signer over a private JWK with @noble/curves: deterministic (RFC 6979) and low-S, which makes it the
 * signer behind the golden vectors in docs/vectors.
 */
export function nobleSigner(jwk: PrivateJwk): Signer {
  const secret = base64UrlDecode(jwk.d)
  if (!secret || secret.length !== 32) throw new RangeError('JWK d must be 32 bytes')
  const pub = publicJwk(jwk)
  return {
    publicKey: pub,
    publicKeyId: jwkThumbprint(pub),
    sign: (data) => Promise.resolve(p256.sign(data, secret, { prehash: true, lowS: true, format: 'compact' })),
  }
}
