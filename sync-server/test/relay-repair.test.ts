/**
 * Crashes between writing a receipt object and committing its projection, and what puts it right: the
 * next append to the stream (settling the leftover first), `repairAll`, `repairFromOffsets`, and the
 * client's retry getting the first result. Then `rebuild` reproduces the projection digest, and
 * `verifyStore` accepts a good store and names the right code for tampered objects. On Postgres and on
 * PGlite, both with the filesystem store.
 *
 * The crash: a ProjectionDb wrapper whose transaction throws at the first `INSERT INTO receipts` — the
 * moment right after the append has recorded its intents and written its objects, inside the
 * transaction that would project them. The transaction rolls back, as it would if the process died.
 */
import { randomBytes } from 'node:crypto'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { formatSignature, receiptCanonicalBytes, sha256Ref, streamEventsPrefix, type Receipt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ProjectionDb, Queryable, QueryResult } from '../src/db/projection-db.js'
import { projectionDigest } from '../src/replay/digest.js'
import { rebuild } from '../src/replay/rebuild.js'
import { repairAll, repairFromOffsets } from '../src/replay/repair.js'
import { verifyStore } from '../src/replay/verify-store.js'
import type { ObjectStore } from '../src/stores/object-store.js'
import {
  ackProblem,
  adminQuery,
  appendOk,
  appendVia,
  artHash,
  dropSchemas,
  http,
  identityCreated,
  listAll,
  newIdentity,
  newKey,
  pixbookStream,
  postReceipts,
  relayEnv,
  removeDir,
  startRelay,
  startRelayProcess,
  storedState,
  StreamWriter,
  uniqueSchema,
  type AcceptedJson,
  type DbKind,
  type Identity,
  type RelayInfo,
  type RunningRelay,
} from './support/relay-harness.js'

const PREFIX = `pixpax_repair_${randomBytes(4).toString('hex')}`
const dirs: string[] = []

beforeAll(async () => {
  await adminQuery('SELECT 1') // fail, never skip, without Postgres
})
afterAll(async () => {
  await dropSchemas(PREFIX)
  for (const dir of dirs) await removeDir(dir)
})

/** Fault switches shared by the wrappers below; each fires once when armed. */
class Faults {
  /** Throw from the transaction at the next statement matching this. */
  crashAt: RegExp | undefined
  /** Throw from the next store write. */
  failNextPut = false
  fired: string[] = []
}

function faultyDb(db: ProjectionDb, faults: Faults): ProjectionDb {
  const wrapTx = (tx: Queryable): Queryable => ({
    query<R>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
      if (faults.crashAt?.test(sql)) {
        faults.crashAt = undefined
        faults.fired.push('crash')
        return Promise.reject(new Error('simulated crash after the objects were written'))
      }
      return tx.query<R>(sql, params)
    },
  })
  const wrapped: ProjectionDb = {
    name: db.name,
    query: (sql, params) => db.query(sql, params),
    transaction: (fn) => db.transaction((tx) => fn(wrapTx(tx))),
    withLock: (key, fn) => db.withLock(key, (tx) => fn(wrapTx(tx))),
    close: () => db.close(),
  }
  if (db.queryOutsideTransaction) wrapped.queryOutsideTransaction = (sql, params) => db.queryOutsideTransaction!(sql, params)
  return wrapped
}

function faultyStore(store: ObjectStore, faults: Faults): ObjectStore {
  return {
    name: store.name,
    putIfAbsent: (key, bytes, type) => {
      if (faults.failNextPut) {
        faults.failNextPut = false
        faults.fired.push('put')
        return Promise.reject(new Error('simulated store outage'))
      }
      return store.putIfAbsent(key, bytes, type)
    },
    put: (key, bytes, type) => store.put(key, bytes, type),
    get: (key) => store.get(key),
    list: (prefix, options) => store.list(prefix, options),
    delete: (key) => store.delete(key),
    ping: () => store.ping(),
    close: () => store.close(),
  }
}

const objectKey = (r: Receipt): string => `${streamEventsPrefix(r.stream)}${r.eventId}.json`

