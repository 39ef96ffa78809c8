/**
 * What the relay publishes to the devices' topics, driven by the receipt notices every committed append
 * announces (sync/notifier.ts):
 *
 * - a receipt in `remote/{accountId}/{deviceId}` (a DEVICE_COMMAND the relay accepted) → its full signed
 *   JSON, byte for byte as stored, on `pixpax/devices/{deviceId}/commands`, QoS 1 (queued by the broker
 *   for a device that is offline with a persistent session), while the device is paired with that account;
 * - a post or playlist receipt in `profile/{identityId}` → a small notice `{stream, seq, type, eventId}` on
 *   `pixpax/devices/{deviceId}/channel` of every device paired with that identity's account, QoS 1 and
 *   retained (only the newest matters). It is a hint to reload: the device reads the receipts themselves
 *   over its verified sync connection.
 *
 * The broker is a transport: the device verifies every receipt as it would one from the sync WebSocket.
 */
import type { Queryable } from '../db/projection-db.js'
import type { ReceiptNotice } from '../sync/notifier.js'
import { channelTopic, commandsTopic } from './topics.js'

export interface Publish {
  (topic: string, payload: string, options: { qos: 1; retain: boolean }): Promise<void>
}

/** Profile receipts that change what a channel plays. */
const CHANNEL_TYPES = /^(POST|PLAYLIST)_/

export class DevicePublisher {
  /** Notices are handled one at a time, in the order they came, so a device's commands keep their order. */
  private chain: Promise<void> = Promise.resolve()
  /** The newest seq handled per stream: a notice names only a commit's head, and a commit may hold more. */
  private readonly handled = new Map<string, number>()
  /**
   * The log's size when the publisher started: of a stream not seen since, only receipts appended after
   * that are published (what came before was not announced to this publisher, or was published already).
   */
  private readonly since: Promise<number>

  constructor(
    private readonly db: Queryable,
    private readonly publish: Publish,
    private readonly onError: (error: unknown, notice: ReceiptNotice) => void,
  ) {
    this.since = db
      .query<{ size: string }>('SELECT COALESCE(MAX(position), -1) + 1 AS size FROM receipts')
      .then((r) => Number(r.rows[0]?.size ?? 0))
    this.since.catch(() => undefined) // reported by the first notice that awaits it
  }

  /** Queues one notice; never throws (a failure is reported, the WebSocket path still delivers). */
  notice(notice: ReceiptNotice): void {
    if (!notice.stream.startsWith('remote/') && !notice.stream.startsWith('profile/')) return
    this.chain = this.chain.then(() => this.handle(notice)).catch((error: unknown) => this.onError(error, notice))
  }

  /** Resolves once every queued notice is handled (tests, shutdown). */
  idle(): Promise<void> {
    return this.chain
  }

  private async handle(notice: ReceiptNotice): Promise<void> {
    const after = this.handled.get(notice.stream) ?? 0
    if (notice.seq <= after) return
    // Every receipt of the commit, not only its head: group commit puts appends of several requests into
    // one commit, and one NOTIFY names the stream's newest seq.
    const rows = await this.db.query<{ body: string; type: string; event_id: string; seq: number }>(
      `SELECT body, type, event_id, seq FROM receipts
        WHERE stream_key = $1 AND seq > $2 AND seq <= $3 AND position >= $4 ORDER BY seq`,
      [notice.stream, after, notice.seq, await this.since],
    )
    this.handled.set(notice.stream, notice.seq)
    const parts = notice.stream.split('/')
    if (parts[0] === 'remote') {
      const [, accountId, deviceIdentityId] = parts
      const commands = rows.rows.filter((row) => row.type === 'DEVICE_COMMAND')
      if (commands.length === 0) return
      const paired = await this.db.query('SELECT 1 FROM device_pairings WHERE device_identity_id = $1 AND account_id = $2', [
        deviceIdentityId,
        accountId,
      ])
      if (paired.rowCount === 0) return
      for (const row of commands) await this.publish(commandsTopic(deviceIdentityId!), row.body, { qos: 1, retain: false })
      return
    }
    // Retained: only the newest change matters to a device.
    const newest = rows.rows.filter((row) => CHANNEL_TYPES.test(row.type)).at(-1)
    if (!newest) return
    const devices = await this.db.query<{ device_identity_id: string }>(
      `SELECT p.device_identity_id FROM device_pairings p JOIN identities i ON i.account_id = p.account_id
        WHERE i.identity_id = $1`,
      [parts[1]],
    )
    const payload = JSON.stringify({ stream: notice.stream, seq: Number(newest.seq), type: newest.type, eventId: newest.event_id })
    for (const { device_identity_id } of devices.rows)
      await this.publish(channelTopic(device_identity_id), payload, { qos: 1, retain: true })
  }
}
