/** KeyStore in memory, for tests: keys die with the object (share `keys` to simulate a reload). */
import { generatePrivateJwk, nobleSigner, type PrivateJwk, type Signer } from '@pixpax/shared'
import { assertIdentityId, KeyStoreError, type KeyStore } from './key-store.js'

/** An in-memory KeyStore with pure-JS (noble, deterministic RFC 6979) signers; isomorphic. */
export class MemoryKeyStore implements KeyStore {
  /** @param keys the private JWKs by identity id; pass another store's `keys` to share them. */
  constructor(readonly keys: Map<string, PrivateJwk> = new Map()) {}

  async create(identityId: string): Promise<Signer> {
    assertIdentityId(identityId)
    if (this.keys.has(identityId)) throw new KeyStoreError('KEY_EXISTS', `identity ${identityId} already has a key`)
    const jwk = generatePrivateJwk()
    this.keys.set(identityId, jwk)
    return nobleSigner(jwk)
  }

  async load(identityId: string): Promise<Signer | undefined> {
    assertIdentityId(identityId)
    const jwk = this.keys.get(identityId)
    return jwk && nobleSigner(jwk)
  }

  async list(): Promise<string[]> {
    return [...this.keys.keys()].sort()
  }

  async delete(identityId: string): Promise<void> {
    assertIdentityId(identityId)
    this.keys.delete(identityId)
  }
}
