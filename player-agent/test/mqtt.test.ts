/**
 * The MQTT bridge end to end: a real Mosquitto started by this test on its own port, an in-process relay
 * with MQTT_URL set, and the player (a child process) with PLAYER_MQTT=1. Once paired the player gets
 * its broker credentials over its authenticated session and connects with a persistent session. A
 * command the owner sends is published on the device's topic, verified by the player like one from the
 * sync WebSocket and acknowledged with its own receipt, which the relay accepts. A command published on
 * the topic by someone with broker access — tampered, or signed with a key that is not the owner's — is
 * refused and never obeyed. A command sent while the player is down reaches it through its persistent
 * session when it comes back, and is answered once. With its sync connection pulled, the player still
 * obeys a command that comes by MQTT, and its answer reaches the relay when it is back. Unpaired, it is
 * dropped by the broker and does not get back on. (The relay-side ACL and revocation tests are in
 * sync-server/test/mqtt-bridge.test.ts.)
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildReceipt, type Receipt } from '@pixpax/shared'
import { nodeSha256 } from '@pixpax/shared/node'
import { newKey } from '@pixpax/shared/testing'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { relayPublisherCredentials } from '../../sync-server/src/mqtt/credentials.js'
import { commandsTopic, RELAY_USERNAME } from '../../sync-server/src/mqtt/topics.js'
import { mqttEnv, startTestBroker, type TestBroker } from '../../sync-server/test/support/mosquitto.js'
import { appendOk, fetchStreamJson, startTestRelay, StreamWriter, type TestRelay } from '../../sync-server/test/support/relay-harness.js'
import { newOwner, solidPng, type Owner } from './support/owner.js'
import { startPlayer, type PlayerProcess } from './support/player-process.js'
import { startRelayProxy, until, type RelayProxy } from './support/relay-proxy.js'
import { pairPlayer } from './support/testbed.js'

describe('MQTT bridge (player)', () => {
  let broker: TestBroker
  let relay: TestRelay
  /** The player reaches the relay (HTTP and sync WebSocket) through this, so a test can pull it. */
  let proxy: RelayProxy
  let root: string
  let owner: Owner
  let player: PlayerProcess
  let deviceId: string
  let remote: StreamWriter
  const env = () => ({
    RELAY_URL: proxy.url,
    PLAYER_DIR: join(root, 'p'),
    PLAYER_POLL_MS: '50',
    PLAYER_STILL_SECONDS: '3600',
    PLAYER_MQTT: '1',
    PLAYER_PAIRED_CHECK_MS: '200',
  })

  beforeAll(async () => {
    broker = await startTestBroker()
    relay = await startTestRelay({ db: 'pglite', store: 'fs', env: mqttEnv(broker) })
    proxy = await startRelayProxy(relay.url)
    root = await mkdtemp(join(tmpdir(), 'pixpax-mqtt-'))
    owner = await newOwner(relay.url)
    const one = await owner.publish(solidPng(16, [255, 0, 0]), 'One')
    await owner.publish(solidPng(16, [0, 255, 0]), 'Two')
    player = startPlayer(env())
    deviceId = await pairPlayer(player, owner, 'Wall')
    await player.waitFor(/^mqtt online$/)
    await player.waitFor(new RegExp(`^cached ${one.hash}$`))
    remote = new StreamWriter({ type: 'remote', accountId: owner.who.accountId, deviceIdentityId: deviceId })
  }, 120_000)
  afterAll(async () => {
    await player?.kill()
    await proxy?.close()
    await relay?.close()
    await broker?.stop()
    await rm(root, { recursive: true, force: true })
  })

  async function send(command: string): Promise<Receipt> {
    const receipt = await remote.build('DEVICE_COMMAND', { command }, owner.who)
    const [result] = await appendOk(relay.url, [receipt])
    remote.advance(receipt, result!.seq)
    return receipt
  }
  const acks = async () =>
    (await fetchStreamJson(relay.url, `device/${deviceId}`, 1000, owner.token)).filter((r) => r.type === 'DEVICE_COMMAND_ACK')

  it('delivers a command over MQTT, verified by the player, which acknowledges it with a receipt the relay accepts', async () => {
    const receipt = await send('next')
    await player.waitFor(new RegExp(`^mqtt command ${receipt.eventId} verified$`))
    await player.waitFor(new RegExp(`^command ${receipt.eventId} next done$`))
    const ack = await until(
      async () => (await acks()).find((r) => r.payload.commandEventId === receipt.eventId),
      'the acknowledgement in the device stream',
      30_000,
      () => player.output(),
    )
    expect(ack).toMatchObject({ issuer: { identityId: deviceId }, payload: { command: 'next', result: 'done' } })
  }, 60_000)

  it('refuses commands published on its topic by someone with broker access: tampered, or signed with another key', async () => {
    const intruder = await mqtt.connectAsync(broker.url, {
      username: RELAY_USERNAME,
      password: relayPublisherCredentials(mqttEnv(broker).MQTT_DEVICE_SECRET!).password,
      protocolVersion: 5,
      reconnectPeriod: 0,
    })
    try {
      const real = await send('pause')
      await player.waitFor(new RegExp(`^command ${real.eventId} pause done$`))
      // 1. A real command of the owner, replayed with its payload changed.
      const tampered = { ...real, payload: { command: 'resume' } }
      // 2. A well-formed receipt continuing the stream in the owner's name, signed with a key that is not the owner's.
      const stranger = newKey()
      const forged = await buildReceipt({
        stream: remote.stream,
        type: 'DEVICE_COMMAND',
        payload: { command: 'next' },
        identityId: owner.who.identityId,
        signer: stranger.signer,
        prev: remote.head!,
        sha256: nodeSha256,
      })
      await intruder.publishAsync(commandsTopic(deviceId), JSON.stringify(tampered), { qos: 1 })
      await intruder.publishAsync(commandsTopic(deviceId), JSON.stringify(forged), { qos: 1 })
      await intruder.publishAsync(commandsTopic(deviceId), 'not json at all', { qos: 1 })
      await player.waitFor(new RegExp(`^mqtt command ${forged.eventId} refused KEY_UNKNOWN$`))
      await player.waitFor(/^mqtt command unknown refused JSON_INVALID$/)
      // Messages are checked in order: once a real command after them is answered, none of them was obeyed.
      const after = await send('resume')
      await player.waitFor(new RegExp(`^command ${after.eventId} resume done$`))
      expect(player.lines.find((l) => /^mqtt command \S+ refused /.test(l) && l.includes(real.eventId))).toMatch(/refused HASH_MISMATCH$/)
      expect(player.lines.filter((l) => l.startsWith(`command ${real.eventId} `))).toEqual([`command ${real.eventId} pause done`])
      expect(player.lines.some((l) => l.startsWith(`command ${forged.eventId} `))).toBe(false)
      const answered = (await acks()).map((r) => r.payload.commandEventId)
      expect(answered).not.toContain(forged.eventId)
    } finally {
      await intruder.endAsync()
    }
  }, 60_000)

  it('gets a command sent while it was down through its persistent session, and answers it once', async () => {
    expect(await player.stop()).toBe(0)
    const receipt = await send('back')
    player = startPlayer(env())
    await player.waitFor(/^paired$/)
    // The broker kept it for the session. Verified at once, or deferred when it came before the engine had
    // logged the command before it (one that only MQTT had brought before the stop): then the engine's copy
    // is the one answered. Either way it is answered once.
    await player.waitFor(new RegExp(`^mqtt command ${receipt.eventId} (verified|deferred CHAIN_\\w+)$`))
    await player.waitFor(new RegExp(`^command ${receipt.eventId} back done$`))
    // A real command after it, answered: nothing more is coming for the first one.
    const next = await send('next')
    await player.waitFor(new RegExp(`^command ${next.eventId} next done$`))
    expect(player.lines.filter((l) => l.startsWith(`command ${receipt.eventId} `))).toHaveLength(1)
  }, 90_000)

  it('obeys a command over MQTT while its sync connection is down, and its answer lands once the relay is back', async () => {
    // Every answer so far has reached the relay: no push is in flight when the connection goes.
    const answeredSoFar = player.lines.flatMap((l) => /^command (\S+) \S+ \w+$/.exec(l)?.[1] ?? [])
    await until(
      async () => {
        const have = new Set((await acks()).map((r) => r.payload.commandEventId))
        return answeredSoFar.every((id) => have.has(id)) ? true : undefined
      },
      'the earlier acknowledgements',
      30_000,
      () => player.output(),
    )
    const mark = player.lines.length
    const port = Number(new URL(proxy.url).port)
    await proxy.close()
    await player.waitFor(/^relay offline$/, mark)
    const receipt = await send('back')
    await player.waitFor(new RegExp(`^mqtt command ${receipt.eventId} verified$`), mark)
    await player.waitFor(new RegExp(`^command ${receipt.eventId} back done$`), mark)
    // The next one chains on a command only MQTT brought: verified through it.
    const second = await send('next')
    await player.waitFor(new RegExp(`^command ${second.eventId} next done$`), mark)
    proxy = await startRelayProxy(relay.url, port)
    await player.waitFor(/^relay online$/, mark)
    await until(
      async () => {
        const have = new Set((await acks()).map((r) => r.payload.commandEventId))
        return have.has(receipt.eventId) && have.has(second.eventId) ? true : undefined
      },
      'the acknowledgements queued offline',
      30_000,
      () => player.output(),
    )
    // The sync engine delivers the command too, now: it is not obeyed again.
    const next = await send('next')
    await player.waitFor(new RegExp(`^command ${next.eventId} next done$`), mark)
    for (const id of [receipt.eventId, second.eventId]) {
      expect(player.lines.filter((l) => l.startsWith(`command ${id} `))).toHaveLength(1)
      expect((await acks()).filter((r) => r.payload.commandEventId === id)).toHaveLength(1)
    }
  }, 90_000)

  it("reloads its channel on the relay's notice when the owner publishes", async () => {
    const mark = player.lines.length
    const three = await owner.publish(solidPng(16, [0, 0, 255]), 'Three')
    await player.waitFor(/^mqtt channel$/, mark)
    await player.waitFor(new RegExp(`^cached ${three.hash}$`), mark)
  }, 60_000)

  it('is cut off the broker when unpaired, and lets go of it', async () => {
    const mark = player.lines.length
    expect((await owner.unpair(deviceId)).status).toBe(200)
    // The relay deletes the device's broker account: the broker drops the connection at once.
    await player.waitFor(/^mqtt offline$/, mark)
    await player.waitFor(/^unpaired$/, mark)
    await player.waitFor(/^PAIRING CODE: \w{6}$/, mark)
    // Its credentials are gone: it never got back on.
    expect(player.lines.slice(mark).filter((l) => l.startsWith('mqtt online'))).toEqual([])
  }, 60_000)
})
