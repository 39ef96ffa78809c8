/**
 * KeyStore in IndexedDB (browsers). Each identity's key is a WebCrypto P-256 key pair generated with a
 * NON-extractable private key, stored as the CryptoKey object itself: IndexedDB structured-clones a
 * CryptoKey with its extractable flag, so the private key can sign but no script — ours included — can
 * ever read its bytes (XSS can use it while the page is open, but cannot copy it away). The public JWK
 * is stored beside it. There is no export: a lost browser profile is a lost key, which is why identities
 * can add keys (KEY_ADDED) from another device. `adopt` stores a key that came from elsewhere (a backup
 * file's recovery key), non-extractable from then on.
 */
import { Dexie, type Table } from 'dexie'
import {
  generateWebCryptoKeyPair,
  importWebCryptoPrivateKey,
  jwkThumbprint,
  publicJwk,
  webCryptoSigner,
  type PrivateJwk,
  type PublicJwk,
  type Signer,
} from '@pixpax/shared'
import { assertIdentityId, KeyStoreError, type KeyStore } from './key-store.js'

/** One stored key. */
interface KeyRow {
  identityId: string
  privateKey: CryptoKey
  publicKey: PublicJwk
  publicKeyId: string
  createdAt: number
}

/** Options of IndexedDbKeyStore; `indexedDB`/`IDBKeyRange` let tests pass fake-indexeddb's. */
export interface IndexedDbKeyStoreOptions {
  indexedDB?: IDBFactory
  IDBKeyRange?: typeof IDBKeyRange
}

class KeyDatabase extends Dexie {
  keys!: Table<KeyRow, string>

  constructor(name: string, options: IndexedDbKeyStoreOptions) {
    super(name, {
      ...(options.indexedDB ? { indexedDB: options.indexedDB } : {}),
      ...(options.IDBKeyRange ? { IDBKeyRange: options.IDBKeyRange } : {}),
      chromeTransactionDurability: 'strict', // a key that is lost after `create` resolved would be a disaster
    })
    this.version(1).stores({ keys: 'identityId' })
  }
}

/** A KeyStore of non-extractable WebCrypto keys in the IndexedDB database `dbName`. */
export class IndexedDbKeyStore implements KeyStore {
  readonly #db: KeyDatabase

  /** Opens (lazily) the database `dbName` (default `pixpax-keys`). */
  constructor(
    readonly dbName = 'pixpax-keys',
    options: IndexedDbKeyStoreOptions = {},
  ) {
    this.#db = new KeyDatabase(dbName, options)
  }

  async create(identityId: string): Promise<Signer> {
    assertIdentityId(identityId)
    const { privateKey, publicKey } = await generateWebCryptoKeyPair(false)
    const row: KeyRow = { identityId, privateKey, publicKey, publicKeyId: jwkThumbprint(publicKey), createdAt: Date.now() }
    try {
      await this.#db.keys.add(row)
    } catch (error) {
      if ((error as Error).name === 'ConstraintError') {
        throw new KeyStoreError('KEY_EXISTS', `identity ${identityId} already has a key`, { cause: error })
      }
      throw error
    }
    return webCryptoSigner(privateKey, publicKey)
  }

  /**
   * Stores a private key made elsewhere (the web app's encrypted backup holds one) as a non-extractable
   * CryptoKey for `identityId`. Same refusals as `create` (`KEY_EXISTS`, `INVALID_ID`); `KEY_INVALID` if
   * the JWK is not a P-256 private key.
   */
  async adopt(identityId: string, privateJwk: PrivateJwk): Promise<Signer> {
    assertIdentityId(identityId)
    let privateKey: CryptoKey
    try {
      privateKey = await importWebCryptoPrivateKey(privateJwk, false)
    } catch (error) {
      throw new KeyStoreError('KEY_INVALID', 'the key to adopt is not a P-256 private JWK', { cause: error })
    }
    const publicKey = publicJwk(privateJwk)
    const row: KeyRow = { identityId, privateKey, publicKey, publicKeyId: jwkThumbprint(publicKey), createdAt: Date.now() }
    try {
      await this.#db.keys.add(row)
    } catch (error) {
      if ((error as Error).name === 'ConstraintError') {
        throw new KeyStoreError('KEY_EXISTS', `identity ${identityId} already has a key`, { cause: error })
      }
      throw error
    }
    return webCryptoSigner(privateKey, publicKey)
  }

  async load(identityId: string): Promise<Signer | undefined> {
    assertIdentityId(identityId)
    const row = await this.#db.keys.get(identityId)
    if (!row) return undefined
    const key = row.privateKey as CryptoKey | undefined
    if (!key || typeof key !== 'object' || key.type !== 'private' || key.algorithm?.name !== 'ECDSA') {
      throw new KeyStoreError('KEY_INVALID', `the stored key of ${identityId} is not an ECDSA private CryptoKey`)
    }
    return webCryptoSigner(key, row.publicKey)
  }

  /**
   * Moves a key to another identity id, in one transaction (the CryptoKey object itself: still
   * non-extractable). Device linking makes a browser's key before it knows which identity it will join.
   * `KEY_EXISTS` when `to` already has a key, `KEY_MISSING` when `from` has none.
   */
  async rename(from: string, to: string): Promise<Signer> {
    assertIdentityId(from)
    assertIdentityId(to)
    const row = await this.#db.transaction('rw', this.#db.keys, async () => {
      const found = await this.#db.keys.get(from)
      if (!found) throw new KeyStoreError('KEY_MISSING', `no key is stored for ${from}`)
      if (await this.#db.keys.get(to)) throw new KeyStoreError('KEY_EXISTS', `identity ${to} already has a key`)
      await this.#db.keys.add({ ...found, identityId: to })
      await this.#db.keys.delete(from)
      return found
    })
    return webCryptoSigner(row.privateKey, row.publicKey)
  }

  async list(): Promise<string[]> {
    return (await this.#db.keys.toCollection().primaryKeys()).sort()
  }

  async delete(identityId: string): Promise<void> {
    assertIdentityId(identityId)
    await this.#db.keys.delete(identityId)
  }

  /** Closes the database connection; any later call rejects. */
  async close(): Promise<void> {
    this.#db.close({ disableAutoOpen: true })
  }
}
