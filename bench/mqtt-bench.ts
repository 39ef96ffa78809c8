/**
 * The MQTT bridge's command path: an in-process relay (PGlite in memory) with a Mosquitto of its own,
 * one paired device as a raw MQTT client, N commands one after another. Prints the latency from
 * `POST /v1/receipts` to the command's arrival on the device's commands topic, the process CPU per
 * command (relay and client share the process: compare runs, not absolutes) and the database statements
 * the publisher sends per command (those reading `receipts`, `log_sequence`, `device_pairings` and
 * `projector_offsets` outside the append path).
 *
 *   npx tsx bench/mqtt-bench.ts [commands=200]
 */
import { performance } from 'node:perf_hooks'
import { CountingDb } from '../sync-server/src/db/counting-db.js'
import { commandsTopic } from '../sync-server/src/mqtt/topics.js'
import { startTestRelay } from '../sync-server/src/testing.js'
import { mqttEnv, startTestBroker } from '../sync-server/test/support/mosquitto.js'
import { pairDevice, recordDevice } from '../sync-server/test/support/mqtt-device.js'
import { appendOk, identityCreated, newIdentity, openSession } from '../sync-server/test/support/relay-harness.js'

const N = Number(process.argv[2] ?? 200)
const broker = await startTestBroker()
let counting: CountingDb | undefined
const relay = await startTestRelay({ env: mqttEnv(broker), wrapDb: (db) => (counting = new CountingDb(db, { record: true })) })
try {
  const owner = newIdentity(`acct-bench-${process.pid}`)
  await appendOk(relay.url, [await identityCreated(owner)])
  const token = await openSession(relay.url, owner)
  const { device, creds, remote } = await pairDevice(relay.url, owner, token)
  const topic = commandsTopic(device.identityId)
  const rec = await recordDevice(creds, device.identityId, [topic])
  const latency: number[] = []
  const afterAnswer: number[] = []
  counting!.reset()
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < N; i++) {
    const receipt = await remote.build('DEVICE_COMMAND', { command: 'next' }, owner)
    const start = performance.now()
    const arrived = rec.until(topic, i + 1).then(() => performance.now())
    const [result] = await appendOk(relay.url, [receipt])
    const answered = performance.now()
    remote.advance(receipt, result!.seq)
    const at = await arrived
    latency.push(at - start)
    afterAnswer.push(at - answered)
  }
  const cpu = process.cpuUsage(cpu0)
  const publisherSql = counting!.recorded.filter(
    (s) =>
      s.where === 'db' &&
      /FROM log_sequence|WITH s AS \(SELECT size FROM log_sequence\)|FROM receipts\s+WHERE position|device_pairings WHERE device_identity_id = ANY|projector_offsets SET applied_size = GREATEST|WHERE stream_key = \$1 AND seq > \$2|FROM device_pairings WHERE device_identity_id = \$1 AND account_id/.test(
        s.sql,
      ),
  ).length
  const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!.toFixed(1)
  console.log(
    JSON.stringify({
      commands: N,
      latencyMs: { p50: q(latency, 0.5), p95: q(latency, 0.95) },
      afterAnswerMs: { p50: q(afterAnswer, 0.5), p95: q(afterAnswer, 0.95) },
      cpuMsPerCommand: ((cpu.user + cpu.system) / 1000 / N).toFixed(2),
      publisherStatementsPerCommand: (publisherSql / N).toFixed(2),
      allStatementsPerCommand: (counting!.counts().statements / N).toFixed(2),
    }),
  )
  await rec.client.endAsync(true)
} finally {
  await relay.close()
  await broker.stop()
}
