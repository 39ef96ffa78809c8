/**
 * @pixpax/client-sdk/testing — conformance suites every implementation runs (vitest), memory
 * implementations, and fixtures made of real signed receipts. Isomorphic; needs vitest.
 */
export { runLocalLogContract, type LocalLogFixture } from './testing/local-log-contract.js'
export { runKeyStoreContract, expectGoodSignatures, type KeyStoreFixture } from './testing/key-store-contract.js'
export { buildChain, signAck, outboxEntry, quarantineEntry, testSigner, type BuildChainOptions } from './testing/fixtures.js'
export { MemoryLocalLog, MemoryLocalLogData } from './storage/memory-local-log.js'
export { MemoryKeyStore } from './keys/memory-key-store.js'
