/**
 * Who publishes to the broker: one relay process at a time, so several replicas do not each send every
 * command. On Postgres the holder of a session-level advisory lock is that process: a dedicated
 * connection waits in `pg_advisory_lock` and, once it returns, holds it until its session ends — a
 * replica that stops or dies (its connection closes, or Postgres drops it) hands over to one waiting.
 * Embedded PGlite has one process, which always publishes.
 */
import pg from 'pg'

export interface LeaseEvents {
  /** This process holds the lease now. */
  lead(): void
  /** It lost it (its connection ended); it contends again by itself. */
  lose(): void
}

export interface PublisherLease {
  start(events: LeaseEvents): void
  close(): Promise<void>
}

/** The only process there is (PGlite): it leads from the start. */
export class SoleLease implements PublisherLease {
  start(events: LeaseEvents): void {
    events.lead()
  }
  async close(): Promise<void> {}
}

/**
 * How often the holder checks its lease connection, and how long an answer may take: a connection that
 * died without a FIN (a partition) is noticed within about twice this, and Postgres ends such a session
 * by the same time (the server-side keepalives set below), so two holders overlap for that long at most.
 */
const CHECK_MS = 10_000

/** The advisory-lock key of the MQTT publisher of one schema (replicas of one relay share a schema). */
export function publisherLockKey(schema: string | undefined): string {
  return `pixpax-mqtt-publisher:${schema ?? 'public'}`
}

export class PgAdvisoryLease implements PublisherLease {
  private client: pg.Client | undefined
  private events: LeaseEvents | undefined
  private leading = false
  private closed = false
  private retryMs = 100
  private retry: NodeJS.Timeout | undefined
  private check: NodeJS.Timeout | undefined

  constructor(
    private readonly connectionString: string,
    private readonly key: string,
    private readonly warn: (message: string, error?: unknown) => void,
  ) {}

  start(events: LeaseEvents): void {
    this.events = events
    this.contend()
  }

  private contend(): void {
    if (this.closed) return
    const client = new pg.Client({ connectionString: this.connectionString, keepAlive: true, keepAliveInitialDelayMillis: CHECK_MS })
    this.client = client
    client.on('error', (error) => this.ended(client, error))
    client.on('end', () => this.ended(client))
    client
      .connect()
      // The wait may last as long as another replica lives: no server-side timeout may cancel it. The
      // server's keepalives end the session (and free the lock) of a holder whose node vanished.
      .then(() =>
        client.query(
          `SET statement_timeout = 0; SET lock_timeout = 0; SET tcp_keepalives_idle = ${CHECK_MS / 1000}; ` +
            `SET tcp_keepalives_interval = ${CHECK_MS / 2000}; SET tcp_keepalives_count = 2`,
        ),
      )
      .then(() => client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [this.key]))
      .then(() => {
        if (this.client !== client) return
        this.retryMs = 100
        this.leading = true
        this.events?.lead()
        this.check = setInterval(() => this.checkHeld(client), CHECK_MS)
        this.check.unref()
      })
      .catch((error: unknown) => this.ended(client, error))
  }

  /** A round trip on the lease connection; none within CHECK_MS counts as the session lost. */
  private checkHeld(client: pg.Client): void {
    const late = setTimeout(() => this.ended(client, new Error('the lease connection did not answer')), CHECK_MS)
    late.unref()
    client.query('SELECT 1').then(
      () => clearTimeout(late),
      (error: unknown) => {
        clearTimeout(late)
        this.ended(client, error)
      },
    )
  }

  /** The lease's connection ended or failed: whatever this process held is gone; contend again. */
  private ended(client: pg.Client, error?: unknown): void {
    if (this.client !== client) return
    this.client = undefined
    clearInterval(this.check)
    client.removeAllListeners()
    client.on('error', () => undefined)
    void client.end().catch(() => undefined)
    if (this.leading) {
      this.leading = false
      this.events?.lose()
    }
    if (this.closed) return
    if (error) this.warn('mqtt: the publisher lease connection failed; contending again', error)
    this.retry = setTimeout(() => this.contend(), this.retryMs)
    this.retry.unref()
    this.retryMs = Math.min(this.retryMs * 2, 5000)
  }

  /** Ends the session, which releases the lock for a waiting replica. */
  async close(): Promise<void> {
    this.closed = true
    if (this.retry) clearTimeout(this.retry)
    clearInterval(this.check)
    const client = this.client
    this.client = undefined
    this.leading = false
    if (client) {
      client.removeAllListeners()
      client.on('error', () => undefined)
      await client.end().catch(() => undefined)
    }
  }
}
