/**
 * A paired device as the MQTT bridge tests need it: an identity on the relay, paired with an owner's
 * account (so it has broker credentials), its remote stream for the owner's commands, and a raw MQTT
 * client that records every message it gets.
 */
import mqtt, { type MqttClient } from 'mqtt'
import { appendOk, http, identityCreated, newIdentity, openSession, StreamWriter, type Identity } from './relay-harness.js'
import { presenceTopic } from '../../src/mqtt/topics.js'

export interface DeviceCredentials {
  url: string
  username: string
  password: string
}

export interface PairedDevice {
  device: Identity
  token: string
  creds: DeviceCredentials
  remote: StreamWriter
}

const auth = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' })

/** A new device identity on `relayUrl`, paired by `owner`; its credentials from `GET /v1/devices/self`. */
export async function pairDevice(relayUrl: string, owner: Identity, ownerToken: string): Promise<PairedDevice> {
  const device = newIdentity(`devacct-${Math.random().toString(36).slice(2, 8)}`, 'device')
  await appendOk(relayUrl, [await identityCreated(device)])
  const token = await openSession(relayUrl, device)
  const code = await http<{ code: string }>(`${relayUrl}/v1/devices/pairing-code`, { method: 'POST', headers: auth(token), body: '{}' })
  if (code.status !== 200) throw new Error(`pairing code: ${code.text}`)
  const paired = await http(`${relayUrl}/v1/devices/pair`, {
    method: 'POST',
    headers: auth(ownerToken),
    body: JSON.stringify({ code: code.json.code, name: 'Den' }),
  })
  if (paired.status !== 200) throw new Error(`pairing: ${paired.text}`)
  const self = await http<{ mqtt?: DeviceCredentials }>(`${relayUrl}/v1/devices/self`, { headers: auth(token) })
  if (!self.json.mqtt) throw new Error(`no mqtt credentials: ${self.text}`)
  const remote = new StreamWriter({ type: 'remote', accountId: owner.accountId, deviceIdentityId: device.identityId })
  return { device, token, creds: self.json.mqtt, remote }
}

/** Sends `name` as a DEVICE_COMMAND of `owner` to the device; returns the receipt's body as stored. */
export async function sendCommand(relayUrl: string, owner: Identity, remote: StreamWriter, name: string): Promise<string> {
  const receipt = await remote.build('DEVICE_COMMAND', { command: name }, owner)
  const [result] = await appendOk(relayUrl, [receipt])
  remote.advance(receipt, result!.seq)
  return receipt.eventId
}

export interface Recorder {
  client: MqttClient
  /** Every message so far on `topic`, as text, in arrival order. */
  on(topic: string): string[]
  /** Resolves once `topic` has had `count` messages. */
  until(topic: string, count: number): Promise<string[]>
  /**
   * Resolves once everything the broker routed to this client before now has arrived: the device's own
   * presence message makes a round trip through the broker behind it.
   */
  flush(): Promise<void>
}

/** Connects with the device's credentials as a player does: its username as client id, a persistent session, no reconnects. */
export function connectAsDevice(creds: DeviceCredentials, options: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(creds.url, {
    username: creds.username,
    password: creds.password,
    clientId: creds.username,
    clean: false,
    protocolVersion: 5,
    // MQTT 5: without an expiry the session ends with the connection, clean or not.
    properties: { sessionExpiryInterval: 3600 },
    reconnectPeriod: 0,
    ...options,
  })
}

/** Connects as the device (persistent session), subscribes to `topics` and records what comes. */
export async function recordDevice(creds: DeviceCredentials, deviceIdentityId: string, topics: string[]): Promise<Recorder> {
  const client = await connectAsDevice(creds)
  const got = new Map<string, string[]>()
  const waiters: Array<() => void> = []
  client.on('message', (topic, payload) => {
    const list = got.get(topic) ?? []
    list.push(payload.toString('utf8'))
    got.set(topic, list)
    for (const w of waiters.splice(0)) w()
  })
  const presence = presenceTopic(deviceIdentityId)
  await client.subscribeAsync([...topics, presence], { qos: 1 })
  const on = (topic: string): string[] => got.get(topic) ?? []
  const until = async (topic: string, count: number): Promise<string[]> => {
    while (on(topic).length < count) await new Promise<void>((resolve) => waiters.push(resolve))
    return on(topic)
  }
  let marks = 0
  const flush = async (): Promise<void> => {
    const mark = `mark-${++marks}`
    await client.publishAsync(presence, mark, { qos: 1 })
    while (!on(presence).includes(mark)) await new Promise<void>((resolve) => waiters.push(resolve))
  }
  return { client, on, until, flush }
}
