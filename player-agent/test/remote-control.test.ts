/**
 * Remote control end to end over a real relay: the owner appends DEVICE_COMMAND receipts to
 * `remote/{account}/{device}`; the player (a child process) gets them over its sync connection, obeys
 * next / back / show (art of the channel, or a post outside it once verified) / play-channel, answers commands its display cannot do or does not know
 * `unsupported`, and acknowledges each once with DEVICE_COMMAND_ACK in its own stream, which the owner
 * reads. A command stream written by someone outside the account is refused by the relay. After a
 * restart, answered commands are not obeyed again.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Receipt } from '@pixpax/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  appendOk,
  fetchStreamJson,
  identityCreated,
  newIdentity,
  postReceipts,
  startTestRelay,
  StreamWriter,
  type TestRelay,
} from '../../sync-server/test/support/relay-harness.js'
import { newOwner, solidPng, type Owner } from './support/owner.js'
import { startPlayer, type PlayerProcess } from './support/player-process.js'
import { until } from './support/relay-proxy.js'
import { pairPlayer } from './support/testbed.js'

describe('remote control', () => {
  let relay: TestRelay
  let root: string
  let owner: Owner
  let artist: Owner
  let player: PlayerProcess
  let deviceId: string
  let remote: StreamWriter
  const posts: Record<string, { postId: string; hash: string }> = {}
  const env = () => ({ RELAY_URL: relay.url, PLAYER_DIR: join(root, 'p'), PLAYER_POLL_MS: '50', PLAYER_STILL_SECONDS: '3600' })

  beforeAll(async () => {
    relay = await startTestRelay({ db: 'pglite', store: 'fs' })
    root = await mkdtemp(join(tmpdir(), 'pixpax-remote-'))
    owner = await newOwner(relay.url)
    artist = await newOwner(relay.url)
    posts.one = await owner.publish(solidPng(16, [255, 0, 0]), 'One')
    posts.two = await owner.publish(solidPng(16, [0, 255, 0]), 'Two')
    posts.three = await owner.publish(solidPng(16, [0, 0, 255]), 'Three')
    posts.art = await artist.publish(solidPng(16, [9, 9, 9]), 'Art')
    // By an identity no channel of the player reads: `show` has to find, verify and fetch it.
    posts.far = await (await newOwner(relay.url)).publish(solidPng(16, [90, 9, 200]), 'Far')
    player = startPlayer(env())
    deviceId = await pairPlayer(player, owner, 'Remote')
    for (const p of Object.values(posts).slice(0, 3)) await player.waitFor(new RegExp(`^cached ${p.hash}$`))
    remote = new StreamWriter({ type: 'remote', accountId: owner.who.accountId, deviceIdentityId: deviceId })
  }, 120_000)
  afterAll(async () => {
    await player?.kill()
    await relay?.close()
    await rm(root, { recursive: true, force: true })
  })

  /** Appends a command as the owner and waits for the player's answer line; returns it and what shows next. */
  async function send(command: string, args?: Record<string, unknown>): Promise<{ receipt: Receipt; result: string }> {
    const receipt = await remote.build('DEVICE_COMMAND', { command, ...(args ? { args } : {}) }, owner.who)
    const [result] = await appendOk(relay.url, [receipt])
    remote.advance(receipt, result!.seq)
    const [, answer] = await player.waitFor(new RegExp(`^command ${receipt.eventId} ${command} (\\w+)$`))
    return { receipt, result: answer! }
  }
  const showingAfter = async (mark: number): Promise<string> => (await player.waitFor(/^showing (\S+)$/, mark))[1]!

  it('obeys next, back, show and play-channel, and answers unsupported commands', async () => {
    // Newest first: three, two, one. Stills stay an hour, so only a command moves on.
    const first = (await player.waitFor(/^showing (\S+)$/))[1]!
    let mark = player.lines.length
    expect((await send('next')).result).toBe('done')
    const second = await showingAfter(mark)
    expect(second).not.toBe(first)

    mark = player.lines.length
    expect((await send('back')).result).toBe('done')
    expect(await showingAfter(mark)).toBe(first)

    mark = player.lines.length
    expect((await send('show', { postId: posts.one!.postId })).result).toBe('done')
    expect(await showingAfter(mark)).toBe(posts.one!.hash)

    // A post id no one published: nothing verified to show.
    expect((await send('show', { postId: '01ARZ3NDEKTSV4RRFFQ69G5FAV' })).result).toBe('refused')
    expect((await send('brightness', { value: 40 })).result).toBe('unsupported')
    expect((await send('teleport')).result).toBe('unsupported')

    mark = player.lines.length
    expect((await send('play-channel', { channel: `user:${artist.who.identityId}` })).result).toBe('done')
    await player.waitFor(new RegExp(`^channel user:${artist.who.identityId}$`), mark)
    expect(await showingAfter(mark)).toBe(posts.art!.hash)

    // Art outside the channel: its post receipt verified in its author's stream, its blob verified, then shown.
    mark = player.lines.length
    expect((await send('show', { postId: posts.far!.postId })).result).toBe('done')
    await player.waitFor(new RegExp(`^cached ${posts.far!.hash}$`), mark)
    expect(await showingAfter(mark)).toBe(posts.far!.hash)

    // Each command answered once, in the device's own stream, which the owner's account may read.
    const acks = await until(
      async () => {
        const receipts = await fetchStreamJson(relay.url, `device/${deviceId}`, 1000, owner.token)
        const found = receipts.filter((r) => r.type === 'DEVICE_COMMAND_ACK')
        return found.length === 8 ? found : undefined
      },
      'eight acknowledgements in the device stream',
      30_000,
      () => player.output(),
    )
    expect(acks.map((r) => [r.payload.command, r.payload.result])).toEqual([
      ['next', 'done'],
      ['back', 'done'],
      ['show', 'done'],
      ['show', 'refused'],
      ['brightness', 'unsupported'],
      ['teleport', 'unsupported'],
      ['play-channel', 'done'],
      ['show', 'done'],
    ])
    expect(acks.every((r) => r.issuer.identityId === deviceId)).toBe(true)
  }, 120_000)

  it('refuses a command stream opened by an identity outside the account', async () => {
    const stranger = newIdentity('acct-stranger')
    await appendOk(relay.url, [await identityCreated(stranger)])
    const forged = new StreamWriter({ type: 'remote', accountId: owner.who.accountId, deviceIdentityId: 'dev-someone' })
    const res = await postReceipts(relay.url, [await forged.build('DEVICE_COMMAND', { command: 'next' }, stranger)])
    expect(res.json.results![0]).toMatchObject({ ok: false, error: { code: 'NOT_AUTHORIZED' } })
    // Into this device's existing stream too: only its opener writes it.
    const intruder = new StreamWriter(remote.stream)
    intruder.head = remote.head
    const res2 = await postReceipts(relay.url, [await intruder.build('DEVICE_COMMAND', { command: 'next' }, stranger)])
    expect(res2.json.results![0]).toMatchObject({ ok: false, error: { code: 'NOT_AUTHORIZED' } })
  })

  it('after a restart, answers only new commands', async () => {
    expect(await player.stop()).toBe(0)
    player = startPlayer(env())
    await player.waitFor(/^paired$/)
    const { result, receipt } = await send('next')
    expect(result).toBe('done')
    expect(player.lines.filter((l) => l.startsWith('command '))).toEqual([`command ${receipt.eventId} next done`])
    // The channel a command chose is kept across the restart.
    expect(player.lines).toContain(`channel user:${artist.who.identityId}`)
  }, 90_000)
})
