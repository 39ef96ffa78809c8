/**
 * Live fan-out across replicas: every committed append announces `{stream, seq}`; every replica hears
 * every announcement and wakes the subscribers of that stream. With Postgres this is LISTEN/NOTIFY (the
 * NOTIFY is issued inside the append transaction, so it is delivered exactly when the receipt is
 * committed, to every replica); with embedded PGlite there is one process and an in-process emitter.
 */
import { EventEmitter } from 'node:events'
import pg from 'pg'

export interface ReceiptNotice {
  stream: string
  seq: number
}

export interface ReceiptNotifier {
  /** The Postgres channel appends NOTIFY on, or undefined when appends must call `publish` instead. */
  readonly channel: string | undefined
  /** In-process announcement (embedded mode); a no-op where NOTIFY does the work. */
  publish(notice: ReceiptNotice): void
  subscribe(handler: (notice: ReceiptNotice) => void): () => void
  close(): Promise<void>
}

export class LocalNotifier implements ReceiptNotifier {
  readonly channel = undefined
  private readonly emitter = new EventEmitter().setMaxListeners(0)
  publish(notice: ReceiptNotice): void {
    this.emitter.emit('notice', notice)
  }
  subscribe(handler: (notice: ReceiptNotice) => void): () => void {
    this.emitter.on('notice', handler)
    return () => this.emitter.off('notice', handler)
  }
  async close(): Promise<void> {
    this.emitter.removeAllListeners()
  }
}

/** The channel name for a schema, so test schemas (and tenants) sharing a database don't cross-talk. */
export function noticeChannel(schema: string | undefined): string {
  return `pixpax_receipts_${schema ?? 'public'}`.slice(0, 63)
}

export function formatNotice(notice: ReceiptNotice): string {
  return `${notice.seq} ${notice.stream}`
}

function parseNotice(payload: string | undefined): ReceiptNotice | undefined {
  if (!payload) return undefined
  const space = payload.indexOf(' ')
  const seq = Number(payload.slice(0, space))
  return Number.isSafeInteger(seq) && seq > 0 ? { seq, stream: payload.slice(space + 1) } : undefined
}

/**
 * LISTEN on a dedicated connection, reconnecting with backoff. While disconnected, notices can be
 * missed; on reconnect every handler is called with a `{stream: '*'}` notice so subscribers re-check
 * their streams (their cursors make that safe: nothing is sent twice, nothing skipped).
 */
export class PgNotifier implements ReceiptNotifier {
  private readonly emitter = new EventEmitter().setMaxListeners(0)
  private client: pg.Client | undefined
  private closed = false
  private retryMs = 100

  private constructor(
    private readonly connectionString: string,
    readonly channel: string,
  ) {}

  static async open(connectionString: string, channel: string): Promise<PgNotifier> {
    const notifier = new PgNotifier(connectionString, channel)
    await notifier.connect()
    return notifier
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString })
    client.on('notification', (msg) => {
      const notice = parseNotice(msg.payload)
      if (notice) this.emitter.emit('notice', notice)
    })
    client.on('error', () => this.reconnect(client))
    client.on('end', () => this.reconnect(client))
    await client.connect()
    await client.query(`LISTEN "${this.channel}"`)
    this.client = client
    this.retryMs = 100
  }

  private reconnect(failed: pg.Client): void {
    if (this.closed || this.client !== failed) return
    this.client = undefined
    failed.removeAllListeners()
    void failed.end().catch(() => undefined)
    const attempt = (): void => {
      if (this.closed) return
      this.connect().then(
        () => this.emitter.emit('notice', { stream: '*', seq: 0 }),
        () => {
          this.retryMs = Math.min(this.retryMs * 2, 5000)
          setTimeout(attempt, this.retryMs).unref()
        },
      )
    }
    setTimeout(attempt, this.retryMs).unref()
  }

  publish(): void {
    // NOTIFY inside the append transaction does it.
  }

  subscribe(handler: (notice: ReceiptNotice) => void): () => void {
    this.emitter.on('notice', handler)
    return () => this.emitter.off('notice', handler)
  }

  async close(): Promise<void> {
    this.closed = true
    this.emitter.removeAllListeners()
    const client = this.client
    this.client = undefined
    if (client) {
      client.removeAllListeners()
      await client.end().catch(() => undefined)
    }
  }
}
