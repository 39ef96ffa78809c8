/**
 * TransportedCommandCheck (transport/command-check.ts) on its own: a DEVICE_COMMAND that came by MQTT is
 * judged against what the sync engine verified (a local log holding the owner's identity and the command
 * stream). It is verified when it continues the verified chain (also through a command verified by MQTT
 * just before), deferred when it is ahead of the log or its issuer is not held yet, and refused when it is
 * tampered, signed with a key that is not the issuer's, in another device's stream, or another receipt
 * under an event id the log holds. Only what is new is verified again at each check, and a command MQTT
 * alone brought that the relay never kept does not lead it off the relay's chain.
 */
import { MemoryLocalLog, type LoggedReceipt } from '@pixpax/client-sdk'
import { streamKey, type Receipt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { identityCreated, newIdentity, newKey, StreamWriter } from '@pixpax/shared/testing'
import { beforeEach, describe, expect, it } from 'vitest'
import { TransportedCommandCheck } from '../src/transport/command-check.js'

describe('TransportedCommandCheck', () => {
  const owner = newIdentity('acct-owner')
  const deviceId = 'dev-check'
  const remoteKey = `remote/${owner.accountId}/${deviceId}`
  let log: MemoryLocalLog
  let writer: StreamWriter
  let followed: string[]
  let check: TransportedCommandCheck
  let position = 0

  const logged = (receipt: Receipt, seq: number): LoggedReceipt => ({
    streamKey: streamKey(receipt.stream),
    seq,
    receipt,
    position: position++,
  })
  const command = async (name: string) => {
    const r = await writer.build('DEVICE_COMMAND', { command: name }, owner)
    writer.advance(r)
    return r
  }

  beforeEach(async () => {
    log = new MemoryLocalLog()
    followed = []
    writer = new StreamWriter({ type: 'remote', accountId: owner.accountId, deviceIdentityId: deviceId })
    await log.append([logged(await identityCreated(owner), 1)])
    const first = await command('next')
    await log.append([logged(first, 1)])
    check = new TransportedCommandCheck({ log, verifier: nodeVerifier(), sha256: nodeSha256, follow: (k) => followed.push(k) })
  })

  it('verifies a command continuing the verified chain, and one continuing that', async () => {
    const second = await command('back')
    const third = await command('pause')
    expect(await check.check(JSON.stringify(second), remoteKey)).toEqual({ kind: 'verified', receipt: second })
    expect(await check.check(JSON.stringify(third), remoteKey)).toEqual({ kind: 'verified', receipt: third })
    // One the log already holds, byte for byte, is verified too (it came both ways).
    const [held] = await log.read(remoteKey)
    expect((await check.check(JSON.stringify(held!.receipt), remoteKey)).kind).toBe('verified')
  })

  it('defers a command ahead of the log, and one whose issuer it does not hold yet (and follows that identity)', async () => {
    await command('back') // never delivered here
    const ahead = await command('pause')
    expect(await check.check(JSON.stringify(ahead), remoteKey)).toMatchObject({ kind: 'deferred', eventId: ahead.eventId })
    const colleague = newIdentity(owner.accountId)
    const other = await writer.build('DEVICE_COMMAND', { command: 'next' }, colleague)
    expect(await check.check(JSON.stringify(other), remoteKey)).toMatchObject({ kind: 'deferred', code: 'KEY_UNKNOWN' })
    expect(followed).toEqual([`identity/${colleague.identityId}`])
  })

  it('refuses tampered, wrongly signed, misplaced and conflicting commands', async () => {
    const next = await writer.build('DEVICE_COMMAND', { command: 'next' }, owner)
    const tampered = { ...next, payload: { command: 'resume' } }
    expect(await check.check(JSON.stringify(tampered), remoteKey)).toMatchObject({ kind: 'refused', code: 'HASH_MISMATCH' })
    const stranger = newKey()
    const forged = await writer.build('DEVICE_COMMAND', { command: 'next' }, owner, { signer: stranger.signer })
    expect(await check.check(JSON.stringify(forged), remoteKey)).toMatchObject({ kind: 'refused', code: 'KEY_UNKNOWN' })
    const elsewhere = new StreamWriter({ type: 'remote', accountId: owner.accountId, deviceIdentityId: 'dev-other' })
    const misplaced = await elsewhere.build('DEVICE_COMMAND', { command: 'next' }, owner)
    expect(await check.check(JSON.stringify(misplaced), remoteKey)).toMatchObject({ kind: 'refused', code: 'NOT_AUTHORIZED' })
    const [held] = await log.read(remoteKey)
    const twin = await writer.build('DEVICE_COMMAND', { command: 'back' }, owner, { eventId: held!.receipt.eventId, prev: null })
    expect(await check.check(JSON.stringify(twin), remoteKey)).toMatchObject({ kind: 'refused', code: 'CHAIN_CONFLICT' })
    expect(await check.check('{"eventId": "x"', remoteKey)).toMatchObject({ kind: 'refused', code: 'JSON_INVALID' })
  })

  it('gets back on the relay’s chain when a command MQTT alone brought never reached the log', async () => {
    // Signed by the owner, verified here, but the relay kept another command at that place.
    const [head] = await log.read(remoteKey)
    const base = { eventId: head!.receipt.eventId, hash: head!.receipt.hash }
    const orphan = await writer.build('DEVICE_COMMAND', { command: 'pause' }, owner, { prev: base })
    expect((await check.check(JSON.stringify(orphan), remoteKey)).kind).toBe('verified')
    const kept = await writer.build('DEVICE_COMMAND', { command: 'next' }, owner, { prev: base })
    await log.append([logged(kept, 2)])
    writer.advance(kept)
    const after = await command('back')
    expect(await check.check(JSON.stringify(after), remoteKey)).toEqual({ kind: 'verified', receipt: after })
    // And the orphan is now a conflict with the verified stream, not a command.
    expect((await check.check(JSON.stringify(orphan), remoteKey)).kind).not.toBe('verified')
  })
})
