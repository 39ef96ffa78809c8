import { p256 } from '@noble/curves/nist.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { z } from 'zod'
import { base64UrlDecode, base64UrlEncode, utf8Encode } from '../encoding.js'
import { PixpaxError } from '../errors.js'

const coordinate = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a P-256 coordinate: 32 bytes in unpadded base64url')

/** A P-256 public key as a JWK, exactly the four members PixPax receipts carry (ARCHITECTURE §3). */
export const PublicJwkSchema = z
  .strictObject({
    kty: z.literal('EC'),
    crv: z.literal('P-256'),
    x: coordinate,
    y: coordinate,
  })
  .refine(isOnCurve, 'not a valid P-256 public key (the point is not on the curve)')
export type PublicJwk = z.infer<typeof PublicJwkSchema>

/** A P-256 private key as a JWK (`d` is the secret scalar). `kid`, `alg`, `use`, `key_ops` are tolerated. */
export const PrivateJwkSchema = z.object({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: coordinate,
  y: coordinate,
  d: coordinate,
})
export type PrivateJwk = z.infer<typeof PrivateJwkSchema>

/**
 * Whether the coordinates name a point on P-256 (not the identity, in range). A key off the curve must never
 * be registered: it makes "this key verifies" meaningless.
 */
function isOnCurve(jwk: { x: string; y: string }): boolean {
  try {
    p256.Point.fromBytes(jwkToUncompressed({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y })).assertValidity()
    return true
  } catch {
    return false
  }
}

/** The 65-byte uncompressed SEC1 point (0x04‖x‖y) of a JWK. */
export function jwkToUncompressed(jwk: PublicJwk): Uint8Array {
  const x = base64UrlDecode(jwk.x)
  const y = base64UrlDecode(jwk.y)
  if (!x || !y || x.length !== 32 || y.length !== 32) throw new PixpaxError('SCHEMA_INVALID', 'JWK coordinates must be 32 bytes')
  const out = new Uint8Array(65)
  out[0] = 4
  out.set(x, 1)
  out.set(y, 33)
  return out
}

/** The JWK of a 65-byte uncompressed SEC1 point. */
export function uncompressedToJwk(point: Uint8Array): PublicJwk {
  if (point.length !== 65 || point[0] !== 4) throw new RangeError('expected a 65-byte uncompressed P-256 point')
  return { kty: 'EC', crv: 'P-256', x: base64UrlEncode(point.subarray(1, 33)), y: base64UrlEncode(point.subarray(33, 65)) }
}

/** Just the public members of a (possibly private) JWK, in the exact shape receipts carry. */
export function publicJwk(jwk: PublicJwk): PublicJwk {
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }
}

/**
 * RFC 7638 JWK thumbprint with SHA-256, base64url: the hash of `{"crv","kty","x","y"}` in that order
 * with no whitespace. This is a receipt's `issuer.publicKeyId`.
 */
export function jwkThumbprint(jwk: PublicJwk): string {
  const members = `{"crv":"${jwk.crv}","kty":"${jwk.kty}","x":"${jwk.x}","y":"${jwk.y}"}`
  return base64UrlEncode(sha256(utf8Encode(members)))
}
