/**
 * A Mosquitto of the test's own (never the machine's on 1883): Debian's 2.0.11 binary on a free
 * loopback port, in a temp dir with a generated config and a dynamic-security file made by
 * `mosquitto_ctrl dynsec init` (one admin client). Ready when the broker says `running` on stderr;
 * `stop()` ends that one process and removes the dir.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

export const MOSQUITTO = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto'
const SETPRIV = '/usr/bin/setpriv'
export const DYNSEC_PLUGIN = process.env.MOSQUITTO_DYNSEC ?? '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so'

export interface TestBroker {
  url: string
  port: number
  admin: { username: string; password: string }
  /** What the broker logged so far (for failure messages). */
  output(): string
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

export async function startTestBroker(): Promise<TestBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'pixpax-mosquitto-'))
  const admin = { username: 'pixpax-admin', password: randomBytes(18).toString('hex') }
  await promisify(execFile)('mosquitto_ctrl', ['dynsec', 'init', join(dir, 'dynsec.json'), admin.username, admin.password])
  const port = await freePort()
  await writeFile(
    join(dir, 'mosquitto.conf'),
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous false',
      `plugin ${DYNSEC_PLUGIN}`,
      `plugin_opt_config_file ${join(dir, 'dynsec.json')}`,
      // Started as root, Mosquitto drops to the `mosquitto` user, which cannot read this private dir: stay.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      '',
    ].join('\n'),
  )
  // The broker dies with the test process even when that is killed (a timed-out worker): setpriv (util-linux,
  // on every Debian) execs it with a parent-death signal.
  const command = existsSync(SETPRIV)
    ? [SETPRIV, '--pdeathsig', 'TERM', MOSQUITTO, '-c', join(dir, 'mosquitto.conf')]
    : [MOSQUITTO, '-c', join(dir, 'mosquitto.conf')]
  const child: ChildProcess = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  const running = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk.toString()
      if (/mosquitto version [\d.]+ running/.test(log)) resolve()
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`mosquitto exited ${code} before it ran:\n${log}`)))
  })
  // A test process that exits without stop() (a failed hook) takes its broker with it.
  const orphanGuard = () => child.kill('SIGTERM')
  process.once('exit', orphanGuard)
  try {
    await running
  } catch (error) {
    process.off('exit', orphanGuard)
    await rm(dir, { recursive: true, force: true })
    throw error
  }
  const exited = once(child, 'exit')
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    admin,
    output: () => log,
    async stop() {
      process.off('exit', orphanGuard)
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        await exited
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** The relay's environment for this broker. */
export function mqttEnv(broker: TestBroker): Record<string, string> {
  return {
    MQTT_URL: broker.url,
    MQTT_ADMIN_USERNAME: broker.admin.username,
    MQTT_ADMIN_PASSWORD: broker.admin.password,
    MQTT_DEVICE_SECRET: 'test-device-secret-0123456789',
  }
}
