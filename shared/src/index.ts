/**
 * @pixpax/shared — the receipt core, pure and isomorphic (no fs, no net). Node-only pieces (node:crypto
 * backends, NDJSON files) are in `@pixpax/shared/node`.
 */
export { ERROR_CODES, errorCodes, isErrorCode, PixpaxError, type ErrorCode } from './errors.js'
export { parseStrictJson, assertJsonValue, lineAndColumn, type JsonValue, type StrictJsonOptions } from './strict-json.js'
export { canonicalJson, canonicalBytes, canonicalJsonOmitting, canonicalJsonWithout, checkedCanonicalJson } from './canonical-json.js'
export * from './encoding.js'
export { isUlid, ulid, nextUlid, incrementUlid, ulidTime } from './ulid.js'
export * from './schemas.js'
export * from './streams.js'
export type {
  CrossStreamRule,
  DomainModule,
  DomainStreamType,
  DomainReceiptType,
  FactChange,
  FactKindSpec,
  FactRef,
  FactView,
  ReceiptRules,
} from './domains/domain.js'
export { crossStreamRule, factKey, MemoryFacts, relayFactKinds } from './domains/facts.js'
export { DOMAINS } from './domains/index.js'
export {
  IdentityKindSchema,
  IdentityCreatedPayload,
  KeyAddedPayload,
  KeyRevokedPayload,
  AccountRoleSchema,
  AccountCreatedPayload,
  MemberAddedPayload,
  MemberRemovedPayload,
  accountStreamKey,
  IDENTITY_FACTS,
  type IdentityKind,
} from './domains/identity.js'
export {
  MAX_DEVICES_PER_ACCOUNT,
  DEVICES_FACTS,
  DeviceCapabilitiesSchema,
  DeviceStateSchema,
  DeviceRegisteredPayload,
  DeviceStatusPayload,
  DevicePairedPayload,
  DeviceUnpairedPayload,
  DeviceCommandPayload,
  DeviceCommandAckPayload,
  DeviceCommandResultSchema,
  DEVICE_COMMANDS,
  remoteStreamKey,
  deviceStreamKey,
  pairingStreamKey,
  devicesDomain,
  type DeviceCapabilities,
  type DeviceState,
  type DeviceStatus,
  type DeviceCommand,
} from './domains/devices.js'
export {
  CLOCK_SKEW_LIMIT_MS,
  DEVICE_VIEW_FACTS,
  DeviceViewSchema,
  DeviceViewsPayload,
  MAX_VIEWS_PER_BATCH,
  MIN_VIEW_GAP_MS,
  type DeviceView,
  type DeviceViews,
  type LastView,
} from './domains/device-views.js'
export {
  PixbookCreatedPayload,
  PixbookSavePayload,
  CardAddedPayload,
  CardRemovedPayload,
  PackIssuedPayload,
  PackOpenedPayload,
  CardTradeOfferedPayload,
  CardTradeAcceptedPayload,
  CardTradeDeclinedPayload,
  CardTradeCancelledPayload,
} from './domains/pixbook.js'
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
export { startVerification, reusingVerifier, type EarlyVerification } from './crypto/early-verify.js'
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
  type CheckReceiptOptions,
  type ChainHead,
  type BuildReceiptInput,
} from './receipt.js'
export {
  evaluateReceipt,
  nextStreamState,
  nextIdentityState,
  introducedKey,
  MemoryLedger,
  recordAcceptance,
  receiptTag,
  type LedgerMaps,
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
export { isReceiptsMessage, type ReceiptsMessage } from './receipts-message.js'
// ---- the acceptance log (ARCHITECTURE §4, docs/log.md): Merkle tree, tlog-tiles, signed checkpoints ----
export {
  HASH_SIZE,
  MAX_PROOF_HASHES,
  LogEntrySchema,
  LogProofSchema,
  leafData,
  parseLeafData,
  leafHash,
  nodeHash,
  emptyRoot,
  bytesEqual,
  splitPoint,
  merkleRoot,
  rangeHash,
  inclusionProof,
  consistencyProof,
  verifyInclusion,
  verifyConsistency,
  proofToJson,
  proofFromJson,
  type LogEntry,
  type LogProofJson,
  type NodeHashSource,
} from './log/merkle.js'
export {
  TILE_HEIGHT,
  TILE_WIDTH,
  LOG_PREFIX,
  CHECKPOINT_PATH,
  MAX_ENTRY_BYTES,
  MAX_TILE_LEVEL,
  EMPTY_TREE,
  tileLevels,
  tileIndexPath,
  hashTilePath,
  entryBundlePath,
  parseTilePath,
  encodeEntryBundle,
  decodeEntryBundle,
  assertTreeState,
  rootFromState,
  integrate,
  tileReaderFromStore,
  treeStateFromTiles,
  hashAtFromTiles,
  type TileCoordinates,
  type TreeState,
  type LogObject,
  type Integration,
  type TileReader,
} from './log/tiles.js'
export {
  DEFAULT_LOG_ORIGIN,
  NOTE_SIGNATURE_TYPE_ECDSA,
  MAX_NOTE_SIGNATURES,
  MAX_NOTE_LENGTH,
  isValidNoteName,
  formatCheckpoint,
  parseCheckpoint,
  p256SpkiDer,
  noteKeyHash,
  keyHashHex,
  verifierKeyString,
  parseVerifierKey,
  parseSignedNote,
  signCheckpoint,
  verifySignedCheckpoint,
  type Checkpoint,
  type NoteVerifierKey,
  type NoteSignature,
  type VerifyCheckpointOptions,
} from './log/checkpoint.js'
export * from './domains/social.js'
// ---- the economy (ARCHITECTURE §9, docs/economy.md): collections, provably fair drops, trades ----
export * from './domains/economy.js'
export * from './economy/card-art.js'
export * from './economy/derive-pack.js'
export * from './economy/verify-drop.js'
export * from './economy/code-token.js'
export * from './economy/supply-check.js'
export { multiInclusionProof, verifyMultiInclusion } from './log/multi-proof.js'
export {
  PROOF_BUNDLE_FORMAT,
  formatBundleHeader,
  formatInclusionLine,
  isInclusionLine,
  parseInclusionLine,
  verifyBundleHeader,
  InclusionChecker,
  type BundleHeader,
  type InclusionLine,
  type RelayKeySource,
  type VerifiedBundleHeader,
} from './log/proof-bundle.js'
export {
  COSIGNATURE_HEADER,
  COSIGNATURE_TYPE_ID,
  witnessName,
  witnessIdentity,
  witnessKeyHash,
  cosignedMessage,
  cosignCheckpoint,
  verifyCosignatures,
  checkWitnessed,
  withSignatureLines,
  type WitnessKey,
  type WitnessPolicy,
  type VerifiedCosignature,
} from './log/cosignature.js'
