/**
 * What the relay publishes to the devices' topics, read from the acceptance log in log order:
 *
 * - a receipt in `remote/{accountId}/{deviceId}` (a DEVICE_COMMAND the relay accepted) → its full signed
 *   JSON, byte for byte as stored, on `pixpax/devices/{deviceId}/commands`, QoS 1 (queued by the broker
 *   for a device that is offline with a persistent session), while the device is paired with that account;
 * - a post or playlist receipt in `profile/{identityId}` → a small notice `{stream, seq, type, eventId}` on
 *   `pixpax/devices/{deviceId}/channel` of every device paired with that identity's account, QoS 1 and
 *   retained (only the newest matters). It is a hint to reload: the device reads the receipts themselves
 *   over its verified sync connection.
 *
 * At least once: the publisher follows the log from an offset kept in `projector_offsets` (row
 * `mqtt-publisher`), moved only after a page's messages were acknowledged by the broker (PUBACK). A receipt
 * notice (sync/notifier.ts) only wakes it, so a notice missed while the LISTEN connection reconnected costs
 * nothing: the reconnect's `*` notice wakes it and it reads what was accepted since. A restart, or another
 * replica taking over (lease.ts: only the lease holder runs this), goes on from the stored offset; a crash
 * between a PUBACK and the offset's update publishes that page again (the device answers a command once).
 * The first start ever begins at the log's end: history is not replayed to devices.
 *
 * The broker is a transport: the device verifies every receipt as it would one from the sync WebSocket.
 */
import type { Queryable } from '../db/projection-db.js'
import type { ReceiptNotice } from '../sync/notifier.js'
import { channelTopic, commandsTopic } from './topics.js'

export interface Publish {
  (topic: string, payload: string, options: { qos: 1; retain: boolean }): Promise<void>
}

/** Its row in projector_offsets: every log position below `applied_size` was published. */
export const PUBLISHER_OFFSET = 'mqtt-publisher'

/** Log positions read per page (one query, then the page's publications, then the offset). */
const DEFAULT_PAGE = 500

interface Row {
  position: number
  stream_key: string
  seq: number
  type: string
  event_id: string
  body: string
}

export class DevicePublisher {
  /** The next position to publish from, while leading (read from the table when it starts leading). */
  private next: number | undefined
  /** The offset last stored, so pages with nothing for devices do not each cost an UPDATE. */
  private stored = 0
  private leading = false
  private stopped = false
  private running: Promise<void> | undefined
  private again = false
  private retry: NodeJS.Timeout | undefined

  constructor(
    private readonly db: Queryable,
    private readonly publish: Publish,
    private readonly onError: (error: unknown) => void,
    private readonly pageSize = DEFAULT_PAGE,
  ) {}

  /** A receipt notice: the log grew (or `*`: it may have while notices were lost). Never throws. */
  notice(notice: ReceiptNotice): void {
    if (notice.stream === '*' || notice.stream.startsWith('remote/') || notice.stream.startsWith('profile/')) this.wake()
  }

  /** This process publishes from now on: from the stored offset. */
  lead(): void {
    this.leading = true
    this.next = undefined
    this.wake()
  }

  /** Another process may publish now: stop after the page under way. */
  resign(): void {
    this.leading = false
    this.next = undefined
  }

  get isLeading(): boolean {
    return this.leading
  }

