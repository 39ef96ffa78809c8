/**
 * The devices domain through the shared verifier: a device writes only its own stream, a pairing is
 * opened only by an identity of the account it names, and payloads are closed.
 */
import { describe, expect, it } from 'vitest'
import { buildReceipt, ChainVerifier, generatePrivateJwk, type Receipt, type Signer, type StreamRef } from '../src/index.js'
import { nodeSha256, nodeSigner, nodeVerifier } from '../src/node/index.js'

const capabilities = { display: 'png', maxWidth: 64, maxHeight: 64, animation: true, brightness: false, rotation: false, mirror: false }
const status = { state: 'playing', capabilities, playlistSize: 1, cacheBytes: 10, cachedItems: 1, online: true, uptimeSeconds: 3 }

interface Who {
  id: string
  account: string
  signer: Signer
}
const who = (id: string, account: string): Who => ({ id, account, signer: nodeSigner(generatePrivateJwk()) })

const build = (by: Who, stream: StreamRef, type: string, payload: Record<string, unknown>, prev: Receipt | null = null) =>
  buildReceipt({
    stream,
    type,
    payload,
    identityId: by.id,
    signer: by.signer,
    prev: prev ? { eventId: prev.eventId, hash: prev.hash } : null,
    sha256: nodeSha256,
  })

const created = (w: Who, kind: string) =>
  build(w, { type: 'identity', identityId: w.id }, 'IDENTITY_CREATED', { publicKey: w.signer.publicKey, accountId: w.account, kind })

describe('devices domain', () => {
  it('accepts a device stream written by its device and a pairing opened by the account owner', async () => {
    const chain = new ChainVerifier({ verifier: nodeVerifier(), sha256: nodeSha256 })
    const device = who('dev-1', 'devacct-1')
    const owner = who('owner-1', 'acct-1')
    const registered = await build(device, { type: 'device', identityId: 'dev-1' }, 'DEVICE_REGISTERED', { capabilities })
    const paired = await build(owner, { type: 'pairing', accountId: 'acct-1', deviceIdentityId: 'dev-1' }, 'DEVICE_PAIRED', { name: 'Den' })
    const lines = [
      await created(device, 'device'),
      await created(owner, 'person'),
      registered,
      await build(device, { type: 'device', identityId: 'dev-1' }, 'DEVICE_STATUS', status, registered),
      paired,
      await build(owner, { type: 'pairing', accountId: 'acct-1', deviceIdentityId: 'dev-1' }, 'DEVICE_UNPAIRED', {}, paired),
    ]
    for (const r of lines) expect(await chain.add(JSON.stringify(r))).toMatchObject({ ok: true })
  })

  it('refuses a status in another device’s stream, a pairing by another account, and unknown members', async () => {
    const chain = new ChainVerifier({ verifier: nodeVerifier(), sha256: nodeSha256 })
    const device = who('dev-2', 'devacct-2')
    const stranger = who('mallory', 'acct-evil')
    for (const r of [await created(device, 'device'), await created(stranger, 'person')])
      expect((await chain.add(JSON.stringify(r))).ok).toBe(true)
    const forged = await build(stranger, { type: 'device', identityId: 'dev-2' }, 'DEVICE_REGISTERED', { capabilities })
    expect(await chain.add(JSON.stringify(forged))).toMatchObject({ ok: false, code: 'NOT_AUTHORIZED' })
    const hijack = await build(stranger, { type: 'pairing', accountId: 'acct-1', deviceIdentityId: 'dev-2' }, 'DEVICE_PAIRED', {
      name: 'mine',
    })
    expect(await chain.add(JSON.stringify(hijack))).toMatchObject({ ok: false, code: 'NOT_AUTHORIZED' })
    // buildReceipt checks the payload too: closed objects, integer sizes.
    await expect(
      build(device, { type: 'device', identityId: 'dev-2' }, 'DEVICE_REGISTERED', { capabilities: { ...capabilities, laser: true } }),
    ).rejects.toMatchObject({ code: 'SCHEMA_INVALID' })
    await expect(
      build(device, { type: 'device', identityId: 'dev-2' }, 'DEVICE_REGISTERED', { capabilities: { ...capabilities, maxWidth: 0 } }),
    ).rejects.toMatchObject({ code: 'SCHEMA_INVALID' })
  })
})
