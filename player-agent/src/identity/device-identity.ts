/**
 * The device's identity: on first start a P-256 key in the key store (a 0600 file) and, through the
 * sync engine's durable outbox, the self-signed IDENTITY_CREATED (kind `device`) and DEVICE_REGISTERED
 * (its display capabilities) — delivered whenever the relay is reachable, exactly once. Later starts load
 * the key. A device declares an account of its own (`devacct-…`): the owner's account is only known at
 * pairing, and the binding is the owner's receipt, not the device's claim.
 */
import { randomBytes } from 'node:crypto'
import type { KeyStore, SyncClient } from '@pixpax/client-sdk'
import { deviceStreamKey, type DeviceCapabilities, type Signer } from '@pixpax/shared'

export interface DeviceIdentity {
  identityId: string
  accountId: string
  signer: Signer
  /** True when this start created it. */
  created: boolean
}

export async function loadOrCreateDeviceKey(keys: KeyStore): Promise<DeviceIdentity> {
  const [existing] = await keys.list()
  if (existing) {
    const signer = await keys.load(existing)
    if (!signer) throw new Error(`the key of ${existing} disappeared`)
    return { identityId: existing, accountId: accountOf(existing), signer, created: false }
  }
  const suffix = randomBytes(10).toString('hex')
  const identityId = `dev-${suffix}`
  const signer = await keys.create(identityId)
  return { identityId, accountId: accountOf(identityId), signer, created: true }
}

function accountOf(identityId: string): string {
  return `devacct-${identityId.replace(/^dev-/, '')}`.slice(0, 64)
}

/**
 * Queues the identity's first receipts unless the local log or the outbox already has them (a crash
 * between creating the key and queueing them is healed on the next start).
 */
export async function queueGenesis(client: SyncClient, identity: DeviceIdentity, capabilities: DeviceCapabilities, displayName?: string): Promise<void> {
  const identityKey = `identity/${identity.identityId}`
  const deviceKey = deviceStreamKey(identity.identityId)
  const pending = new Set(client.pending().map((e) => e.streamKey))
  if (!client.head(identityKey) && !pending.has(identityKey)) {
    await client.append(
      identityKey,
      'IDENTITY_CREATED',
      {
        publicKey: identity.signer.publicKey,
        accountId: identity.accountId,
        kind: 'device',
        ...(displayName ? { displayName } : {}),
      },
      { idempotencyKey: `genesis-${identity.identityId}` },
    )
  }
  if (!client.head(deviceKey) && !pending.has(deviceKey)) {
    await client.append(deviceKey, 'DEVICE_REGISTERED', { capabilities }, { idempotencyKey: `registered-${identity.identityId}` })
  }
}
