import { jwkThumbprint, publicJwk, type PrivateJwk, type PublicJwk } from './jwk.js'
import { normalizeLowS } from './p256.js'
import type { SignatureVerifier, Signer } from './types.js'

const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const
const P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle
  if (!s) throw new Error('WebCrypto (crypto.subtle) is not available in this runtime')
  return s
}

/**
 * WebCrypto verifier (browsers, and Node's globalThis.crypto). Imported keys are cached by coordinates:
 * importKey costs more than a verify.
 */
export function webCryptoVerifier(cacheSize = 1024): SignatureVerifier {
  const cache = new Map<string, Promise<CryptoKey>>()
  const keyFor = (jwk: PublicJwk): Promise<CryptoKey> => {
    const id = jwk.x + jwk.y
    let key = cache.get(id)
    if (!key) {
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!)
      key = subtle().importKey('jwk', { ...publicJwk(jwk), ext: true }, P256, false, ['verify'])
      cache.set(id, key)
      key.catch(() => cache.delete(id))
    }
    return key
  }
  return {
    name: 'webcrypto',
    async verify(publicKey, data, signature) {
      if (signature.length !== 64) return false
      try {
        return await subtle().verify(
          ECDSA_SHA256,
          await keyFor(publicKey),
          signature as Uint8Array<ArrayBuffer>,
          data as Uint8Array<ArrayBuffer>,
        )
      } catch {
        return false
      }
    },
  }
}

/** A WebCrypto signer over a CryptoKey (non-extractable in browsers); signatures are normalized to low-S. */
export function webCryptoSigner(privateKey: CryptoKey, publicKey: PublicJwk): Signer {
  const pub = publicJwk(publicKey)
  return {
    publicKey: pub,
    publicKeyId: jwkThumbprint(pub),
    async sign(data) {
      const sig = new Uint8Array(await subtle().sign(ECDSA_SHA256, privateKey, data as Uint8Array<ArrayBuffer>))
      return normalizeLowS(sig)
    },
  }
}

/** Generates a WebCrypto key pair; the private key is non-extractable unless asked otherwise. */
export async function generateWebCryptoKeyPair(extractable = false): Promise<{ privateKey: CryptoKey; publicKey: PublicJwk }> {
  const pair = await subtle().generateKey(P256, extractable, ['sign', 'verify'])
  const jwk = await subtle().exportKey('jwk', pair.publicKey)
  return { privateKey: pair.privateKey, publicKey: publicJwk(jwk as PublicJwk) }
}

/** Imports a private JWK into WebCrypto (for tools and tests; browsers generate keys instead). */
export async function importWebCryptoPrivateKey(jwk: PrivateJwk, extractable = false): Promise<CryptoKey> {
  return subtle().importKey('jwk', { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, d: jwk.d, ext: extractable }, P256, extractable, ['sign'])
}