describe.each<DbKind>(['pg', 'pglite'])('crash recovery and replay (%s + fs)', (db) => {
  const faults = new Faults()
  let relay: RunningRelay
  let info: RelayInfo
  let alice: Identity
  let book: StreamWriter
  let card = 0

  const projected = async (r: Receipt): Promise<boolean> =>
    (await relay.deps.db.query('SELECT 1 FROM receipts WHERE stream_key = $1 AND event_id = $2', [book.key, r.eventId])).rows.length === 1
  const intents = async (): Promise<string[]> =>
    (
      await relay.deps.db.query<{ event_id: string }>('SELECT event_id FROM append_intents WHERE stream_key = $1 ORDER BY event_id', [
        book.key,
      ])
    ).rows.map((r) => r.event_id)
  const nextCard = (options: { prev?: StreamWriter['head'] } = {}): Promise<Receipt> =>
    book.build('CARD_ADDED', { cardId: `card-${++card}`, artHash: artHash(`art ${card}`) }, alice, options)
  const objectsInStream = async (): Promise<string[]> => listAll(relay.deps.store, streamEventsPrefix(book.stream))

  /** Posts `receipt` with the crash armed: the relay answers 500 and leaves the object behind. */
  async function crashOn(receipt: Receipt): Promise<void> {
    faults.crashAt = /INSERT INTO receipts \(/
    const res = await postReceipts(relay.url, [receipt])
    expect(faults.fired.pop()).toBe('crash')
    expect(res.status).toBe(500)
    expect(res.json.error).toEqual({ code: 'INTERNAL', message: 'internal error', requestId: res.headers.get('x-request-id') })
    // The object made it to the store; the projection does not have it.
    expect(await relay.deps.store.get(objectKey(receipt))).toBeDefined()
    expect(await projected(receipt)).toBe(false)
  }

  beforeAll(async () => {
    relay = await startRelay({
      db,
      store: 'fs',
      schema: uniqueSchema(PREFIX),
      wrapDb: (d) => faultyDb(d, faults),
      wrapStore: (s) => faultyStore(s, faults),
    })
    dirs.push(relay.options.dataDir)
    info = (await http<RelayInfo>(`${relay.url}/v1/relay`)).json
    alice = newIdentity('acc-r', 'person', `alice-${randomBytes(3).toString('hex')}`)
    await appendOk(relay.url, [await identityCreated(alice)])
    book = new StreamWriter(pixbookStream('acc-r', 'book-r'))
    await appendVia(relay.url, book, await book.build('PIXBOOK_CREATED', { title: 'Crash test' }, alice))
    for (let i = 0; i < 3; i++) await appendVia(relay.url, book, await nextCard())
  }, 60_000)
  afterAll(async () => {
    await relay?.close()
  })

  it('the next append settles the leftover first; the retry of the crashed receipt gets its first result', async () => {
    const x = await nextCard()
    await crashOn(x)
    if (db === 'pg') expect(await intents()).toEqual([x.eventId]) // recorded on its own connection: durable

    // Another device appends on the head it knows (before x): the relay settles x first, so this is a fork.
    const other = await nextCard()
    const conflict = await postReceipts(relay.url, [other])
    expect(conflict.status).toBe(409)
    expect(conflict.json.error?.code).toBe('CHAIN_CONFLICT')
    expect(conflict.json.error?.details).toEqual({ head: { eventId: x.eventId, hash: x.hash, seq: book.seq + 1 } })
    expect(await projected(x)).toBe(true)
    expect(await intents()).toEqual([])

    // The client that sent x retries: the first result, with an ack that verifies.
    const retry = await postReceipts(relay.url, [x])
    expect(retry.status).toBe(200)
    const first = retry.json.results![0] as AcceptedJson
    expect(first).toMatchObject({ ok: true, eventId: x.eventId, hash: x.hash, seq: book.seq + 1 })
    expect(await ackProblem(first.ack, info)).toBeUndefined()
    expect((await postReceipts(relay.url, [x])).json.results).toEqual([first])
    book.advance(x, first.seq)
    // The other device rebuilds on the head it was given: seq + 1.
    const rebuilt = await appendVia(relay.url, book, await nextCard())
    expect(rebuilt.seq).toBe(first.seq + 1)
    expect(await objectsInStream()).toHaveLength(book.seq) // no fork in the store
  })

  it('repairAll projects a leftover (start-up repair); the retry then gets the first result', async () => {
    const x = await nextCard()
    await crashOn(x)
    const repaired = await repairAll(relay.deps)
    if (db === 'pg') expect(repaired).toEqual({ streams: 1, receipts: 1 })
    // On PGlite the intent was in the rolled-back transaction; the relay must still not lose x.
    if (db === 'pglite') await repairFromOffsets(relay.deps)
    expect(await projected(x)).toBe(true)
    const retry = await postReceipts(relay.url, [x])
    expect(retry.json.results![0]).toMatchObject({ ok: true, eventId: x.eventId, seq: book.seq + 1 })
    book.advance(x, (retry.json.results![0] as AcceptedJson).seq)
  })

  it('repairFromOffsets adopts an object the projection never heard of (no intent at all)', async () => {
    const x = await nextCard()
    await crashOn(x)
    await relay.deps.db.query('DELETE FROM append_intents')
    const before = await projectionDigest(relay.deps.db)
    expect(await repairAll(relay.deps)).toEqual({ streams: 0, receipts: 0 })
    expect((await projectionDigest(relay.deps.db)).digest).toBe(before.digest)
    const repaired = await repairFromOffsets(relay.deps)
    expect(repaired.receipts).toBe(1)
    expect(await projected(x)).toBe(true)
    expect((await repairFromOffsets(relay.deps)).receipts).toBe(0) // idempotent
    const retry = await postReceipts(relay.url, [x])
    expect(retry.json.results![0]).toMatchObject({ ok: true, eventId: x.eventId, seq: book.seq + 1 })
    book.advance(x, (retry.json.results![0] as AcceptedJson).seq)
  })

  it('a store write that fails leaves no object; the retry is accepted (and does not wait on its own intent)', async () => {
    const x = await nextCard()
    faults.failNextPut = true
    const res = await postReceipts(relay.url, [x])
    expect(faults.fired.pop()).toBe('put')
    expect(res.status).toBe(500)
    expect(await relay.deps.store.get(objectKey(x))).toBeUndefined()
    if (db === 'pg') expect(await intents()).toEqual([x.eventId])
    const retry = await Promise.race([
      postReceipts(relay.url, [x]),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('retry hung')), 10_000)),
    ])
    expect(retry.status).toBe(200)
    expect(retry.json.results![0]).toMatchObject({ ok: true, eventId: x.eventId, seq: book.seq + 1 })
    book.advance(x, (retry.json.results![0] as AcceptedJson).seq)
    expect(await intents()).toEqual([])
    expect(await objectsInStream()).toHaveLength(book.seq)
  }, 20_000)

  it('a crash in the middle of a batch leaves a prefix; settling projects exactly that prefix', async () => {
    const a = await nextCard()
    const b = await nextCard({ prev: { eventId: a.eventId, hash: a.hash } })
    // Crash on the second receipt's projection: both objects are written, neither projected.
    faults.crashAt = /INSERT INTO receipts \(/
    const res = await postReceipts(relay.url, [a, b])
    expect(faults.fired.pop()).toBe('crash')
    expect(res.status).toBe(500)
    expect(await relay.deps.store.get(objectKey(b))).toBeDefined()
    const retry = await postReceipts(relay.url, [a, b])
    expect(retry.status).toBe(200)
    expect(retry.json.results!.map((r) => (r as AcceptedJson).seq)).toEqual([book.seq + 1, book.seq + 2])
    book.advance(b, book.seq + 2)
    expect(await objectsInStream()).toHaveLength(book.seq)
  })

  it('a relay process that died mid-append is repaired by main.ts at start-up, before it serves', async () => {
    const x = await nextCard()
    await crashOn(x)
    // The relay dies: nothing it held in memory survives. main.ts starts on the same database and store.
    const options = relay.options
    await relay.close()
    const child = await startRelayProcess({ ...relayEnv(options), LOG_LEVEL: 'error' })
    try {
      // Another device, on the head it knows: had start-up repair not adopted x, this would fork the store.
      const conflict = await postReceipts(child.url, [await nextCard()])
      expect(conflict.json.error).toMatchObject({
        code: 'CHAIN_CONFLICT',
        details: { head: { eventId: x.eventId, hash: x.hash, seq: book.seq + 1 } },
      })
      const retry = await postReceipts(child.url, [x])
      expect(retry.json.results![0]).toMatchObject({ ok: true, eventId: x.eventId, seq: book.seq + 1 })
      expect(await ackProblem((retry.json.results![0] as AcceptedJson).ack, info)).toBeUndefined()
      book.advance(x, (retry.json.results![0] as AcceptedJson).seq)
    } finally {
      expect(await child.stop()).toBe(0)
    }
    relay = await startRelay(options)
    expect(await objectsInStream()).toHaveLength(book.seq)
  }, 40_000)

  it('rebuild from the store reproduces the projection digest byte for byte', async () => {
    const before = await projectionDigest(relay.deps.db)
    expect(before.tables.receipts!.rows).toBeGreaterThan(book.seq)
    const result = await rebuild(relay.deps.db, relay.deps.store, nodeSha256)
    expect(result).toEqual({ receipts: before.tables.receipts!.rows, streams: 2 })
    expect(await projectionDigest(relay.deps.db)).toEqual(before)
    // The relay works on after a rebuild.
    const next = await appendVia(relay.url, book, await nextCard())
    expect(next.seq).toBe(book.seq)
    const again = await projectionDigest(relay.deps.db)
    await rebuild(relay.deps.db, relay.deps.store, nodeSha256)
    expect((await projectionDigest(relay.deps.db)).digest).toBe(again.digest)
  })

  it('verifyStore: ok on the good store; the right code for each tampered object; rebuild refuses a broken chain', async () => {
    const good = await verifyStore(relay.deps.store, nodeVerifier(), nodeSha256)
    expect(good).toMatchObject({ ok: true, streams: 2, errorsByCode: {}, errors: [] })
    expect(good.receipts).toBe(book.seq + 1)

    const keys = await objectsInStream()
    const path = (key: string): string => join(relay.options.dataDir, 'objects', ...key.split('/'))
    const last = keys.at(-1)!
    const original = await readFile(path(last))
    const receipt = JSON.parse(original.toString('utf8')) as Receipt
    const state = await storedState(relay.deps)
    const tamper = async (bytes: string | Buffer, code: string, where = last): Promise<void> => {
      await writeFile(path(where), bytes)
      const report = await verifyStore(relay.deps.store, nodeVerifier(), nodeSha256)
      expect(report.ok).toBe(false)
      expect(report.errors[0]).toMatchObject({ objectKey: where, code })
    }
    try {
      // The payload edited: the hash no longer matches.
      await tamper(JSON.stringify({ ...receipt, payload: { ...receipt.payload, cardId: 'stolen' } }), 'HASH_MISMATCH')
      // Edited and re-hashed: the signature does not verify.
      const edited = { ...receipt, payload: { ...receipt.payload, cardId: 'stolen' } }
      await tamper(JSON.stringify({ ...edited, hash: sha256Ref(receiptCanonicalBytes(edited), nodeSha256) }), 'SIGNATURE_INVALID')
      // Re-signed by someone else's key: not a key of that identity.
      const forger = newKey().signer
      const forged = { ...edited, issuer: { ...edited.issuer, publicKeyId: forger.publicKeyId } }
      const canonical = receiptCanonicalBytes(forged)
      await tamper(
        JSON.stringify({ ...forged, hash: sha256Ref(canonical, nodeSha256), signature: formatSignature(await forger.sign(canonical)) }),
        'KEY_UNKNOWN',
      )
      // Not JSON at all.
      await tamper('{"eventId": ', 'JSON_INVALID')
      await writeFile(path(last), original)
      // A receipt removed from the middle: its successor no longer chains.
      const middle = keys.at(-3)!
      const kept = await readFile(path(middle))
      await rm(path(middle))
      const report = await verifyStore(relay.deps.store, nodeVerifier(), nodeSha256)
      expect(report.errors[0]).toMatchObject({ objectKey: keys.at(-2), code: 'CHAIN_BROKEN' })
      // rebuild names the problem and leaves the projection as it was.
      const digest = await projectionDigest(relay.deps.db)
      await expect(rebuild(relay.deps.db, relay.deps.store, nodeSha256)).rejects.toMatchObject({ code: 'CHAIN_BROKEN' })
      expect(await projectionDigest(relay.deps.db)).toEqual(digest)
      await writeFile(path(middle), kept)
    } finally {
      await writeFile(path(last), original)
    }
    expect((await verifyStore(relay.deps.store, nodeVerifier(), nodeSha256)).ok).toBe(true)
    expect(await storedState(relay.deps)).toEqual(state)
  })

  it('retries after a restart still get the first results', async () => {
    const options = relay.options
    const last = await nextCard()
    const first = await appendVia(relay.url, book, last)
    await relay.close()
    relay = await startRelay(options)
    expect((await postReceipts(relay.url, [last])).json.results).toEqual([first])
  })
})
