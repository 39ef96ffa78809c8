/**
 * `@pixpax/shared/testing`: the client side of every package's tests — identities with deterministic or
 * fresh keys, stream writers, deterministic and forged receipts. Node only (it signs with node:crypto).
 * The relay side is `@pixpax/sync-server/testing`.
 */
export * from './identities.js'
export * from './receipts.js'
export * from './random.js'
