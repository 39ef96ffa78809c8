/**
 * @pixpax/client-sdk — what a PixPax client (the web app, the player-agent) runs locally: identity keys
 * and the local receipt log. This entry point is isomorphic (browsers and Node); file-based
 * implementations are in `@pixpax/client-sdk/node`, memory implementations and the conformance suites
 * in `@pixpax/client-sdk/testing`.
 */
export type { Ack, LocalLog, LoggedReceipt, OutboxEntry, OutboxState, QuarantineEntry } from './storage/local-log.js'
export { DexieLocalLog, CHUNK_SIZE, type DexieLocalLogOptions } from './storage/dexie-local-log.js'
export { MemoryLocalLog, MemoryLocalLogData } from './storage/memory-local-log.js'
export { KeyStoreError, assertIdentityId, type KeyStore, type KeyStoreErrorCode } from './keys/key-store.js'
export { IndexedDbKeyStore, type IndexedDbKeyStoreOptions } from './keys/indexeddb-key-store.js'
export {
  createDraftRepo,
  closeDraftRepo,
  relayDraftNetwork,
  openDraft,
  createDraft,
  draftHeads,
  listDrafts,
  saveDraft,
  startAutosave,
  relayBlobUploader,
  MAX_SAVE_HEADS,
  type AppendReceipt,
  type Autosave,
  type AutosaveOptions,
  type BlobUploader,
  type CreateDraftOptions,
  type Draft,
  type DraftRecord,
  type DraftRepoOptions,
  type OpenDraftOptions,
  type PixbookSave,
  type RelayHttp,
  type SaveDraftOptions,
  type SavedDraft,
} from './drafts/drafts.js'
export { bookStreamKey, type BookRef } from './book-ref.js'
export { RelayWebSocketClientAdapter, automergeEndpoint, type RelayAdapterOptions, type TokenSource } from './drafts/relay-adapter.js'
export { indexedDbDraftStorage, initDraftsWasm } from './drafts/browser-storage.js'
export {
  SyncClient,
  type SyncClientOptions,
  type SyncClientEvents,
  type SyncStatus,
  type WebSocketFactory,
  type WebSocketLike,
} from './sync/sync-client.js'
export { OUTBOX_TRANSITIONS, backoffMs, type OutboxEvent } from './sync/outbox-machine.js'
export { exportNdjson, importNdjson, type ExportOptions, type ImportResult } from './sync/ndjson.js'
export { WitnessGate, type WitnessedCheckpoint } from './sync/witness-gate.js'
export { postCosignature, type CosignResult } from './sync/cosign.js'
export { relayTileSource, type LogObjectSource, type ProofSourceOptions } from './sync/bundle-proofs.js'
export type { RelayPin, RelayHalt } from './sync/relay-trust.js'
export type { HeldCheckpoint, LogEvidence } from './sync/checkpoint-verifier.js'
export { login, type Session } from './network/session.js'
export { createIdentity, loadIdentityKey, addDeviceKey, revokeKey, type NewIdentity } from './identity/identity.js'
export { RelayRequestError, relayRequest, type RelayRequest } from './network/relay-request.js'
export {
  requestLinkCode,
  claimLinkCode,
  linkStatus,
  pendingLinks,
  approveLink,
  keyFingerprint,
  type LinkCode,
  type ClaimedLink,
  type LinkState,
  type LinkStatus,
  type PendingLink,
} from './identity/link.js'
export {
  pairDevice,
  listDevices,
  renameDevice,
  unpairDevice,
  allowedCommands,
  sendDeviceCommand,
  commandAcks,
  type PairedDevice,
  type DeviceListing,
  type CommandArgs,
  type CommandAck,
} from './devices/devices.js'
export { WorkerVerifier, type WorkerLike, type WorkerVerifierOptions } from './verify/worker-verifier.js'
export { createBatchHandler, packVerifyRequest, type VerifyJob, type VerifyRequest, type VerifyResponse } from './verify/verify-batch.js'
export {
  socialCommands,
  moderationCommands,
  liveNotifications,
  type NotificationSource,
  normalizeHashtags,
  type SocialAppender,
  type SocialCommands,
  type ModerationCommands,
  type ProfileInput,
  type PublishInput,
  type PostChanges,
  type PlaylistInput,
  type PlaylistChanges,
  type ReportInput,
  type ReportReason,
  type PromotionCategory,
} from './social/social.js'
export {
  relayCall,
  relayRead,
  socialQueries,
  type RelayCallOptions,
  type PageQuery,
  type Paged,
  type FeedKind,
  type ReportStatus,
  type ModerationReport,
  type SocialQueries,
} from './social/queries.js'
export {
  claimDrop,
  redeemCode,
  offerCard,
  acceptTrade,
  declineTrade,
  cancelTrade,
  EconomyCommandError,
  type ClaimedPack,
  type RedeemedCode,
  type Appender,
  type CardOffer,
} from './economy/commands.js'
export { bookView, type BookView, type BookTrade, type BookViewGaps, type TradeViewState } from './economy/book-view.js'
export { CounterpartStore, type CounterpartReceipt } from './economy/counterpart-store.js'
export {
  fetchCounterparts,
  type FetchCounterpartsOptions,
  type FetchCounterpartsResult,
  type RefusedCounterpart,
} from './economy/counterparts.js'
