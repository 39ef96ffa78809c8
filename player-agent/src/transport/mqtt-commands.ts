/**
 * The MQTT bridge on the player (docs/player.md, "MQTT bridge"), optional beside the sync WebSocket,
 * which stays the default and the fallback: the engine keeps following the command stream, so a command
 * the broker loses (or never gets) still arrives, and one that comes both ways is answered once.
 *
 * - Connects with the credentials the relay hands out in `GET /v1/devices/self` while paired, and
 *   disconnects when they go (unpaired) or change (paired again).
 * - A message on the commands topic is verified (command-check.ts) and answered by the remote inbox
 *   exactly as one from the log; a forged or tampered one is printed `mqtt command <id> refused <CODE>`
 *   and neither obeyed nor answered.
 * - A channel notice reloads the channel.
 *
 * mqtt.js (and its dependencies, ≈ 650 KB of JavaScript) is imported on the first connection, not at
 * start: a player without PLAYER_MQTT, or whose relay offers no bridge, never loads it (docs/player.md,
 * "Memory").
 *
 * Lines: `mqtt online`, `mqtt offline`, `mqtt channel` (a notice: reloading), `mqtt command <eventId>
 * verified|deferred <CODE>|refused <CODE>`.
 */
import type { LocalLog } from '@pixpax/client-sdk'
import type { Sha256, SignatureVerifier } from '@pixpax/shared'
import type { RemoteInbox } from '../remote/remote-control.js'
import { TransportedCommandCheck } from './command-check.js'
import type { MqttCredentials, MqttTransport } from './mqtt-transport.js'

export interface MqttCommandsOptions {
  deviceIdentityId: string
  log: LocalLog
  verifier: SignatureVerifier
  sha256: Sha256
  /** Follow a stream over the sync engine (an issuer's identity not held yet). */
  follow(streamKey: string): void
  inbox: RemoteInbox
  channelChanged(): void
  say(line: string): void
  warn(line: string): void
}

export class MqttCommands {
  private transport: MqttTransport | undefined
  private readonly check: TransportedCommandCheck

  constructor(private readonly options: MqttCommandsOptions) {
    this.check = new TransportedCommandCheck(options)
  }

  get connected(): boolean {
    return this.transport?.connected ?? false
  }

  /** Connects, reconnects with new credentials, or disconnects (`undefined`), as the relay's latest answer says. */
  async update(credentials: MqttCredentials | undefined): Promise<void> {
    const current = this.transport?.credentials
    if (
      current &&
      credentials &&
      current.url === credentials.url &&
      current.username === credentials.username &&
      current.password === credentials.password
    )
      return
    await this.close()
    if (!credentials) return
    const { MqttTransport } = await import('./mqtt-transport.js')
    this.transport = new MqttTransport(credentials, this.options.deviceIdentityId, {
      command: (text) => void this.onCommand(text),
      channel: () => {
        this.options.say('mqtt channel')
        this.options.channelChanged()
      },
      status: (connected) => this.options.say(connected ? 'mqtt online' : 'mqtt offline'),
      warn: (line) => this.options.warn(line),
    })
  }

  private async onCommand(text: string): Promise<void> {
    await this.options.inbox
      .deliver(async (remoteKey) => {
        const result = await this.check.check(text, remoteKey)
        if (result.kind === 'verified') {
          this.options.say(`mqtt command ${result.receipt.eventId} verified`)
          return result.receipt
        }
        this.options.say(`mqtt command ${result.eventId} ${result.kind} ${result.code}`)
        if (result.kind === 'refused') this.options.warn(`mqtt: refused command ${result.eventId}: ${result.message}`)
        return undefined
      })
      .catch((error: unknown) => this.options.warn(`mqtt: command: ${(error as Error).message}`))
  }

  async close(): Promise<void> {
    const transport = this.transport
    this.transport = undefined
    await transport?.close()
  }
}