  /** Resolves once the log as it was is published (or publishing stopped): tests, shutdown. */
  async idle(): Promise<void> {
    while (this.running) await this.running
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.retry) clearTimeout(this.retry)
    await this.idle()
  }

  private wake(): void {
    if (this.stopped || !this.leading) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = this.loop()
      .catch((error: unknown) => {
        this.onError(error)
        // A lost database or broker connection: tried again; the offset did not move, nothing is skipped.
        if (!this.stopped && !this.retry) {
          this.retry = setTimeout(() => {
            this.retry = undefined
            this.wake()
          }, 1000)
          this.retry.unref()
        }
      })
      .finally(() => {
        this.running = undefined
        if (this.again) {
          this.again = false
          this.wake()
        }
      })
  }

  private async loop(): Promise<void> {
    while (this.leading && !this.stopped) {
      this.next ??= await this.storedOffset()
      const from = this.next
      // Batches commit in position order under the log's row lock: every position below the committed
      // size is committed and readable, so a page never skips one. One statement reads the size and the
      // page below it (one row with no receipt when nothing there is for devices).
      const { rows: read } = await this.db.query<{ size: number } & Partial<Row>>(
        `WITH s AS (SELECT size FROM log_sequence)
         SELECT s.size, r.position, r.stream_key, r.seq, r.type, r.event_id, r.body FROM s
           LEFT JOIN receipts r ON r.position >= $1 AND r.position < LEAST(s.size, $1 + $2)
            AND ((r.type = 'DEVICE_COMMAND' AND r.stream_key LIKE 'remote/%') OR (r.stream_key LIKE 'profile/%' AND r.type ~ '^(POST|PLAYLIST)_'))
          ORDER BY r.position`,
        [from, this.pageSize],
      )
      const size = read[0]!.size
      if (from >= size) return
      const to = Math.min(size, from + this.pageSize)
      const rows = read.filter((r): r is { size: number } & Row => r.position !== null && r.position !== undefined)
      const published = await this.publishPage(rows)
      if (published > 0 || to - this.stored >= this.pageSize || to === size) await this.storeOffset(to)
      if (this.next === from) this.next = to // unless it resigned meanwhile
      // At the size read: what commits later announces itself (its notice reruns the loop), no re-read needed.
      if (to === size) return
    }
  }

  private async storedOffset(): Promise<number> {
    await this.db.query(
      `INSERT INTO projector_offsets (projector, applied_size) SELECT $1, size FROM log_sequence ON CONFLICT (projector) DO NOTHING`,
      [PUBLISHER_OFFSET],
    )
    const { rows } = await this.db.query<{ applied_size: number }>('SELECT applied_size FROM projector_offsets WHERE projector = $1', [
      PUBLISHER_OFFSET,
    ])
    this.stored = rows[0]!.applied_size
    return this.stored
  }

  private async storeOffset(to: number): Promise<void> {
    if (to <= this.stored) return
    // GREATEST: a replica that lost the lease while publishing never moves the offset back.
    await this.db.query('UPDATE projector_offsets SET applied_size = GREATEST(applied_size, $2) WHERE projector = $1', [
      PUBLISHER_OFFSET,
      to,
    ])
    this.stored = to
  }

  /** Publishes a page's messages, in log order, and resolves once the broker acknowledged every one. */
  private async publishPage(rows: readonly Row[]): Promise<number> {
    if (rows.length === 0) return 0
    const sends: Array<Promise<void>> = []
    const commands = rows.filter((r) => r.stream_key.startsWith('remote/'))
    if (commands.length > 0) {
      const devices = [...new Set(commands.map((r) => r.stream_key.split('/')[2]!))]
      const paired = await this.db.query<{ device_identity_id: string; account_id: string }>(
        'SELECT device_identity_id, account_id FROM device_pairings WHERE device_identity_id = ANY($1::text[])',
        [devices],
      )
      const accountOf = new Map(paired.rows.map((r) => [r.device_identity_id, r.account_id]))
      for (const row of commands) {
        const [, accountId, deviceIdentityId] = row.stream_key.split('/')
        // Only to a device paired with the commanding account now (an unpaired one has no account to read it).
        if (accountOf.get(deviceIdentityId!) !== accountId) continue
        // Issued in order on one connection: the broker forwards them in that order.
        sends.push(this.publish(commandsTopic(deviceIdentityId!), row.body, { qos: 1, retain: false }))
      }
    }
    // Retained: only the newest change of each profile matters to a device.
    const newest = new Map<string, Row>()
    for (const row of rows) if (row.stream_key.startsWith('profile/')) newest.set(row.stream_key, row)
    if (newest.size > 0) {
      const identities = [...newest.keys()].map((stream) => stream.slice('profile/'.length))
      const devices = await this.db.query<{ identity_id: string; device_identity_id: string }>(
        `SELECT i.identity_id, p.device_identity_id FROM device_pairings p JOIN identities i ON i.account_id = p.account_id
          WHERE i.identity_id = ANY($1::text[])`,
        [identities],
      )
      for (const { identity_id, device_identity_id } of devices.rows) {
        const row = newest.get(`profile/${identity_id}`)!
        const payload = JSON.stringify({ stream: row.stream_key, seq: Number(row.seq), type: row.type, eventId: row.event_id })
        sends.push(this.publish(channelTopic(device_identity_id), payload, { qos: 1, retain: true }))
      }
    }
    await Promise.all(sends)
    return sends.length
  }
}
