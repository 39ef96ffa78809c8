/**
 * Where a client keeps its identities' private keys (STYLE.md practice 1). A key never leaves its store
 * in usable form except as a `Signer`. Implementations: `FileKeyStore` (`@pixpax/client-sdk/node`: a
 * private JWK per identity, file mode 0600) and `IndexedDbKeyStore` (browsers: a non-extractable
 * WebCrypto key). Both run `runKeyStoreContract` (`@pixpax/client-sdk/testing`).
 */
import type { Signer } from '@pixpax/shared'

/** One signing key (P-256) per identity id. */
export interface KeyStore {
  /**
   * Generates a new P-256 key for `identityId`, stores it durably and returns its signer. Throws
   * KeyStoreError `KEY_EXISTS` if the identity already has a key (a key is never overwritten) and
   * `INVALID_ID` unless the id matches `[A-Za-z0-9_-]{1,64}` (the receipt id format).
   */
  create(identityId: string): Promise<Signer>
  /** The signer of `identityId`'s stored key, or undefined if there is none. */
  load(identityId: string): Promise<Signer | undefined>
  /** The identity ids with a stored key, ascending. */
  list(): Promise<string[]>
  /** Deletes `identityId`'s key (irrecoverably); deleting a missing key does nothing. */
  delete(identityId: string): Promise<void>
}

/** Why a KeyStore refused: an existing key, an id that is not an id, an unreadable stored key. */
export type KeyStoreErrorCode = 'KEY_EXISTS' | 'INVALID_ID' | 'KEY_INVALID' | 'KEY_MISSING'

/** An error from a KeyStore, with a machine-readable `code`. */
export class KeyStoreError extends Error {
  override name = 'KeyStoreError'
  constructor(
    readonly code: KeyStoreErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/

/** Throws KeyStoreError `INVALID_ID` unless `identityId` is a receipt id (also a safe file name). */
export function assertIdentityId(identityId: string): void {
  if (typeof identityId !== 'string' || !ID_PATTERN.test(identityId)) {
    throw new KeyStoreError('INVALID_ID', `identity id ${JSON.stringify(identityId)} must match [A-Za-z0-9_-]{1,64}`)
  }
}
