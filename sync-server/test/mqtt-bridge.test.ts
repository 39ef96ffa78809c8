/**
 * The relay's MQTT bridge against a real Mosquitto 2.0.11 started by this test on its own port: pairing
 * provisions a device account in the dynamic-security plugin and `GET /v1/devices/self` hands out its
 * credentials; an accepted DEVICE_COMMAND is published, byte for byte, on the device's commands topic
 * (QoS 1, kept for a device offline with a persistent session); the device's ACLs cover its own tree
 * only; a playlist change sends a retained channel notice; unpairing revokes the account (the live
 * connection is dropped and the next connect refused); the reconciliation deletes the accounts of devices
 * not paired any more and makes the missing ones of paired devices, leaving correct (connected) ones alone,
 * at start and every MQTT_RECONCILE_MINUTES.
 */
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { appendOk, http, identityCreated, newIdentity, openSession, StreamWriter, type Identity } from './support/relay-harness.js'
import { mqttEnv, startTestBroker, type TestBroker } from './support/mosquitto.js'
import { connectAsDevice, type DeviceCredentials } from './support/mqtt-device.js'
import { startTestRelay, type TestRelay } from '../src/testing.js'
import { channelTopic, commandsTopic, deviceRoleName, presenceTopic } from '../src/mqtt/topics.js'
import type { MqttBridge } from '../src/mqtt/bridge.js'
import { DynsecClient } from '../src/mqtt/dynsec.js'

/** A dynamic-security client as the broker's admin (what an operator's `mosquitto_ctrl` does). */
async function brokerAdmin(broker: TestBroker): Promise<{ dynsec: DynsecClient; end: () => Promise<void> }> {
  const client = await mqtt.connectAsync(broker.url, {
    username: broker.admin.username,
    password: broker.admin.password,
    protocolVersion: 5,
    reconnectPeriod: 0,
  })
  const dynsec = new DynsecClient(client)
  return { dynsec, end: () => client.endAsync(true) }
}

/** A device account as one left behind by a revocation that failed: its role, and a client holding it. */
async function leftoverAccount(dynsec: DynsecClient, id: string): Promise<void> {
  await dynsec.expect([
    { command: 'createRole', rolename: deviceRoleName(id) },
    {
      command: 'createClient',
      username: id,
      password: 'old-pairing',
      textname: 'paired 2020-01-01T00:00:00.000Z',
      roles: [{ rolename: deviceRoleName(id) }],
    },
  ])
}

type Credentials = DeviceCredentials

