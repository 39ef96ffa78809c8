/**
 * @pixpax/shared — the receipt core, pure and isomorphic (no fs, no net). Node-only pieces (node:crypto
 * backends, NDJSON files) are in `@pixpax/shared/node`.
 */
export { ERROR_CODES, errorCodes, isErrorCode, PixpaxError, type ErrorCode } from './errors.js'
export { parseStrictJson, assertJsonValue, lineAndColumn, type JsonValue, type StrictJsonOptions } from './strict-json.js'
export { canonicalJson, canonicalBytes } from './canonical-json.js'
export * from './encoding.js'
export { isUlid, ulid, nextUlid, incrementUlid, ulidTime } from './ulid.js'
export * from './schemas.js'
export * from './streams.js'
export {
  PublicJwkSchema,
  PrivateJwkSchema,
  jwkThumbprint,
  jwkToUncompressed,
  uncompressedToJwk,
  publicJwk,
  type PublicJwk,
  type PrivateJwk,
} from './crypto/jwk.js'
export { P256_N, P256_HALF_N, normalizeLowS, splitSignature } from './crypto/p256.js'
export { SIGNATURE_PREFIX, formatSignature, parseSignature } from './crypto/signature.js'
export type { SignatureVerifier, Signer, Sha256 } from './crypto/types.js'
export { nobleVerifier, nobleSigner, nobleSha256, generatePrivateJwk, privateJwkFromSecret } from './crypto/noble.js'
export { webCryptoVerifier, webCryptoSigner, generateWebCryptoKeyPair, importWebCryptoPrivateKey } from './crypto/webcrypto.js'
export {
  MAX_RECEIPT_BYTES,
  MAX_RECEIPT_TEXT,
  sha256Ref,
  receiptBody,
  receiptCanonicalBytes,
  checkReceipt,
  parseReceipt,
  buildReceipt,
  type CheckedReceipt,
  type ChainHead,
  type BuildReceiptInput,
} from './receipt.js'
export {
  evaluateReceipt,
  nextStreamState,
  nextIdentityState,
  MemoryLedger,
  ChainVerifier,
  type KeyState,
  type IdentityState,
  type StreamState,
  type LedgerView,
  type TrustPolicy,
  type Acceptance,
  type Verdict,
  type VerifiedReceipt,
  type RejectedReceipt,
  type ChainVerifierOptions,
  type PreparedReceipt,
} from './chain.js'
export * from './sync-protocol.js'
