/**
 * The optional MQTT bridge (issue 12 §9, docs/player.md "MQTT bridge"), built only when `MQTT_URL` is
 * set: one broker connection as the relay's admin client, the per-device accounts (provisioner.ts) and
 * the publishing of commands and channel notices (publisher.ts) and the reconciliation of the accounts with
 * the pairings (reconciler.ts) — those two only in the process holding the publisher lease (lease.ts). The
 * device routes call `provision` at pairing, `revoke` at unpairing and `credentials` for
 * `GET /v1/devices/self`, on every replica. Passwords are never logged.
 */
import { randomUUID } from 'node:crypto'
import mqtt, { type MqttClient } from 'mqtt'
import type { Queryable } from '../db/projection-db.js'
import type { ReceiptNotifier } from '../sync/notifier.js'
import { deviceCredentials, relayPublisherCredentials, type DeviceCredentials } from './credentials.js'
import { DynsecClient } from './dynsec.js'
import { DeviceProvisioner } from './provisioner.js'
import type { PublisherLease } from './lease.js'
import { DevicePublisher } from './publisher.js'
import { pairingVersion, reconcileDeviceAccounts, type Reconciliation } from './reconciler.js'
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
  /** Which replica publishes and reconciles (PgAdvisoryLease on Postgres, SoleLease on PGlite). */
  lease: PublisherLease
  /** Minutes between reconciliations (and one when this process starts leading). */
  reconcileMinutes: number
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
  private reconcileTimer: NodeJS.Timeout | undefined
  private reconciling: Promise<void> | undefined
  private closing = false

  private constructor(
    private readonly options: MqttBridgeOptions,
    private readonly admin: MqttClient,
    private readonly dynsec: DynsecClient,
    private readonly provisioner: DeviceProvisioner,
    private readonly publisherReady: Promise<MqttClient>,
    readonly notices: DevicePublisher,
    private readonly abortPublishing: () => void,
  ) {
    this.unsubscribe = options.notifier.subscribe((notice) => notices.notice(notice))
    void publisherReady.then((p) => (this.publisher = p))
    admin.on('connect', () => this.reconcileSoon())
    options.lease.start({
      lead: () => {
        notices.lead()
        this.reconcileTimer = setInterval(() => this.reconcileSoon(), options.reconcileMinutes * 60_000)
        this.reconcileTimer.unref()
        this.reconcileSoon()
      },
      lose: () => {
        notices.resign()
        clearInterval(this.reconcileTimer)
      },
    })
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
    // At close, what waits for the broker (it may be down, or never have come up) gives up at once.
    let abort: () => void = () => undefined
    const aborted = new Promise<never>((_, reject) => (abort = () => reject(new Error('the MQTT bridge is closing'))))
    aborted.catch(() => undefined)
    let closing = false
    const devicePublisher = new DevicePublisher(
      options.db,
      async (topic, payload, publishOptions) => {
        const sent = publisherReady.then((p) => p.publishAsync(topic, payload, publishOptions))
        sent.catch(() => undefined)
        await Promise.race([sent, aborted])
      },
      (error) => {
        if (!closing) options.warn('mqtt: publishing to devices failed; retrying from the same log position', error)
      },
    )
    const abortPublishing = () => {
      closing = true
      abort()
    }
    return new MqttBridge(options, admin, dynsec, provisioner, publisherReady, devicePublisher, abortPublishing)
  }

  /** Whether this process is the one publishing (holds the lease). */
  get leading(): boolean {
    return this.notices.isLeading
  }

  /**
   * Deletes the broker accounts of devices not paired any more and makes the missing ones of paired
   * devices; correct accounts are left alone. Runs on the leading process by itself; callable (tests).
   */
  async reconcile(): Promise<Reconciliation> {
    this.requireBroker()
    return reconcileDeviceAccounts({
      db: this.options.db,
      dynsec: this.dynsec,
      provisioner: this.provisioner,
      passwordOf: (id, pairedAt) => this.make(id, pairedAt).password,
    })
  }

  /** One reconciliation, unless one is under way, this process does not lead or the broker is away. */
  private reconcileSoon(): void {
    if (this.closing || this.reconciling || !this.notices.isLeading || !this.admin.connected) return
    this.reconciling = this.reconcile()
      .then((r) => {
        if (r.revoked.length + r.provisioned.length > 0)
          this.options.warn(`mqtt: reconciled device accounts: ${r.revoked.length} revoked, ${r.provisioned.length} provisioned`)
      })
      .catch((error: unknown) => this.options.warn('mqtt: reconciling device accounts failed; retried at the next interval', error))
      .finally(() => (this.reconciling = undefined))
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
    await this.provisioner.provision(deviceIdentityId, this.make(deviceIdentityId, pairedAt).password, pairingVersion(pairedAt))
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
    this.closing = true
    this.unsubscribe()
    clearInterval(this.reconcileTimer)
    // The page under way finishes if the broker acknowledges it; otherwise it is left to the next leader
    // (the offset did not move past it).
    const stopped = this.notices.stop()
    if (!this.publisher?.connected) this.abortPublishing()
    await stopped
    await this.reconciling
    // Only now: a replica waiting for the lease takes over from where this one stopped.
    await this.options.lease.close()
    this.dynsec.close()
    await Promise.all([this.admin.endAsync(), this.publisher?.endAsync()])
  }
}