describe('MQTT bridge', () => {
  let broker: TestBroker
  let relay: TestRelay
  let owner: Identity
  let ownerToken: string
  const clients: MqttClient[] = []

  beforeAll(async () => {
    broker = await startTestBroker()
    relay = await startTestRelay({ env: mqttEnv(broker) })
    owner = newIdentity(`acct-${Math.random().toString(36).slice(2, 8)}`)
    await appendOk(relay.url, [await identityCreated(owner)])
    ownerToken = await openSession(relay.url, owner)
  }, 60_000)
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)))
    await relay?.close()
    await broker?.stop()
  })

  const auth = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' })

  /** A device identity on the relay, paired with the owner's account; returns its session and self answer. */
  async function pairedDevice(): Promise<{ device: Identity; token: string; self: Record<string, unknown>; remote: StreamWriter }> {
    const device = newIdentity(`devacct-${Math.random().toString(36).slice(2, 8)}`, 'device')
    await appendOk(relay.url, [await identityCreated(device)])
    const token = await openSession(relay.url, device)
    const code = await http<{ code: string }>(`${relay.url}/v1/devices/pairing-code`, { method: 'POST', headers: auth(token), body: '{}' })
    expect(code.status, code.text).toBe(200)
    const unpairedSelf = await http<Record<string, unknown>>(`${relay.url}/v1/devices/self`, { headers: auth(token) })
    expect(unpairedSelf.json.mqtt).toBeUndefined()
    const paired = await http(`${relay.url}/v1/devices/pair`, {
      method: 'POST',
      headers: auth(ownerToken),
      body: JSON.stringify({ code: code.json.code, name: 'Den' }),
    })
    expect(paired.status, paired.text).toBe(200)
    const self = await http<Record<string, unknown>>(`${relay.url}/v1/devices/self`, { headers: auth(token) })
    expect(self.status).toBe(200)
    const remote = new StreamWriter({ type: 'remote', accountId: owner.accountId, deviceIdentityId: device.identityId })
    return { device, token, self: self.json, remote }
  }

  function connect(creds: Credentials, options: mqtt.IClientOptions = {}): Promise<MqttClient> {
    return connectAsDevice(creds, options).then((c) => {
      clients.push(c)
      return c
    })
  }

  /** The next message on `topic` (listening starts now, so call it before causing the message). */
  function nextMessage(client: MqttClient, topic: string): Promise<{ payload: string; retain: boolean }> {
    return new Promise((resolve) => {
      const on = (t: string, payload: Buffer, packet: { retain: boolean }) => {
        if (t !== topic) return
        client.off('message', on)
        resolve({ payload: payload.toString('utf8'), retain: packet.retain })
      }
      client.on('message', on)
    })
  }

  async function command(remote: StreamWriter, name: string): Promise<{ eventId: string; body: string }> {
    const receipt = await remote.build('DEVICE_COMMAND', { command: name }, owner)
    const [result] = await appendOk(relay.url, [receipt])
    remote.advance(receipt, result!.seq)
    const stored = await relay.db.query<{ body: string }>('SELECT body FROM receipts WHERE event_id = $1', [receipt.eventId])
    return { eventId: receipt.eventId, body: stored.rows[0]!.body }
  }

  it('provisions credentials at pairing and publishes each accepted command, exactly as stored, QoS 1', async () => {
    const { device, self, remote } = await pairedDevice()
    const creds = self.mqtt as Credentials
    expect(creds).toMatchObject({ url: broker.url, username: device.identityId })
    expect(creds.password.length).toBeGreaterThanOrEqual(40)
    const client = await connect(creds)
    const granted = await client.subscribeAsync(commandsTopic(device.identityId), { qos: 1 })
    expect(granted[0]!.qos).toBe(1)
    const arriving = nextMessage(client, commandsTopic(device.identityId))
    const sent = await command(remote, 'next')
    const got = await arriving
    expect(got.payload).toBe(sent.body)
    expect(JSON.parse(got.payload)).toMatchObject({ eventId: sent.eventId, type: 'DEVICE_COMMAND', payload: { command: 'next' } })
    // Its presence is the one topic it may publish to.
    await client.publishAsync(presenceTopic(device.identityId), 'online', { qos: 1, retain: true })
  })

  it("publishes every command of a commit, not only its head (one notice names a commit's newest seq)", async () => {
    const { device, self, remote } = await pairedDevice()
    const client = await connect(self.mqtt as Credentials)
    await client.subscribeAsync(commandsTopic(device.identityId), { qos: 1 })
    const got: string[] = []
    const three = new Promise<void>((resolve) =>
      client.on('message', (topic, payload) => {
        if (topic === commandsTopic(device.identityId) && got.push(payload.toString('utf8')) === 3) resolve()
      }),
    )
    // Three commands in one request: one commit, one notice naming the third.
    const receipts = []
    for (const name of ['next', 'pause', 'back']) {
      const receipt = await remote.build('DEVICE_COMMAND', { command: name }, owner)
      remote.advance(receipt)
      receipts.push(receipt)
    }
    await appendOk(relay.url, receipts)
    await three
    expect(got.map((body) => (JSON.parse(body) as { payload: { command: string } }).payload.command)).toEqual(['next', 'pause', 'back'])
  })

  it("confines a device to its own topics: another device's, wildcards and the commands topic are denied", async () => {
    const a = await pairedDevice()
    const b = await pairedDevice()
    const client = await connect(a.self.mqtt as Credentials)
    for (const topic of [commandsTopic(b.device.identityId), channelTopic(b.device.identityId), 'pixpax/devices/+/commands', '#']) {
      await expect(client.subscribeAsync(topic, { qos: 1 }), topic).rejects.toMatchObject({ packet: { granted: [135] } })
    }
    await expect(client.publishAsync(commandsTopic(b.device.identityId), 'forged', { qos: 1 })).rejects.toMatchObject({ code: 135 })
    await expect(client.publishAsync(commandsTopic(a.device.identityId), 'forged', { qos: 1 })).rejects.toMatchObject({ code: 135 })
    // Still connected and still served.
    await client.subscribeAsync(commandsTopic(a.device.identityId), { qos: 1 })
    const arriving = nextMessage(client, commandsTopic(a.device.identityId))
    const sent = await command(a.remote, 'back')
    expect((await arriving).payload).toBe(sent.body)
  })

  it('keeps QoS-1 commands for a device offline with a persistent session, and delivers them at reconnect', async () => {
    const { device, self, remote } = await pairedDevice()
    const creds = self.mqtt as Credentials
    const first = await connect(creds)
    await first.subscribeAsync(commandsTopic(device.identityId), { qos: 1 })
    await first.endAsync()
    const sent = await command(remote, 'pause')
    // The same clientId, clean: false, no new subscription: the broker resumes the session.
    const again = mqtt.connect(creds.url, {
      username: creds.username,
      password: creds.password,
      clientId: creds.username,
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 3600 },
      reconnectPeriod: 0,
    })
    clients.push(again)
    const got = await nextMessage(again, commandsTopic(device.identityId))
    expect(got.payload).toBe(sent.body)
  })

  it("sends a retained channel notice to the account's devices when a playlist changes", async () => {
    const { device, self } = await pairedDevice()
    const profile = new StreamWriter({ type: 'profile', identityId: owner.identityId })
    const handle = await profile.build('PROFILE_UPDATED', { handle: owner.identityId.slice(0, 20) }, owner)
    profile.advance(handle, (await appendOk(relay.url, [handle]))[0]!.seq)
    const playlist = await profile.build('PLAYLIST_CREATED', { playlistId: 'pl-1', title: 'Wall', postIds: [] }, owner)
    // Live to a connected device…
    const live = await connect(self.mqtt as Credentials)
    await live.subscribeAsync(channelTopic(device.identityId), { qos: 1 })
    const arriving = nextMessage(live, channelTopic(device.identityId))
    const [accepted] = await appendOk(relay.url, [playlist])
    expect(JSON.parse((await arriving).payload)).toMatchObject({ eventId: playlist.eventId })
    await live.endAsync()
    // …and retained for one that subscribes after the fact.
    const later = await connect(self.mqtt as Credentials, { clean: true, properties: {} })
    const retained = nextMessage(later, channelTopic(device.identityId))
    await later.subscribeAsync(channelTopic(device.identityId), { qos: 1 })
    const got = await retained
    expect(got.retain).toBe(true)
    expect(JSON.parse(got.payload)).toEqual({
      stream: `profile/${owner.identityId}`,
      seq: accepted!.seq,
      type: 'PLAYLIST_CREATED',
      eventId: playlist.eventId,
    })
  })

  it('revokes at unpairing: the live connection is dropped and the next connect refused', async () => {
    const { device, self, token } = await pairedDevice()
    const creds = self.mqtt as Credentials
    const client = await connect(creds)
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()))
    const res = await http(`${relay.url}/v1/devices/${device.identityId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ownerToken}` },
    })
    expect(res.status, res.text).toBe(200)
    await closed
    await expect(connect(creds)).rejects.toMatchObject({ code: 135 })
    const after = await http<Record<string, unknown>>(`${relay.url}/v1/devices/self`, { headers: auth(token) })
    expect(after.json).toEqual({ deviceIdentityId: device.identityId, paired: false })
  })

  it('reconciles accounts with pairings: deletes those of unpaired devices, makes missing ones, leaves correct ones connected', async () => {
    const kept = await pairedDevice()
    const stale = await pairedDevice()
    const lost = await pairedDevice()
    const keptClient = await connect(kept.self.mqtt as Credentials)
    let keptClosed = false
    keptClient.on('close', () => (keptClosed = true))
    const staleClient = await connect(stale.self.mqtt as Credentials)
    const staleClosed = new Promise<void>((resolve) => staleClient.once('close', () => resolve()))
    // As after an unpairing while the broker was down: the pairing is gone, its account is not.
    await relay.db.query('DELETE FROM device_pairings WHERE device_identity_id = $1', [stale.device.identityId])
    const admin = await brokerAdmin(broker)
    try {
      // A paired device's account lost (the broker's file restored from an old backup), and an orphan role.
      await admin.dynsec.expect([
        { command: 'deleteClient', username: lost.device.identityId },
        { command: 'createRole', rolename: deviceRoleName('ghost') },
      ])
      const bridge = relay.app.relay.mqtt as MqttBridge
      const result = await bridge.reconcile()
      expect(result.revoked.sort()).toEqual([stale.device.identityId, 'ghost'].sort())
      expect(result.provisioned).toEqual([lost.device.identityId])
      await staleClosed
      await expect(connect(stale.self.mqtt as Credentials)).rejects.toMatchObject({ code: 135 })
      expect(await admin.dynsec.getClient(stale.device.identityId)).toBeUndefined()
      // The lost one connects again with the credentials it already had, and is served.
      const back = await connect(lost.self.mqtt as Credentials)
      await back.subscribeAsync(commandsTopic(lost.device.identityId), { qos: 1 })
      const arriving = nextMessage(back, commandsTopic(lost.device.identityId))
      const sent = await command(lost.remote, 'next')
      expect((await arriving).payload).toBe(sent.body)
      // Nothing left to do: a second pass changes nothing; the relay's and the admin's clients are untouched.
      expect(await bridge.reconcile()).toEqual({ revoked: [], provisioned: [] })
      expect(await admin.dynsec.getClient('pixpax-relay')).toBeDefined()
      expect(await admin.dynsec.getClient(broker.admin.username)).toBeDefined()
    } finally {
      await admin.end()
    }
    // The correct account was never modified: its connection stayed up throughout.
    await keptClient.publishAsync(presenceTopic(kept.device.identityId), 'online', { qos: 1, retain: true })
    expect(keptClosed).toBe(false)
  })
})

describe('MQTT bridge reconciliation interval', () => {
  it('reconciles again every MQTT_RECONCILE_MINUTES, not only at start', async () => {
    const broker = await startTestBroker()
    // 0.003 minutes: 180 ms, so the test sees several runs.
    const relay = await startTestRelay({ env: { ...mqttEnv(broker), MQTT_RECONCILE_MINUTES: '0.003' } })
    const admin = await brokerAdmin(broker)
    try {
      // Each leftover is made after the one before was deleted: the start's run cannot have taken both.
      for (const id of ['leftover-1', 'leftover-2']) {
        await leftoverAccount(admin.dynsec, id)
        await vi.waitFor(async () => expect(await admin.dynsec.getClient(id)).toBeUndefined(), { timeout: 20_000, interval: 50 })
      }
      expect((await admin.dynsec.listRoles()).filter((r) => r.startsWith(deviceRoleName('')))).toEqual([])
    } finally {
      await admin.end()
      await relay.close()
      await broker.stop()
    }
  }, 60_000)
})
