/**
 * @pixpax/client-sdk/node — the Node-only implementations, on local files (the player-agent, tools).
 * The isomorphic API is in `@pixpax/client-sdk`.
 */
export { FileLocalLog, type FileLocalLogOptions } from './storage/file-local-log.js'
export { LocalLogCorruptError } from './storage/append-file.js'
export { FileKeyStore } from './keys/file-key-store.js'
export { nodeDraftStorage } from './drafts/node-storage.js'
