import { buildReceipt, type Receipt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { addDeviceKey, createIdentity, revokeKey } from '../src/identity/identity.js'
import { MemoryKeyStore } from '../src/keys/memory-key-store.js'
import { login } from '../src/network/session.js'
import { MemoryLocalLog } from '../src/storage/memory-local-log.js'
import type { OutboxEntry } from '../src/storage/local-log.js'
import { SyncClient } from '../src/sync/sync-client.js'
import { nodeWebSocket, postReceipts, startTestRelay, type TestRelay } from './support/relay.js'

describe('identity lifecycle through the client', () => {
  let relay: TestRelay
  beforeAll(async () => {
    relay = await startTestRelay()
  }, 60_000)
  afterAll(async () => relay.close())

  it('create, add a device key, revoke the first key: the old device is refused with KEY_REVOKED, surfaced, never dropped', async () => {
    const laptopKeys = new MemoryKeyStore()
    const phoneKeys = new MemoryKeyStore()
    const created = await createIdentity(laptopKeys, { identityId: 'carol', accountId: 'acc-carol', displayName: 'Carol' })
    const account = await buildReceipt({
      stream: { type: 'account', accountId: 'acc-carol' },
      type: 'ACCOUNT_CREATED',
      payload: {},
      identityId: 'carol',
      signer: created.signer,
      prev: null,
    })
    expect((await postReceipts(relay, [created.receipt, account])).status).toBe(200)
    const token = (await login(relay.url, 'carol', created.signer)).token
    const open = async (signer = created.signer) =>
      SyncClient.open({
        relayUrl: relay.url,
        log: new MemoryLocalLog(),
        identityId: 'carol',
        signer,
        webSocket: nodeWebSocket,
        verifier: nodeVerifier(),
        sha256: nodeSha256,
        token: () => token,
      })

    const laptop = await open()
    laptop.start()
    await laptop.whenSynced()
    const phoneSigner = await phoneKeys.create('carol')
    await addDeviceKey(laptop, 'carol', phoneSigner)
    await laptop.whenSynced()
    expect(laptop.head('identity/carol')?.seq).toBe(2)

    const phone = await open(phoneSigner)
    phone.start()
    await phone.whenSynced()
    await revokeKey(phone, 'carol', created.signer.publicKeyId)
    await phone.whenSynced()

    // The laptop, offline meanwhile, writes with its revoked key.
    await laptop.stop()
    const rejected = new Promise<OutboxEntry>((resolve) => laptop.on('rejected', resolve))
    const book = 'pixbook/acc-carol/late'
    const late: Receipt = await laptop.append(book, 'PIXBOOK_CREATED', { title: 'too late' })
    laptop.start()
    const entry = await rejected
    // Its session died with its key, so it pushes without one (a signed receipt needs none) and says so.
    expect(laptop.status).toBe('error')
    expect(entry.error?.code).toBe('KEY_REVOKED')
    expect(entry.receipt.eventId).toBe(late.eventId)
    expect(laptop.pending().map((e) => e.state)).toEqual(['rejected'])
    // The phone's key still works.
    await phone.append(book, 'PIXBOOK_CREATED', { title: 'from the phone' })
    await phone.whenSynced()
    expect(phone.head(book)?.seq).toBe(1)
    await laptop.stop()
    await phone.stop()
  }, 60_000)
})
