/**
 * The player's MQTT connection (docs/player.md, "MQTT bridge"): the credentials the relay handed over the
 * device's authenticated session, a fixed clientId (its username) and a persistent session (clean: false
 * with a session expiry), so QoS-1 commands published while the player was offline are delivered when it
 * reconnects. It subscribes to its commands and channel topics, and keeps a retained presence (`online`,
 * with `offline` as its will). What arrives is handed on as text: nothing is trusted here.
 */
import mqtt, { type MqttClient } from 'mqtt'

export interface MqttCredentials {
  url: string
  username: string
  password: string
}

export interface MqttTransportEvents {
  /** A message on the commands topic: a DEVICE_COMMAND receipt's JSON, to verify. */
  command(text: string): void
  /** A channel notice: the channel's data changed somewhere, reload it. */
  channel(): void
  /** Connected (true) or lost (false). */
  status(connected: boolean): void
  warn(line: string): void
}

/** The broker keeps the session (and the commands queued in it) this long while the player is away. */
export const SESSION_EXPIRY_SECONDS = 7 * 24 * 3600

export function deviceTopics(deviceIdentityId: string): { commands: string; channel: string; presence: string } {
  const root = `pixpax/devices/${deviceIdentityId}`
  return { commands: `${root}/commands`, channel: `${root}/channel`, presence: `${root}/presence` }
}

export class MqttTransport {
  private readonly client: MqttClient
  private readonly topics: ReturnType<typeof deviceTopics>
  private closed = false

  constructor(
    readonly credentials: MqttCredentials,
    deviceIdentityId: string,
    private readonly events: MqttTransportEvents,
  ) {
    this.topics = deviceTopics(deviceIdentityId)
    this.client = mqtt.connect(credentials.url, {
      username: credentials.username,
      password: credentials.password,
      clientId: credentials.username,
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: SESSION_EXPIRY_SECONDS },
      reconnectPeriod: 2000,
      will: { topic: this.topics.presence, payload: Buffer.from('offline'), qos: 1, retain: true },
    })
    this.client.on('connect', (connack) => {
      events.status(true)
      // A resumed session keeps its subscriptions; a new one (or one the broker expired) needs them.
      if (!connack.sessionPresent) void this.subscribe()
      void this.publishPresence('online')
    })
    this.client.on('close', () => {
      if (!this.closed) events.status(false)
    })
    // mqtt.js retries every reconnectPeriod: the same refusal (revoked, broker down) is said once.
    let lastError = ''
    this.client.on('error', (error) => {
      if (error.message !== lastError) events.warn(`mqtt: ${error.message}`)
      lastError = error.message
    })
    this.client.on('connect', () => (lastError = ''))
    this.client.on('message', (topic, payload) => {
      if (topic === this.topics.commands) events.command(payload.toString('utf8'))
      else if (topic === this.topics.channel && payload.length > 0) events.channel()
    })
  }

  get connected(): boolean {
    return this.client.connected
  }

  private async subscribe(): Promise<void> {
    try {
      await this.client.subscribeAsync({ [this.topics.commands]: { qos: 1 }, [this.topics.channel]: { qos: 1 } })
    } catch (error) {
      // Denied (SUBACK 0x87): the relay's ACL for this device is not what it should be.
      this.events.warn(`mqtt: subscribing refused: ${(error as Error).message}`)
    }
  }

  /** The broker may refuse a publish (PUBACK 0x87 Not authorized when the ACL does not allow it): a warning, never a crash. */
  private async publishPresence(state: 'online' | 'offline'): Promise<void> {
    try {
      await this.client.publishAsync(this.topics.presence, state, { qos: 1, retain: true })
    } catch (error) {
      this.events.warn(`mqtt: publishing ${state} refused: ${(error as Error).message}`)
    }
  }

  /** Says `offline` and disconnects; the session (and what is queued in it) stays on the broker. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.client.connected) await this.publishPresence('offline')
    await this.client.endAsync()
  }
}
