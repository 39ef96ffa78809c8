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
