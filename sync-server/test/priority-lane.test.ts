/**
 * The appender's priority lane (ingest/appender.ts, PRIORITY_STREAM_PREFIXES): on Postgres, a remote
 * command does not wait behind a batch of telemetry in flight — it starts a batch of its own beside it —
 * but it never overtakes an earlier receipt of its own issuer. The batch in flight is held at its ledger
 * read (a wrapped database) so that the order is forced, not raced.
 */
import type { Queryable, ProjectionDb, QueryResult } from '../src/db/projection-db.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  adminQuery,
  appendOk,
  dropSchemas,
  http,
  identityCreated,
  newIdentity,
  openSession,
  pixbookStream,
  postReceipts,
  startTestRelay,
  StreamWriter,
  uniqueSchema,
  type Identity,
  type TestRelay,
} from './support/relay-harness.js'
import { randomBytes } from 'node:crypto'

const PREFIX = `pixpax_lane_${randomBytes(4).toString('hex')}`
const capabilities = { display: 'png', maxWidth: 64, maxHeight: 64, animation: true, brightness: false, rotation: false, mirror: false }

/** Holds the ledger read of any batch that names `marker`, until released. */
class HeldLoads implements ProjectionDb {
  readonly name: string
  marker: string | undefined
  #release: (() => void) | undefined
  #held: Promise<void> = Promise.resolve()
  /** Resolves when a batch is being held. */
  holding: Promise<void> = new Promise(() => undefined)
  #holding: () => void = () => undefined
  queryOutsideTransaction?: ProjectionDb['queryOutsideTransaction']

  constructor(private readonly inner: ProjectionDb) {
    this.name = inner.name
    if (inner.queryOutsideTransaction) this.queryOutsideTransaction = inner.queryOutsideTransaction.bind(inner)
  }

  hold(marker: string): void {
    this.marker = marker
    this.#held = new Promise((resolve) => (this.#release = resolve))
    this.holding = new Promise((resolve) => (this.#holding = resolve))
  }

  release(): void {
    this.marker = undefined
    this.#release?.()
  }

  query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    return this.inner.query<R>(sql, params)
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.inner.transaction((tx) =>
      fn({
        query: async <R>(sql: string, params?: unknown[]) => {
          if (this.marker && sql.includes('json_build_object') && JSON.stringify(params).includes(this.marker)) {
            this.#holding()
            await this.#held
          }
          return tx.query<R>(sql, params)
        },
        ...(tx.queryThenCommit ? { queryThenCommit: tx.queryThenCommit.bind(tx) } : {}),
      }),
    )
  }

  withLock<T>(lockKey: string, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.inner.withLock(lockKey, fn)
  }

  close(): Promise<void> {
    return this.inner.close()
  }
}

describe('priority lane', () => {
  let relay: TestRelay
  let db: HeldLoads
  let owner: Identity
  let device: Identity
  let deviceStream: StreamWriter
  let remote: StreamWriter
  let book: StreamWriter

  beforeAll(async () => {
    await adminQuery('SELECT 1') // fail, never skip, without Postgres
    relay = await startTestRelay({ db: 'pg', schema: uniqueSchema(PREFIX), wrapDb: (inner) => (db = new HeldLoads(inner)) })
    owner = newIdentity(`acct-${randomBytes(3).toString('hex')}`)
    device = newIdentity(`devacct-${randomBytes(3).toString('hex')}`, 'device')
    await appendOk(relay.url, [await identityCreated(owner), await identityCreated(device)])
    const [ownerToken, deviceToken] = [await openSession(relay.url, owner), await openSession(relay.url, device)]
    const headers = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' })
    const code = await http<{ code: string }>(`${relay.url}/v1/devices/pairing-code`, {
      method: 'POST',
      headers: headers(deviceToken),
      body: '{}',
    })
    const paired = await http(`${relay.url}/v1/devices/pair`, {
      method: 'POST',
      headers: headers(ownerToken),
      body: JSON.stringify({ code: code.json.code, name: 'Den' }),
    })
    expect(paired.status, paired.text).toBe(200)
    deviceStream = new StreamWriter({ type: 'device', identityId: device.identityId })
    remote = new StreamWriter({ type: 'remote', accountId: owner.accountId, deviceIdentityId: device.identityId })
    book = new StreamWriter(pixbookStream(owner.accountId, 'lane-book'))
  }, 60_000)
  afterAll(async () => {
    db?.release()
    await relay?.close()
    await dropSchemas(PREFIX)
  })

  it('a remote command is answered while a batch of telemetry is still in flight, and takes the earlier position', async () => {
    const status = await deviceStream.build('DEVICE_REGISTERED', { capabilities }, device)
    db.hold(deviceStream.key)
    let telemetryDone = false
    const telemetry = postReceipts(relay.url, [status]).then((r) => {
      telemetryDone = true
      return r
    })
    await db.holding
    const command = await remote.build('DEVICE_COMMAND', { command: 'next' }, owner)
    const answered = await postReceipts(relay.url, [command])
    expect(answered.status, answered.text).toBe(200)
    expect(answered.json.results![0]).toMatchObject({ ok: true })
    expect(telemetryDone).toBe(false) // still held at its ledger read
    db.release()
    const t = await telemetry
    expect(t.json.results![0]).toMatchObject({ ok: true })
    const position = (r: typeof answered) => (r.json.results![0] as { position: number }).position
    expect(position(answered)).toBeLessThan(position(t))
    remote.advance(command)
    deviceStream.advance(status)
  })

  it('a command never overtakes an earlier receipt of the same issuer: it waits for the batch behind it', async () => {
    const status = await deviceStream.build(
      'DEVICE_STATUS',
      {
        state: 'playing',
        capabilities,
        playlistSize: 0,
        cacheBytes: 0,
        cachedItems: 0,
        online: true,
        uptimeSeconds: 1,
      },
      device,
    )
    db.hold(deviceStream.key)
    const telemetry = postReceipts(relay.url, [status])
    await db.holding
    // The owner's own receipt arrives first and queues behind the held batch; then the owner's command.
    const created = postReceipts(relay.url, [await book.build('PIXBOOK_CREATED', { title: 'Lane' }, owner)])
    await new Promise((resolve) => setImmediate(resolve))
    let commandDone = false
    const command = postReceipts(relay.url, [await remote.build('DEVICE_COMMAND', { command: 'back' }, owner)]).then((r) => {
      commandDone = true
      return r
    })
    // Give the command every chance to overtake: a few round trips of the relay's own work.
    for (let i = 0; i < 5; i++) await http(`${relay.url}/readyz`)
    expect(commandDone).toBe(false)
    db.release()
    const [t, c, k] = await Promise.all([telemetry, created, command])
    for (const [name, r] of Object.entries({ t, c, k })) expect(r.json.results![0], `${name}: ${r.text}`).toMatchObject({ ok: true })
    const position = (r: typeof t) => (r.json.results![0] as { position: number }).position
    expect(position(c)).toBeLessThan(position(k))
  })
})
