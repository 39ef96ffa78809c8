/**
 * The optional MQTT bridge (issue 12 §9, docs/player.md "MQTT bridge"), built only when `MQTT_URL` is
 * set: one broker connection as the relay's admin client, the per-device accounts (provisioner.ts) and
 * the publishing of commands and channel notices (publisher.ts). The device routes call `provision` at
 * pairing, `revoke` at unpairing and `credentials` for `GET /v1/devices/self`. Passwords are never logged.
 */
import { randomUUID } from 'node:crypto'
import mqtt, { type MqttClient } from 'mqtt'
import type { Queryable } from '../db/projection-db.js'
import type { ReceiptNotifier } from '../sync/notifier.js'
import { deviceCredentials, relayPublisherCredentials, type DeviceCredentials } from './credentials.js'
import { DynsecClient } from './dynsec.js'
import { DeviceProvisioner } from './provisioner.js'
import { DevicePublisher } from './publisher.js'
import { channelTopic, RELAY_USERNAME } from './topics.js'

export interface MqttBridgeOptions {
  /** The broker as the relay reaches it (`mqtt://127.0.0.1:1883`). */
  url: string
  /** The broker as devices reach it (default: `url`). */
  deviceUrl?: string
  /** A dynamic-security admin client (`mosquitto_ctrl dynsec init`). */
  username: string
  password: string
  /** Key of the devices' derived passwords (credentials.ts). */
  deviceSecret: string
  db: Queryable
  notifier: ReceiptNotifier
  warn: (message: string, error?: unknown) => void
}

/** What the device routes see of the bridge. */
export interface DeviceBridge {
  /** Creates the device's broker account for this pairing; idempotent. */
  provision(deviceIdentityId: string, pairedAt: Date): Promise<void>
  /** Deletes it (the broker disconnects the device). */
  revoke(deviceIdentityId: string): Promise<void>
  /** The credentials of this pairing, provisioning them first if this process has not yet. */
  credentials(deviceIdentityId: string, pairedAt: Date): Promise<DeviceCredentials>
  close(): Promise<void>
}

export class MqttBridge implements DeviceBridge {
  /** Pairings this process provisioned (`deviceId@pairedAt`), so the device's polls do not re-provision. */
  private readonly provisioned = new Set<string>()
  private readonly unsubscribe: () => void
  private publisher: MqttClient | undefined

  private constructor(
    private readonly options: MqttBridgeOptions,
    private readonly admin: MqttClient,
    private readonly dynsec: DynsecClient,
    private readonly provisioner: DeviceProvisioner,
    private readonly publisherReady: Promise<MqttClient>,
    readonly notices: DevicePublisher,
  ) {
    this.unsubscribe = options.notifier.subscribe((notice) => notices.notice(notice))
    void publisherReady.then((p) => (this.publisher = p))
  }

  /**
   * Connects in the background (the relay starts whether or not the broker is up; mqtt.js reconnects and
   * sends queued QoS-1 messages once connected). Two clients: the admin one runs dynamic-security
   * commands; at each of its connects it makes sure the relay's publishing client exists (its password
   * derived from the device secret), and the first time connects that one, which publishes to devices.
   */
  static start(options: MqttBridgeOptions): MqttBridge {
    const admin = mqtt.connect(options.url, {
      username: options.username,
      password: options.password,
      clientId: `pixpax-relay-admin-${randomUUID()}`,
      protocolVersion: 5,
      reconnectPeriod: 1000,
    })
    const dynsec = new DynsecClient(admin)
    const provisioner = new DeviceProvisioner(dynsec)
    const relay = relayPublisherCredentials(options.deviceSecret)
    let ready: (client: MqttClient) => void = () => undefined
    const publisherReady = new Promise<MqttClient>((resolve) => (ready = resolve))
    let publisher: MqttClient | undefined
    admin.on('connect', () => {
      provisioner
        .allowRelay(RELAY_USERNAME, relay.password, relay.version)
        .then(() => {
          if (publisher) return
          publisher = mqtt.connect(options.url, {
            username: RELAY_USERNAME,
            password: relay.password,
            clientId: `pixpax-relay-${randomUUID()}`,
            protocolVersion: 5,
            reconnectPeriod: 1000,
          })
          publisher.on('error', (error) => options.warn(`mqtt publisher: ${error.message}`))
          ready(publisher)
        })
        .catch((error: unknown) => options.warn('mqtt: setting up the relay publisher failed', error))
    })
    admin.on('error', (error) => options.warn(`mqtt admin: ${error.message}`))
    const devicePublisher = new DevicePublisher(
      options.db,
      async (topic, payload, publishOptions) => {
        await (await publisherReady).publishAsync(topic, payload, publishOptions)
      },
      (error, notice) => options.warn(`mqtt: publishing for ${notice.stream} #${notice.seq} failed`, error),
    )
    return new MqttBridge(options, admin, dynsec, provisioner, publisherReady, devicePublisher)
  }

  private key(deviceIdentityId: string, pairedAt: Date): string {
    return `${deviceIdentityId}@${pairedAt.toISOString()}`
  }

  private make(deviceIdentityId: string, pairedAt: Date): DeviceCredentials {
    const { deviceUrl, url, deviceSecret } = this.options
    return deviceCredentials(deviceUrl ?? url, deviceSecret, deviceIdentityId, pairedAt)
  }

  /** Fails at once while the broker is unreachable, instead of holding a device's request for the answer timeout. */
  private requireBroker(): void {
    if (!this.admin.connected) throw new Error(`the MQTT broker at ${this.options.url} is not connected`)
  }

  async provision(deviceIdentityId: string, pairedAt: Date): Promise<void> {
    this.requireBroker()
    await this.provisioner.provision(deviceIdentityId, this.make(deviceIdentityId, pairedAt).password, `paired ${pairedAt.toISOString()}`)
    this.provisioned.add(this.key(deviceIdentityId, pairedAt))
  }

  async revoke(deviceIdentityId: string): Promise<void> {
    for (const k of this.provisioned) if (k.startsWith(`${deviceIdentityId}@`)) this.provisioned.delete(k)
    this.requireBroker()
    await this.provisioner.revoke(deviceIdentityId)
    // The retained channel notice would greet whoever holds the id next: an empty retained message clears it.
    await (await this.publisherReady).publishAsync(channelTopic(deviceIdentityId), '', { qos: 1, retain: true })
  }

  async credentials(deviceIdentityId: string, pairedAt: Date): Promise<DeviceCredentials> {
    if (!this.provisioned.has(this.key(deviceIdentityId, pairedAt))) await this.provision(deviceIdentityId, pairedAt)
    return this.make(deviceIdentityId, pairedAt)
  }

  async close(): Promise<void> {
    this.unsubscribe()
    await this.notices.idle()
    this.dynsec.close()
    await Promise.all([this.admin.endAsync(), this.publisher?.endAsync()])
  }
}
