/**
 * client-sdk's owner-side players functions and device-linking helpers, without a relay: the envelope of
 * a refusal reaches the caller as RelayRequestError (code, status, reason), the controls offered follow
 * the declared capabilities, acks are matched to their commands, a command is signed into the remote
 * stream and follows the device's stream, fingerprints are stable and short, and approving refuses a
 * key that does not hash to the fingerprint shown.
 */
import { jwkThumbprint, type DeviceCapabilities, type Receipt } from '@pixpax/shared'
import { newIdentity } from '@pixpax/shared/testing'
import { describe, expect, it } from 'vitest'
import {
  allowedCommands,
  approveLink,
  claimLinkCode,
  commandAcks,
  keyFingerprint,
  pairDevice,
  RelayRequestError,
  sendDeviceCommand,
  type SyncClient,
} from '../src/index.js'

const caps = (extra: Partial<DeviceCapabilities> = {}): DeviceCapabilities => ({
  display: 'png',
  maxWidth: 64,
  maxHeight: 64,
  animation: true,
  brightness: false,
  rotation: false,
  mirror: false,
  ...extra,
})

describe('devices', () => {
  it('offers brightness, rotation and mirror only when the display declares them', () => {
    expect(allowedCommands(caps())).not.toEqual(expect.arrayContaining(['brightness']))
    expect(allowedCommands(caps())).toEqual(expect.arrayContaining(['next', 'back', 'pause', 'resume', 'show', 'play-playlist']))
    expect(allowedCommands(caps({ brightness: true, mirror: true }))).toEqual(expect.arrayContaining(['brightness', 'mirror']))
    expect(allowedCommands(caps({ brightness: true, mirror: true }))).not.toContain('rotation')
  })

  it('matches acks to their commands by eventId and ignores the other receipts of the device stream', () => {
    const r = (type: string, payload: Record<string, unknown>, eventId: string) =>
      ({ type, payload, eventId, createdAt: '2026-12-02T00:00:00.000Z' }) as unknown as Receipt
    const acks = commandAcks([
      r('DEVICE_STATUS', { state: 'idle' }, 'E1'),
      r('DEVICE_COMMAND_ACK', { commandEventId: 'C1', command: 'next', result: 'done' }, 'E2'),
      r('DEVICE_COMMAND_ACK', { commandEventId: 'C2', command: 'mirror', result: 'unsupported' }, 'E3'),
    ])
    expect([...acks.keys()]).toEqual(['C1', 'C2'])
    expect(acks.get('C2')).toMatchObject({ result: 'unsupported', ackEventId: 'E3' })
  })

  it('signs a command into remote/{account}/{device} and follows the device stream for its answer', async () => {
    const calls: string[] = []
    const client = {
      follow: (key: string) => calls.push(`follow ${key}`),
      append: async (key: string, type: string, payload: Record<string, unknown>) => {
        calls.push(`append ${key} ${type} ${JSON.stringify(payload)}`)
        return {} as Receipt
      },
    } as unknown as Pick<SyncClient, 'append' | 'follow'>
    await sendDeviceCommand(client, 'a-1', 'dev-1', 'brightness', { value: 40 })
    expect(calls).toEqual(['follow device/dev-1', 'append remote/a-1/dev-1 DEVICE_COMMAND {"command":"brightness","args":{"value":40}}'])
  })

  it("turns the relay's envelope into RelayRequestError with code, status and reason", async () => {
    const fetchImpl = (async () =>
      new Response(
        JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no such pairing code', details: { reason: 'PAIRING_CODE_INVALID' } } }),
        {
          status: 404,
        },
      )) as typeof fetch
    const error = await pairDevice('http://relay', 't', 'ABCDEF', 'Den', fetchImpl).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RelayRequestError)
    expect(error).toMatchObject({ status: 404, code: 'NOT_FOUND', reason: 'PAIRING_CODE_INVALID', message: 'no such pairing code' })
  })
})

describe('device linking helpers', () => {
  it('sends the code trimmed with the public key, and shows a 12-hex fingerprint that is the same for the same key', async () => {
    const key = newIdentity('x').signer
    let sent: unknown
    const fetchImpl = (async (_url: string, init?: RequestInit) => {
      sent = JSON.parse(init?.body as string)
      return new Response(JSON.stringify({ linkId: 'L'.repeat(22), publicKeyId: key.publicKeyId, expiresAt: 'x' }))
    }) as typeof fetch
    await claimLinkCode('http://relay/', ' abc123 ', key.publicKey, fetchImpl)
    expect(sent).toEqual({ code: 'abc123', publicKey: key.publicKey })
    expect(keyFingerprint(key.publicKeyId)).toMatch(/^[0-9A-F]{4} [0-9A-F]{4} [0-9A-F]{4}$/)
    expect(keyFingerprint(key.publicKeyId)).toBe(keyFingerprint(jwkThumbprint(key.publicKey)))
    expect(keyFingerprint(key.publicKeyId)).not.toBe(keyFingerprint(newIdentity('y').signer.publicKeyId))
    expect(() => keyFingerprint('!!')).toThrow()
  })

  it('refuses to approve a key that does not hash to the fingerprint shown', () => {
    const shown = newIdentity('shown').signer
    const swapped = newIdentity('swapped').signer
    const client = { append: () => Promise.reject(new Error('must not append')) } as unknown as SyncClient
    expect(() => approveLink(client, 'u-1', { publicKey: swapped.publicKey, publicKeyId: shown.publicKeyId })).toThrow(/fingerprint/)
  })
})
