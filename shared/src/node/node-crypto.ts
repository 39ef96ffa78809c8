/**
 * node:crypto backends: the fast path on Node (OpenSSL underneath). Public keys are turned into
 * KeyObjects once and cached, because createPublicKey costs several verifies.
 */
import { createPrivateKey, hash as oneShotHash, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto'
import { jwkThumbprint, publicJwk, type PrivateJwk, type PublicJwk } from '../crypto/jwk.js'
import { normalizeLowS } from '../crypto/p256.js'
import type { Sha256, SignatureVerifier, Signer } from '../crypto/types.js'

/**
 * SHA-256 through OpenSSL, one shot (`crypto.hash`, Node ≥ 20.12): a receipt is hashed two or three
 * times on its way in (its hash, its log leaf), and for inputs this small a Hash object costs more than
 * the hashing.
 */
export const nodeSha256: Sha256 = (data) => oneShotHash('sha256', data, 'buffer')

/** A node:crypto verifier with an LRU-ish cache of KeyObjects (oldest evicted first). */
export function nodeVerifier(cacheSize = 4096): SignatureVerifier {
  const cache = new Map<string, KeyObject>()
  const keyFor = (jwk: PublicJwk): KeyObject => {
    const id = jwk.x + jwk.y
    let key = cache.get(id)
    if (!key) {
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!)
      key = createPublicKey({ key: publicJwk(jwk), format: 'jwk' })
      cache.set(id, key)
    }
    return key
  }
  return {
    name: 'node',
    verify(publicKey, data, signature) {
      if (signature.length !== 64) return false
      try {
        return nodeVerify('sha256', data, { key: keyFor(publicKey), dsaEncoding: 'ieee-p1363' }, signature)
      } catch {
        return false
      }
    },
  }
}

/** A node:crypto signer over a private JWK; OpenSSL signs with random k and either S, so we normalize. */
export function nodeSigner(jwk: PrivateJwk): Signer {
  const key = createPrivateKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, d: jwk.d }, format: 'jwk' })
  const pub = publicJwk(jwk)
  const options = { key, dsaEncoding: 'ieee-p1363' } as const
  return {
    publicKey: pub,
    publicKeyId: jwkThumbprint(pub),
    sign: (data) => Promise.resolve(normalizeLowS(new Uint8Array(nodeSign('sha256', data, options)))),
    // A batch (the relay's acks: one per accepted receipt) is signed on libuv's thread pool (node:crypto's
    // callback form), not on the caller's thread: there the relay's main thread spent ~40 µs per ack.
    signBatch: (data) =>
      Promise.all(
        data.map(
          (d) =>
            new Promise<Uint8Array>((resolve, reject) =>
              nodeSign('sha256', d, options, (error, sig) => (error ? reject(error) : resolve(normalizeLowS(new Uint8Array(sig))))),
            ),
        ),
      ),
  }
}
