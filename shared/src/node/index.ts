/** @pixpax/shared/node — Node-only backends and file helpers. */
export { nodeSha256, nodeVerifier, nodeSigner } from './node-crypto.js'
export { readLines, type Line } from './lines.js'
export { VerifyPool, type VerifyPoolOptions } from './verify-pool.js'
