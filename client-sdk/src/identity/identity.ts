/**
 * Identity commands on top of the sync engine: create an identity (self-signed IDENTITY_CREATED with a
 * new key from a KeyStore), add a device key (KEY_ADDED signed by a key the identity already holds), and
 * revoke a key (KEY_REVOKED). Keys live in a KeyStore: non-extractable WebCrypto keys in IndexedDB in
 * browsers, 0600 files on Node.
 */
import { buildReceipt, type IdentityKind, type Receipt, type Sha256, type Signer } from '@pixpax/shared'
import type { KeyStore } from '../keys/key-store.js'
import type { SyncClient } from '../sync/sync-client.js'

export interface NewIdentity {
  identityId: string
  signer: Signer
  /** The signed IDENTITY_CREATED receipt. */
  receipt: Receipt
}

/**
 * Creates a key for `identityId` in `keys` and the self-signed IDENTITY_CREATED receipt. Nothing is sent:
 * a SyncClient queues it through `append` (IDENTITY_CREATED opens the identity stream), or POST it.
 */
export async function createIdentity(
  keys: KeyStore,
  input: { identityId: string; accountId: string; kind?: IdentityKind; displayName?: string; sha256?: Sha256 },
): Promise<NewIdentity> {
  const signer = await keys.create(input.identityId)
  const receipt = await buildReceipt({
    stream: { type: 'identity', identityId: input.identityId },
    type: 'IDENTITY_CREATED',
    payload: {
      publicKey: signer.publicKey,
      accountId: input.accountId,
      kind: input.kind ?? 'person',
      ...(input.displayName ? { displayName: input.displayName } : {}),
    },
    identityId: input.identityId,
    signer,
    prev: null,
    ...(input.sha256 ? { sha256: input.sha256 } : {}),
  })
  return { identityId: input.identityId, signer, receipt }
}

/** Loads this device's key for an identity, or undefined if this device has none. */
export function loadIdentityKey(keys: KeyStore, identityId: string): Promise<Signer | undefined> {
  return keys.load(identityId)
}

/**
 * Adds another device's public key to the identity (KEY_ADDED, signed by this device's key through the
 * client's outbox). The other device then signs with its own key.
 */
export function addDeviceKey(client: SyncClient, identityId: string, device: Pick<Signer, 'publicKey'>): Promise<Receipt> {
  return client.append(`identity/${identityId}`, 'KEY_ADDED', { publicKey: device.publicKey })
}

/** Revokes a key of the identity (KEY_REVOKED); from its position on, receipts signed by it are refused. */
export function revokeKey(client: SyncClient, identityId: string, publicKeyId: string): Promise<Receipt> {
  return client.append(`identity/${identityId}`, 'KEY_REVOKED', { publicKeyId })
}
