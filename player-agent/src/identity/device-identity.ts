/**
 * The device's identity: on first start a P-256 key in the key store (a 0600 file) and the self-signed
 * IDENTITY_CREATED (kind `device`, built by client-sdk `createIdentity`), kept in `identity.json` so that
 * every start re-posts exactly the same receipt until the relay has it (an exact resend is idempotent).
 * The identity must be known to the relay before the device can open a session, and the sync engine
 * should say hello with that session (its own stream is private), so it is posted first, over HTTP.
 * DEVICE_REGISTERED (the display's capabilities) then goes through the sync engine's durable outbox.
 * Later starts load the key. A device declares an account of its own (`devacct-…`): the owner's account is only known at
 * pairing, and the binding is the owner's receipt, not the device's claim.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createIdentity, type KeyStore, type SyncClient } from '@pixpax/client-sdk'
import { deviceStreamKey, type DeviceCapabilities, type Receipt, type Signer } from '@pixpax/shared'
import { nodeSha256 } from '@pixpax/shared/node'
import { atomicWriteFile } from '../fs/atomic-write.js'

export interface DeviceIdentity {
  identityId: string
  accountId: string
  signer: Signer
  /** The identity's IDENTITY_CREATED, byte for byte the one posted before (identity.json). */
  genesis: Receipt
  /** True when this start created it. */
  created: boolean
}

export async function loadOrCreateDeviceIdentity(keys: KeyStore, genesisFile: string): Promise<DeviceIdentity> {
  const [existing] = await keys.list()
  if (existing) {
    const signer = await keys.load(existing)
    if (!signer) throw new Error(`the key of ${existing} disappeared`)
    const accountId = accountOf(existing)
    let genesis: Receipt
    try {
      genesis = JSON.parse(await readFile(genesisFile, 'utf8')) as Receipt
    } catch {
      // Killed between creating the key and writing the receipt: it was never sent, so build it again.
      genesis = await genesisReceipt({ identityId: existing, signer }, accountId)
      await atomicWriteFile(genesisFile, JSON.stringify(genesis) + '\n')
    }
    return { identityId: existing, accountId, signer, genesis, created: false }
  }
  const identityId = `dev-${randomBytes(10).toString('hex')}`
  const accountId = accountOf(identityId)
  const created = await createIdentity(keys, { identityId, accountId, kind: 'device', sha256: nodeSha256 })
  await atomicWriteFile(genesisFile, JSON.stringify(created.receipt) + '\n')
  return { identityId, accountId, signer: created.signer, genesis: created.receipt, created: true }
}

/** IDENTITY_CREATED for a key that already exists (createIdentity over a store holding just it). */
async function genesisReceipt(who: { identityId: string; signer: Signer }, accountId: string): Promise<Receipt> {
  const single: KeyStore = {
    create: async () => who.signer,
    load: async () => who.signer,
    list: async () => [who.identityId],
    delete: async () => undefined,
  }
  return (await createIdentity(single, { identityId: who.identityId, accountId, kind: 'device', sha256: nodeSha256 })).receipt
}

/** Posts the identity's IDENTITY_CREATED (an exact resend is answered with the first result). */
export async function postGenesis(relayUrl: string, genesis: Receipt, fetchImpl: typeof fetch = fetch): Promise<void> {
  const res = await fetchImpl(`${relayUrl.replace(/\/$/, '')}/v1/receipts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ receipts: [genesis] }),
  })
  const body = (await res.json().catch(() => ({}))) as { results?: Array<{ ok: boolean; error?: { code: string; message: string } }> }
  const result = body.results?.[0]
  if (res.ok && result?.ok) return
  // Already there under another idempotency key cannot happen for our own genesis; anything else is a refusal.
  throw new Error(
    `identity not accepted (${res.status}): ${result?.error ? `${result.error.code} ${result.error.message}` : JSON.stringify(body).slice(0, 300)}`,
  )
}

function accountOf(identityId: string): string {
  return `devacct-${identityId.replace(/^dev-/, '')}`.slice(0, 64)
}

/** Queues DEVICE_REGISTERED unless the local log or the outbox already has it. */
export async function queueRegistration(client: SyncClient, identity: DeviceIdentity, capabilities: DeviceCapabilities): Promise<void> {
  const deviceKey = deviceStreamKey(identity.identityId)
  if (client.head(deviceKey) || client.pending().some((e) => e.streamKey === deviceKey)) return
  await client.append(deviceKey, 'DEVICE_REGISTERED', { capabilities }, { idempotencyKey: `registered-${identity.identityId}` })
}
