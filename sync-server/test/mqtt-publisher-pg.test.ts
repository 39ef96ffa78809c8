/**
 * The MQTT publisher on Postgres, against a Mosquitto of the test's own: it follows the acceptance log,
 * so a command accepted while the relay's LISTEN connection is down still reaches the device once
 * LISTEN is back (the notice for it was lost); and of two replicas on one database only the holder of
 * the publisher lease publishes — one message per command — until its session ends (Postgres drops it,
 * or the replica closes), when the other takes over from the stored offset.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  appendOk,
  adminQuery,
  dropSchemas,
  identityCreated,
  newIdentity,
  openSession,
  removeDir,
  type Identity,
} from './support/relay-harness.js'
import { mqttEnv, startTestBroker, type TestBroker } from './support/mosquitto.js'
import { pairDevice, recordDevice, sendCommand, type Recorder } from './support/mqtt-device.js'
import { DATABASE_URL, startTestRelay, uniqueSchema, type TestRelay } from '../src/testing.js'
import { noticeChannel, PgNotifier } from '../src/sync/notifier.js'
import type { MqttBridge } from '../src/mqtt/bridge.js'
import { publisherLockKey } from '../src/mqtt/lease.js'
import { commandsTopic } from '../src/mqtt/topics.js'

const PREFIX = `pixpax_mqttpg_${randomBytes(4).toString('hex')}`

/** A TCP relay to Postgres that can be cut: the LISTEN connection goes through it, the relay's pool does not. */
async function cuttableProxy(): Promise<{ url: string; cut(): void; mend(): void; close(): Promise<void> }> {
  const target = new URL(DATABASE_URL)
  const sockets = new Set<Socket>()
  let cut = false
  const server: Server = createServer((inbound) => {
    if (cut) return inbound.destroy()
    const outbound = tcpConnect(Number(target.port || 5432), target.hostname)
    for (const s of [inbound, outbound]) {
      sockets.add(s)
      s.on('error', () => undefined)
      s.on('close', () => {
        sockets.delete(s)
        inbound.destroy()
        outbound.destroy()
      })
    }
    inbound.pipe(outbound).pipe(inbound)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  const url = new URL(DATABASE_URL)
  url.hostname = '127.0.0.1'
  url.port = String(port)
  return {
    url: url.toString(),
    cut() {
      cut = true
      for (const s of sockets) s.destroy()
    },
    mend() {
      cut = false
    },
    async close() {
      for (const s of sockets) s.destroy()
      server.close()
      await once(server, 'close')
    },
  }
}

const bridgeOf = (relay: TestRelay) => relay.app.relay.mqtt as MqttBridge
const commandNames = (bodies: string[]) => bodies.map((b) => (JSON.parse(b) as { payload: { command: string } }).payload.command)

describe('MQTT publisher on Postgres', () => {
  let broker: TestBroker
  const relays: TestRelay[] = []
  const devices: Recorder[] = []
  const dataDirs: string[] = []

  beforeAll(async () => {
    await adminQuery('SELECT 1') // fail, never skip, without Postgres
    broker = await startTestBroker()
  }, 60_000)
  afterAll(async () => {
    await Promise.all(devices.map((d) => d.client.endAsync(true)))
    for (const r of relays) await r.close()
    await broker?.stop()
    await dropSchemas(PREFIX)
    for (const d of dataDirs) await removeDir(d)
  })

  async function owner(relayUrl: string): Promise<{ who: Identity; token: string }> {
    const who = newIdentity(`acct-${Math.random().toString(36).slice(2, 8)}`)
    await appendOk(relayUrl, [await identityCreated(who)])
    return { who, token: await openSession(relayUrl, who) }
  }

  it('publishes the commands accepted while its LISTEN connection was down, once it is back', async () => {
    const proxy = await cuttableProxy()
    try {
      const schema = uniqueSchema(PREFIX)
      const relay = await startTestRelay({
        db: 'pg',
        schema,
        env: mqttEnv(broker),
        notifier: await PgNotifier.open(proxy.url, noticeChannel(schema)),
      })
      relays.push(relay)
      dataDirs.push(relay.dataDir)
      const { who, token } = await owner(relay.url)
      const { device, creds, remote } = await pairDevice(relay.url, who, token)
      const topic = commandsTopic(device.identityId)
      const recorder = await recordDevice(creds, device.identityId, [topic])
      devices.push(recorder)
      await sendCommand(relay.url, who, remote, 'before')
      await recorder.until(topic, 1)

      // The LISTEN connection drops; these are accepted (the pool is not behind the proxy), their NOTIFY is lost.
      proxy.cut()
      for (const name of ['next', 'pause', 'back']) await sendCommand(relay.url, who, remote, name)
      proxy.mend()

      expect(commandNames(await recorder.until(topic, 4))).toEqual(['before', 'next', 'pause', 'back'])
    } finally {
      await proxy.close()
    }
  })

  it('has one publisher among two replicas (one message per command), and the other takes over when its session ends', async () => {
    const schema = uniqueSchema(PREFIX)
    const dataDir = await mkdtemp(join(tmpdir(), 'pixpax-mqttpg-'))
    dataDirs.push(dataDir)
    const replica = async () => {
      const r = await startTestRelay({
        db: 'pg',
        schema,
        dataDir,
        env: mqttEnv(broker),
        notifier: await PgNotifier.open(DATABASE_URL, noticeChannel(schema)),
      })
      relays.push(r)
      return r
    }
    const a = await replica()
    const b = await replica()
    const { who, token } = await owner(a.url)
    const { device, creds, remote } = await pairDevice(a.url, who, token)
    const topic = commandsTopic(device.identityId)
    const recorder = await recordDevice(creds, device.identityId, [topic])
    devices.push(recorder)

    // Commands through both replicas; every one published once, by whichever holds the lease.
    for (const [i, name] of ['one', 'two', 'three', 'four'].entries()) await sendCommand((i % 2 ? b : a).url, who, remote, name)
    await recorder.until(topic, 4)
    await Promise.all([bridgeOf(a).notices.idle(), bridgeOf(b).notices.idle()])
    await recorder.flush()
    expect(commandNames(recorder.on(topic))).toEqual(['one', 'two', 'three', 'four'])
    const leaders = [a, b].filter((r) => bridgeOf(r).leading)
    expect(leaders).toHaveLength(1)
    const first = leaders[0]!
    const second = first === a ? b : a

    // Postgres ends the leader's lease session (as when its node drops off): the other replica's wait for
    // the lock returns and it publishes from the stored offset; the first waits for the lock in its turn.
    const [lease] = await adminQuery<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)`,
      [publisherLockKey(schema)],
    )
    await adminQuery('SELECT pg_terminate_backend($1)', [lease!.pid])
    await vi.waitFor(() => expect([bridgeOf(first).leading, bridgeOf(second).leading]).toEqual([false, true]), { timeout: 20_000 })
    await sendCommand(first.url, who, remote, 'five')
    await recorder.until(topic, 5)

    // The second one goes away (closed): its session ends, the first takes over again.
    await second.close()
    relays.splice(relays.indexOf(second), 1)
    await sendCommand(first.url, who, remote, 'six')
    await recorder.until(topic, 6)
    expect(bridgeOf(first).leading).toBe(true)
    await bridgeOf(first).notices.idle()
    await recorder.flush()
    expect(commandNames(recorder.on(topic))).toEqual(['one', 'two', 'three', 'four', 'five', 'six'])
  })
})
