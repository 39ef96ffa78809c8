import type { PublicJwk } from './jwk.js'

/**
 * Raw ECDSA P-256 / SHA-256 verification: the primitive, not the receipt policy. It hashes `data` with
 * SHA-256 itself, takes a 64-byte r‖s signature, accepts high-S (that is plain ECDSA; the receipt
 * verifier enforces low-S before it gets here) and answers false — never throws — for anything that does
 * not verify, malformed signatures included. Implementations: node:crypto (`@pixpax/shared/node`),
 * WebCrypto and @noble/curves (here).
 */
export interface SignatureVerifier {
  readonly name: string
  verify(publicKey: PublicJwk, data: Uint8Array, signature: Uint8Array): boolean | Promise<boolean>
}

/**
 * Something that signs receipts for one key: a local key (node:crypto, WebCrypto, noble) or a remote one
 * (Vault Transit). `sign` returns a 64-byte r‖s signature over SHA-256(data), already low-S.
 */
export interface Signer {
  readonly publicKey: PublicJwk
  readonly publicKeyId: string
  sign(data: Uint8Array): Promise<Uint8Array>
  /**
   * Signs several messages in one call where the backend can (Vault Transit's `batch_input`: one HTTP
   * round trip per batch of acks); callers fall back to `sign` per message when it is absent.
   */
  signBatch?(data: readonly Uint8Array[]): Promise<Uint8Array[]>
}

/** SHA-256 of some bytes; sync in every runtime (noble in browsers, node:crypto on Node). */
export type Sha256 = (data: Uint8Array) => Uint8Array
