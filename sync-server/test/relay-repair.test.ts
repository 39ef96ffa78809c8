/**
 * Crashes between writing receipt objects and committing their batch, and what puts them right: the
 * next batch touching the stream (adopting the leftover first), `repairIntents`, `repairFromStore`, the
 * group-commit appender retrying each stream of a failed batch on its own, main.ts at start-up, and the
 * client's retry getting the first result (ack and log position, byte for byte). Then `rebuild` replays
 * the acceptance log into the same projection digest (also with appends going on, also one projector
 * alone), `verifyStore` accepts a good store and names the right code for each tampered object, tile
 * and checkpoint, key validity is judged at log position, and the log the relay serves (signed
 * checkpoint, inclusion and consistency proofs) verifies with the shared code. On Postgres and on
 * PGlite, both with the filesystem store.
 *
 * The crash: a ProjectionDb wrapper whose transaction throws at the first `INSERT INTO receipts` — the
 * streams projector's statement, right after the batch has recorded its intents, written its objects and
 * taken its log positions, inside the transaction that would commit them. The transaction rolls back, as
 * it would if the process died. A store wrapper makes a chosen object write fail, so a batch leaves a
 * prefix of a stream's receipts in the store.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  canonicalBytes,
  CHECKPOINT_PATH,
  formatSignature,
  hashTilePath,
  leafData,
  leafHash,
  proofFromJson,
  receiptCanonicalBytes,
  sha256Ref,
  streamEventsPrefix,
  streamKey,
  verifyConsistency,
  verifyInclusion,
  verifySignedCheckpoint,
  TILE_WIDTH,
  type Checkpoint,
  type Receipt,
} from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { relayTrustPolicy } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { openDb } from '../src/context.js'
import type { ProjectionDb, Queryable, QueryResult } from '../src/db/projection-db.js'
import type { Ack } from '../src/ingest/ack.js'
import type { Appender } from '../src/ingest/appender.js'
import { projectionDigest } from '../src/replay/digest.js'
import { rebuild, ReplayError, type RebuildDeps } from '../src/replay/rebuild.js'
import { repairFromStore, repairIntents } from '../src/replay/repair.js'
import { verifyStore } from '../src/replay/verify-store.js'
import { writeLog } from './support/forged-log.js'
import { FsObjectStore } from '../src/stores/fs-object-store.js'
import type { ObjectStore } from '../src/stores/object-store.js'
import {
  ackProblem,
  adminQuery,
  artHash,
  dropSchemas,
  http,
  identityCreated,
  identityStream,
  listAll,
  newIdentity,
  newKey,
  pixbookStream,
  postReceipts,
  relayEnv,
  removeDir,
  startTestRelay,
  startRelayProcess,
  storedState,
  StreamWriter,
  uniqueSchema,
  type AcceptedJson,
  type DbKind,
  type HttpResult,
  type Identity,
  type PostReceiptsJson,
  type RelayInfo,
  type TestRelay,
} from './support/relay-harness.js'

const PREFIX = `pixpax_repair_${randomBytes(4).toString('hex')}`
/** The relay's default LOG_ORIGIN: the checkpoint's origin line and its signature's key name. */
const ORIGIN = 'pixpax.local/log'
const dirs: string[] = []

beforeAll(async () => {
  await adminQuery('SELECT 1') // fail, never skip, without Postgres
})
afterAll(async () => {
  await dropSchemas(PREFIX)
  for (const dir of dirs) await removeDir(dir)
})

/** Matches any string (an error's message is for people; its code is the contract). */
const anyText: unknown = expect.any(String)

/** An accepted result as the relay now answers it: with the receipt's log position. */
type Accepted = AcceptedJson & { position: number }

/** Fault switches shared by the wrappers below; each fires once when armed. */
class Faults {
  /** Throw from the transaction at the next statement matching this. */
  crashAt: RegExp | undefined
  /** Throw from the next receipt-object write (putIfAbsent) whose key this accepts. */
  failPut: ((key: string) => boolean) | undefined
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
      if (faults.failPut?.(key)) {
        faults.failPut = undefined
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

/**
 * `store` with reads of the keys `holds` accepts held until `release()`; `reached` resolves at the first
 * such read. Lets a test act while a reader (rebuild) is provably in the middle of its walk.
 */
function heldStore(
  store: ObjectStore,
  holds: (key: string) => boolean,
): { store: ObjectStore; reached: Promise<void>; release: () => void } {
  let reachedNow!: () => void
  let release!: () => void
  const reached = new Promise<void>((resolve) => (reachedNow = resolve))
  const released = new Promise<void>((resolve) => (release = resolve))
  return {
    store: {
      name: store.name,
      putIfAbsent: (key, bytes, type) => store.putIfAbsent(key, bytes, type),
      put: (key, bytes, type) => store.put(key, bytes, type),
      get: async (key) => {
        if (holds(key)) {
          reachedNow()
          await released
        }
        return store.get(key)
      },
      list: (prefix, options) => store.list(prefix, options),
      delete: (key) => store.delete(key),
      ping: () => store.ping(),
      close: () => store.close(),
    },
    reached,
    release,
  }
}

const objectKey = (r: Receipt): string => `${streamEventsPrefix(r.stream)}${r.eventId}.json`

describe.each<DbKind>(['pg', 'pglite'])('crash recovery and replay (%s + fs)', (db) => {
  const faults = new Faults()
  let relay: TestRelay
  let info: RelayInfo
  let alice: Identity
  let book: StreamWriter
  let card = 0
  /** Every ack the relay handed out, by log position (a retry must get the same one). */
  const acks = new Map<number, Ack>()
  /** The checkpoint right after the setup, to prove the log only grew since. */
  let firstCheckpoint: Checkpoint

  const count = async (table: 'receipts' | 'streams'): Promise<number> =>
    (await relay.deps.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n
  const projected = async (r: Receipt): Promise<boolean> =>
    (await relay.deps.db.query('SELECT 1 FROM receipts WHERE stream_key = $1 AND event_id = $2', [streamKey(r.stream), r.eventId])).rows
      .length === 1
  const positionOf = async (r: Receipt): Promise<number> =>
    (
      await relay.deps.db.query<{ position: number }>('SELECT position FROM receipts WHERE stream_key = $1 AND event_id = $2', [
        streamKey(r.stream),
        r.eventId,
      ])
    ).rows[0]!.position
  const intents = async (): Promise<string[]> =>
    (await relay.deps.db.query<{ event_id: string }>('SELECT event_id FROM append_intents ORDER BY event_id')).rows.map((r) => r.event_id)
  const nextCard = (options: { prev?: StreamWriter['head'] } = {}): Promise<Receipt> =>
    book.build('CARD_ADDED', { cardId: `card-${++card}`, artHash: artHash(`art ${card}`) }, alice, options)
  const chained = async (n: number): Promise<Receipt[]> => {
    const out: Receipt[] = []
    for (let i = 0; i < n; i++) {
      const prev = out.at(-1)
      out.push(await nextCard(prev ? { prev: { eventId: prev.eventId, hash: prev.hash } } : {}))
    }
    return out
  }
  const objectsInStream = async (writer = book): Promise<string[]> => listAll(relay.deps.store, streamEventsPrefix(writer.stream))
  const rebuildDeps = (store = relay.deps.store): RebuildDeps => ({
    db: relay.deps.db,
    store,
    sha256: nodeSha256,
    verifier: nodeVerifier(),
    policy: relayTrustPolicy(relay.config),
  })
  const relayKey = (): { name: string; publicKey: RelayInfo['publicKey'] } => ({ name: ORIGIN, publicKey: info.publicKey })
  /** The relay's group-commit appender (repair goes through it, like any append). */
  const appender = (): Appender => relay.app.relay.ingestor.appender
  /** What main.ts runs at start-up (on pg and PGlite alike: intents are committed before any object). */
  const startUpRepair = (): Promise<{ streams: number; receipts: number }> => repairIntents(relay.deps.db, appender())

  /** Posts receipts and records every accepted result's ack (the same position must always get the same ack). */
  async function post(receipts: Receipt[], url = relay.url): Promise<HttpResult<PostReceiptsJson>> {
    const res = await postReceipts(url, receipts)
    for (const r of res.json?.results ?? []) {
      if (!r.ok) continue
      const accepted = r as Accepted
      expect(accepted.position).toBe(accepted.ack.position)
      expect(accepted.ack).toMatchObject({ eventId: accepted.eventId, hash: accepted.hash, seq: accepted.seq })
      const earlier = acks.get(accepted.position)
      if (earlier) expect(accepted.ack).toEqual(earlier)
      else acks.set(accepted.position, accepted.ack)
    }
    return res
  }
  const results = (res: HttpResult<PostReceiptsJson>): Accepted[] => {
    expect(res.status, res.text.slice(0, 1000)).toBe(200)
    return res.json.results as Accepted[]
  }
  /** Appends one receipt through `writer`, which must be accepted; advances the writer. */
  async function accept(writer: StreamWriter, receipt: Receipt, url = relay.url): Promise<Accepted> {
    const [result] = results(await post([receipt], url))
    expect(result).toMatchObject({ ok: true, eventId: receipt.eventId })
    writer.advance(receipt, result!.seq)
    return result!
  }

  async function checkpoint(url = relay.url): Promise<Checkpoint> {
    const res = await http<undefined>(`${url}/v1/log/checkpoint`)
    expect(res.status, res.text).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    return verifySignedCheckpoint(res.text, relayKey(), nodeVerifier())
  }
  async function proof(path: string): Promise<Uint8Array[]> {
    const res = await http<unknown>(`${relay.url}${path}`)
    expect(res.status, res.text).toBe(200)
    return proofFromJson(res.json)
  }

  /** A fault that did not fire (the test failed before it) must not fire in a later test. */
  const disarm = (): void => {
    faults.crashAt = undefined
    faults.failPut = undefined
  }

  /** Posts `receipt` with the crash armed: the relay answers 500 and leaves the object behind. */
  async function crashOn(receipt: Receipt): Promise<void> {
    faults.crashAt = /INSERT INTO receipts \(/
    const res = await post([receipt]).finally(disarm)
    expect(faults.fired.pop()).toBe('crash')
    expect(res.status).toBe(500)
    expect(res.json.error).toEqual({ code: 'INTERNAL', message: 'internal error', requestId: res.headers.get('x-request-id') })
    // The object made it to the store; the projection does not have it.
    expect(await relay.deps.store.get(objectKey(receipt))).toBeDefined()
    expect(await projected(receipt)).toBe(false)
  }

  /** Posts chained `receipts` of one stream with the write of `receipts[failAt]` failing: a prefix is left. */
  async function failMidBatch(receipts: Receipt[], failAt: number): Promise<void> {
    faults.failPut = (key) => key === objectKey(receipts[failAt]!)
    const res = await post(receipts).finally(disarm)
    expect(faults.fired.pop()).toBe('put')
    expect(res.status).toBe(500)
    for (const [i, r] of receipts.entries()) {
      expect(await relay.deps.store.get(objectKey(r)), `object ${i}`).toEqual(i < failAt ? expect.any(Uint8Array) : undefined)
      expect(await projected(r)).toBe(false)
    }
    // The intents were committed on their own before the writes (pg: a second connection; PGlite: before
    // the batch's transaction), so they outlive its rollback.
    expect(await intents()).toEqual(receipts.map((r) => r.eventId))
  }

  beforeAll(async () => {
    relay = await startTestRelay({
      db,
      store: 'fs',
      schema: uniqueSchema(PREFIX),
      wrapDb: (d) => faultyDb(d, faults),
      wrapStore: (s) => faultyStore(s, faults),
    })
    dirs.push(relay.options.dataDir)
    info = (await http<RelayInfo>(`${relay.url}/v1/relay`)).json
    alice = newIdentity('acc-r', 'person', `alice-${randomBytes(3).toString('hex')}`)
    await accept(new StreamWriter(identityStream(alice)), await identityCreated(alice))
    book = new StreamWriter(pixbookStream('acc-r', 'book-r'))
    await accept(book, await book.build('PIXBOOK_CREATED', { title: 'Crash test' }, alice))
    for (let i = 0; i < 3; i++) await accept(book, await nextCard())
    firstCheckpoint = await checkpoint()
    expect(firstCheckpoint.size).toBe(5)
  }, 60_000)
  afterAll(async () => {
    await relay?.close()
  })

  it('the next append adopts the leftover first; the retry of the crashed receipt gets its first result', async () => {
    const x = await nextCard()
    await crashOn(x)
    expect(await intents()).toEqual([x.eventId]) // committed on its own before the object: durable

    // Another device appends on the head it knows (before x): the relay adopts x first, so this is a fork.
    const other = await nextCard()
    const conflict = await post([other])
    expect(conflict.status).toBe(409)
    expect(conflict.json.error?.code).toBe('CHAIN_CONFLICT')
    expect(conflict.json.error?.details).toEqual({ head: { eventId: x.eventId, hash: x.hash, seq: book.seq + 1 } })
    expect(await projected(x)).toBe(true)
    expect(await intents()).toEqual([])

    // The client that sent x retries: the first result, with an ack (and log position) that verifies.
    const retry = await post([x])
    const [first] = results(retry)
    expect(first).toMatchObject({ ok: true, eventId: x.eventId, hash: x.hash, seq: book.seq + 1, position: await positionOf(x) })
    expect(await ackProblem(first!.ack, info)).toBeUndefined()
    expect((await post([x])).text).toBe(retry.text)
    book.advance(x, first!.seq)
    // The other device rebuilds on the head it was given: seq + 1.
    const rebuilt = await accept(book, await nextCard())
    expect(rebuilt.seq).toBe(first!.seq + 1)
    expect(rebuilt.position).toBe(first!.position + 1)
    expect(await objectsInStream()).toHaveLength(book.seq) // no fork in the store
  })

  it('repairIntents adopts a leftover (start-up repair); the retry then gets the first result', async () => {
    const x = await nextCard()
    await crashOn(x)
    const size = (await checkpoint()).size
    expect(await repairIntents(relay.deps.db, appender())).toEqual({ streams: 1, receipts: 1 })
    expect(await projected(x)).toBe(true)
    expect(await intents()).toEqual([])
    expect(await startUpRepair()).toEqual({ streams: 0, receipts: 0 }) // nothing left
    expect((await checkpoint()).size).toBe(size + 1) // in the log, and acks for it may be handed out
    const [retry] = results(await post([x]))
    expect(retry).toMatchObject({ ok: true, eventId: x.eventId, seq: book.seq + 1, position: size })
    expect(await ackProblem(retry!.ack, info)).toBeUndefined()
    book.advance(x, retry!.seq)
  })

  it('repairFromStore adopts an object the projection never heard of (written straight to the store, no intent)', async () => {
    const x = await nextCard()
    expect(await relay.deps.store.putIfAbsent(objectKey(x), canonicalBytes(x), 'application/json')).toBe('created')
    expect(await intents()).toEqual([])
    // Not in the log: verify-store lists it as an orphan, not as an error.
    const orphaned = await verifyStore(relay.deps.store, nodeVerifier(), nodeSha256, { relayKey: relayKey() })
    expect(orphaned).toMatchObject({ ok: true, errors: [], orphans: [objectKey(x)] })

    const before = await projectionDigest(relay.deps.db)
    expect(await repairIntents(relay.deps.db, appender())).toEqual({ streams: 0, receipts: 0 })
    expect((await projectionDigest(relay.deps.db)).digest).toBe(before.digest)
    expect(await repairFromStore(relay.deps.db, relay.deps.store, appender())).toEqual({ streams: 1, receipts: 1 })
    expect(await projected(x)).toBe(true)
    expect(await repairFromStore(relay.deps.db, relay.deps.store, appender())).toEqual({ streams: 0, receipts: 0 }) // idempotent
    const repairedAt = (await projected(x)) ? await positionOf(x) : undefined

    const [retry] = results(await post([x]))
    book.advance(x, retry!.seq)
    expect(retry).toMatchObject({ ok: true, eventId: x.eventId, seq: book.seq })
    expect(retry!.position).toBe(repairedAt) // the first result: the repair's
    expect((await verifyStore(relay.deps.store, nodeVerifier(), nodeSha256)).orphans).toEqual([])
  })

  it('a store write that fails leaves no object; the retry is accepted (and does not wait on its own intent)', async () => {
    const x = await nextCard()
    faults.failPut = () => true
    const res = await post([x]).finally(disarm)
    expect(faults.fired.pop()).toBe('put')
    expect(res.status).toBe(500)
    expect(await relay.deps.store.get(objectKey(x))).toBeUndefined()
    expect(await intents()).toEqual([x.eventId])
    const size = (await checkpoint()).size
    // A hang here (the retry waiting on its own intent's row) fails the test by its timeout.
    const [retry] = results(await post([x]))
    expect(retry).toMatchObject({ ok: true, eventId: x.eventId, seq: book.seq + 1, position: size })
    book.advance(x, retry!.seq)
    expect(await intents()).toEqual([])
    expect(await objectsInStream()).toHaveLength(book.seq)
  })

  it('a crash in the middle of a batch leaves a prefix; the next batch adopts exactly that prefix', async () => {
    const [a, b, c] = await chained(3)
    await failMidBatch([a!, b!, c!], 1)
    // Another device, on the head it knows: the relay adopts a (and only a) first, so this is a fork of a.
    const conflict = await post([await nextCard()])
    expect(conflict.status).toBe(409)
    expect(conflict.json.error).toMatchObject({
      code: 'CHAIN_CONFLICT',
      details: { head: { eventId: a!.eventId, hash: a!.hash, seq: book.seq + 1 } },
    })
    expect([await projected(a!), await projected(b!), await projected(c!)]).toEqual([true, false, false])
    expect(await intents()).toEqual([])
    // The first client retries its whole batch: a's first result, then b and c accepted after it.
    const retried = results(await post([a!, b!, c!]))
    expect(retried.map((r) => [r.eventId, r.seq])).toEqual([
      [a!.eventId, book.seq + 1],
      [b!.eventId, book.seq + 2],
      [c!.eventId, book.seq + 3],
    ])
    expect(retried[0]!.position).toBe(await positionOf(a!))
    expect(retried[2]!.position).toBe(retried[1]!.position + 1)
    book.advance(c!, book.seq + 3)
    expect(await objectsInStream()).toHaveLength(book.seq)
  })

  it('a crash in the middle of a batch leaves a prefix; start-up repair adopts exactly that prefix', async () => {
    const [a, b] = await chained(2)
    await failMidBatch([a!, b!], 1)
    expect(await startUpRepair()).toEqual({ streams: 1, receipts: 1 })
    expect([await projected(a!), await projected(b!)]).toEqual([true, false])
    expect(await intents()).toEqual([])
    const retried = results(await post([a!, b!]))
    expect(retried).toMatchObject([
      { ok: true, eventId: a!.eventId, seq: book.seq + 1, position: await positionOf(a!) },
      { ok: true, eventId: b!.eventId, seq: book.seq + 2 },
    ])
    book.advance(b!, book.seq + 2)
    expect(await objectsInStream()).toHaveLength(book.seq)
  })

  it('a crash in a batch of several streams: each stream is retried on its own, adopting what the crash left', async () => {
    const second = new StreamWriter(pixbookStream('acc-r', 'book-r2'))
    const x = await nextCard()
    const genesis = await second.build('PIXBOOK_CREATED', { title: 'Second book' }, alice)
    // One request, two streams: one batch of two groups; it crashes after writing both objects.
    faults.crashAt = /INSERT INTO receipts \(/
    const res = await post([x, genesis]).finally(disarm)
    expect(faults.fired).toEqual(['crash'])
    faults.fired.length = 0
    const [rx, rg] = results(res)
    expect(rx).toMatchObject({ ok: true, eventId: x.eventId, seq: book.seq + 1, position: await positionOf(x) })
    expect(rg).toMatchObject({ ok: true, eventId: genesis.eventId, seq: 1, position: await positionOf(genesis) })
    expect(await ackProblem(rx!.ack, info)).toBeUndefined()
    expect(await ackProblem(rg!.ack, info)).toBeUndefined()
    book.advance(x, rx!.seq)
    second.advance(genesis, rg!.seq)
    expect(await intents()).toEqual([])
    expect(await objectsInStream()).toHaveLength(book.seq)
    expect(await objectsInStream(second)).toHaveLength(1)
    expect((await post([x, genesis])).text).toBe(res.text)
  })

  it('a relay process that died mid-append is repaired by main.ts at start-up, before it serves', async () => {
    const x = await nextCard()
    const size = (await checkpoint()).size
    await crashOn(x)
    // The relay dies: nothing it held in memory survives. main.ts starts on the same database and store.
    const options = relay.options
    await relay.close()
    const child = await startRelayProcess({ ...relayEnv(options), LOG_LEVEL: 'error' })
    let answer: string
    try {
      // Before anything is sent to it, x is in the log the child publishes: adopted at start-up.
      expect((await checkpoint(child.url)).size).toBe(size + 1)
      // Another device, on the head it knows: had start-up repair not adopted x, this would fork the store.
      const conflict = await post([await nextCard()], child.url)
      expect(conflict.json.error).toMatchObject({
        code: 'CHAIN_CONFLICT',
        details: { head: { eventId: x.eventId, hash: x.hash, seq: book.seq + 1 } },
      })
      const retry = await post([x], child.url)
      const [first] = results(retry)
      expect(first).toMatchObject({ ok: true, eventId: x.eventId, seq: book.seq + 1, position: size })
      expect(await ackProblem(first!.ack, info)).toBeUndefined()
      book.advance(x, first!.seq)
      answer = retry.text
    } finally {
      expect(await child.stop(), child.output()).toBe(0)
    }
    relay = await startTestRelay(options)
    expect(await objectsInStream()).toHaveLength(book.seq)
    expect(await intents()).toEqual([])
    // The first result survives the second restart too, byte for byte.
    expect((await post([x])).text).toBe(answer)
  }, 180_000)

  it('key validity is judged at log position: after a revocation the relay refuses the key, and so does verify-store', async () => {
    const carol = newIdentity('acc-c', 'person', `carol-${randomBytes(3).toString('hex')}`)
    const carolId = new StreamWriter(identityStream(carol))
    const created = await identityCreated(carol)
    await accept(carolId, created)
    const old = carol.signer
    const next = newKey().signer
    const added = await carolId.build('KEY_ADDED', { publicKey: next.publicKey }, carol)
    await accept(carolId, added)
    const revoked = await carolId.build('KEY_REVOKED', { publicKeyId: old.publicKeyId }, carol, { signer: next })
    await accept(carolId, revoked)
    // A receipt signed with the revoked key after the revocation: refused at append.
    const carolBook = new StreamWriter(pixbookStream('acc-c', 'book-c'))
    const late = await carolBook.build('PIXBOOK_CREATED', { title: 'Too late' }, carol, { signer: old })
    const refused = await post([late])
    expect(refused.status).toBe(422)
    expect(refused.json.results).toMatchObject([{ ok: false, eventId: late.eventId, error: { code: 'KEY_REVOKED' } }])
    expect(await relay.deps.store.get(objectKey(late))).toBeUndefined()
    await accept(carolBook, await carolBook.build('PIXBOOK_CREATED', { title: 'In time' }, carol, { signer: next }))
    const keys = await relay.deps.db.query<{ public_key_id: string; added_position: number; revoked_position: number | null }>(
      'SELECT public_key_id, added_position, revoked_position FROM identity_keys WHERE identity_id = $1 ORDER BY added_position',
      [carol.identityId],
    )
    expect(keys.rows).toEqual([
      { public_key_id: old.publicKeyId, added_position: await positionOf(created), revoked_position: await positionOf(revoked) },
      { public_key_id: next.publicKeyId, added_position: await positionOf(added), revoked_position: null },
    ])
    expect(await verifyStore(relay.deps.store, nodeVerifier(), nodeSha256, { relayKey: relayKey() })).toMatchObject({
      ok: true,
      errors: [],
    })

    // A log that names `late` after the revocation (as a relay without the rule would have written it):
    // verify-store and rebuild refuse it at that position. The same receipts with `late` before the
    // revocation are a valid log: what counts is the log position, not the eventId's time.
    const logKey = newKey().signer
    const store = async (entries: Receipt[], seqs: number[]): Promise<ObjectStore> => {
      const dir = await mkdtemp(join(tmpdir(), 'pixpax-forged-log-'))
      dirs.push(dir)
      const s = new FsObjectStore(join(dir, 'objects'))
      await writeLog(
        s,
        entries.map((receipt, i) => ({ receipt, seq: seqs[i]! })),
        logKey,
      )
      return s
    }
    const forgedKey = { name: ORIGIN, publicKey: logKey.publicKey }
    const revokedFirst = await store([created, added, revoked, late], [1, 2, 3, 1])
    expect(await verifyStore(revokedFirst, nodeVerifier(), nodeSha256, { relayKey: forgedKey })).toEqual({
      ok: false,
      logSize: 4,
      receipts: 3,
      streams: 2,
      errorsByCode: { KEY_REVOKED: 1 },
      errors: [{ position: 3, objectKey: objectKey(late), code: 'KEY_REVOKED', message: anyText }],
      orphans: [],
      supply: { ok: true, instances: 0, cards: [], problems: [] },
    })
    const lateFirst = await store([created, added, late, revoked], [1, 2, 1, 3])
    expect(await verifyStore(lateFirst, nodeVerifier(), nodeSha256, { relayKey: forgedKey })).toEqual({
      ok: true,
      logSize: 4,
      receipts: 4,
      streams: 2,
      errorsByCode: {},
      errors: [],
      orphans: [],
      supply: { ok: true, instances: 0, cards: [], problems: [] },
    })
    // Rebuild, into a database of its own, agrees with verify-store on both.
    const dataDir = await mkdtemp(join(tmpdir(), 'pixpax-forged-db-'))
    dirs.push(dataDir)
    const fresh = await openDb(loadConfig(relayEnv({ db, store: 'fs', dataDir, schema: uniqueSchema(PREFIX) })))
    try {
      const deps = { db: fresh, sha256: nodeSha256, verifier: nodeVerifier() }
      const refusal = await rebuild({ ...deps, store: revokedFirst }).catch((error: unknown) => error)
      expect(refusal).toBeInstanceOf(ReplayError)
      expect(refusal).toMatchObject({ code: 'KEY_REVOKED', position: 3 })
      expect(await rebuild({ ...deps, store: lateFirst })).toEqual({
        receipts: 4,
        streams: 2,
        projectors: ['streams', 'identity', 'pixbook', 'social', 'search', 'notifications', 'economy', 'devices', 'device-views'],
      })
    } finally {
      await fresh.close()
    }
    // Two fresh stores and a fresh database (PGlite boots in seconds on a busy machine).
  }, 120_000)

  it('rebuild replays the log into the projection digest byte for byte, also with appends going on meanwhile', async () => {
    const before = await projectionDigest(relay.deps.db)
    expect(before.tables.receipts!.rows).toBeGreaterThan(book.seq)
    const result = await rebuild(rebuildDeps())
    expect(result).toEqual({
      receipts: before.tables.receipts!.rows,
      streams: await count('streams'),
      projectors: ['streams', 'identity', 'pixbook', 'social', 'search', 'notifications', 'economy', 'devices', 'device-views'],
    })
    expect(await projectionDigest(relay.deps.db)).toEqual(before)

    // Again, held at its first read of the log's entries: the relay appends meanwhile (one receipt, then
    // two chained ones in one request), and the rebuild catches up with them before it swaps.
    const held = heldStore(relay.deps.store, (key) => key.startsWith('pixpax/log/tile/entries/'))
    const running = rebuild(rebuildDeps(held.store))
    running.catch(() => undefined) // awaited below
    await held.reached
    await accept(book, await nextCard())
    const pair = await chained(2)
    const accepted = results(await post(pair))
    book.advance(pair[1]!, accepted[1]!.seq)
    const live = await projectionDigest(relay.deps.db)
    expect(live.digest).not.toBe(before.digest)
    held.release()
    expect(await running).toEqual({
      receipts: live.tables.receipts!.rows,
      streams: await count('streams'),
      projectors: ['streams', 'identity', 'pixbook', 'social', 'search', 'notifications', 'economy', 'devices', 'device-views'],
    })
    expect(await projectionDigest(relay.deps.db)).toEqual(live)

    // The relay works on after a rebuild.
    const next = await accept(book, await nextCard())
    expect(next.seq).toBe(book.seq)
    const again = await projectionDigest(relay.deps.db)
    await rebuild(rebuildDeps())
    expect((await projectionDigest(relay.deps.db)).digest).toBe(again.digest)
  })

  it('rebuild of one projector alone replays the whole log through it and touches nothing else', async () => {
    const before = await projectionDigest(relay.deps.db)
    await relay.deps.db.query('DELETE FROM pixbook_cards')
    await relay.deps.db.query("UPDATE identities SET display_name = 'tampered'")
    const damaged = await projectionDigest(relay.deps.db)
    expect(damaged.tables.pixbook_cards!.rows).toBe(0)

    const result = await rebuild(rebuildDeps(), { projectors: ['pixbook'] })
    expect(result).toEqual({ receipts: before.tables.receipts!.rows, streams: await count('streams'), projectors: ['pixbook'] })
    const after = await projectionDigest(relay.deps.db)
    expect(after.tables.pixbook_cards).toEqual(before.tables.pixbook_cards)
    expect(after.tables.identities).toEqual(damaged.tables.identities) // not the pixbook projector's table

    expect((await rebuild(rebuildDeps(), { projectors: ['identity'] })).projectors).toEqual(['identity'])
    expect(await projectionDigest(relay.deps.db)).toEqual(before)
    await expect(rebuild(rebuildDeps(), { projectors: ['nope'] })).rejects.toThrow(/unknown projector/)
  })

  it('verifyStore: ok on the good store; the right code for each tampered object, tile and checkpoint; rebuild refuses a broken store', async () => {
    const n = await count('receipts')
    const streams = await count('streams')
    const good = await verifyStore(relay.deps.store, nodeVerifier(), nodeSha256, {
      ...relayTrustPolicy(relay.config),
      relayKey: relayKey(),
    })
    expect(good).toEqual({
      ok: true,
      logSize: n,
      receipts: n,
      streams,
      errorsByCode: {},
      errors: [],
      orphans: [],
      supply: { ok: true, instances: 0, cards: [], problems: [] },
    })

    const keys = await objectsInStream()
    const path = (key: string): string => join(relay.options.dataDir, 'objects', ...key.split('/'))
    const receiptAt = async (key: string): Promise<Receipt> => JSON.parse((await readFile(path(key))).toString('utf8')) as Receipt
    const last = keys.at(-1)!
    const original = await readFile(path(last))
    const receipt = await receiptAt(last)
    const position = await positionOf(receipt)
    const state = await storedState(relay.deps)
    const verify = (): ReturnType<typeof verifyStore> => verifyStore(relay.deps.store, nodeVerifier(), nodeSha256, { relayKey: relayKey() })
    const tamper = async (bytes: string | Buffer, code: string): Promise<void> => {
      await writeFile(path(last), bytes)
      const report = await verify()
      expect(report).toMatchObject({ ok: false, errorsByCode: { [code]: 1 }, receipts: n - 1 })
      expect(report.errors).toEqual([{ position, objectKey: last, code, message: anyText }])
      // The log names this object: a broken one is an error, not an orphan.
      expect(report.orphans, `orphans with ${code}`).toEqual([])
    }
    const edited = { ...receipt, payload: { ...receipt.payload, cardId: 'stolen' } }
    const checkpointBytes = await readFile(path(CHECKPOINT_PATH))
    // The level-0 hash tile at the checkpoint's size (partial unless the size is a multiple of 256).
    const tile = hashTilePath(0, Math.floor((n - 1) / TILE_WIDTH), ((n - 1) % TILE_WIDTH) + 1)
    const tileBytes = await readFile(path(tile))
    const middle = keys.at(-3)!
    const middleBytes = await readFile(path(middle))
    const digest = await projectionDigest(relay.deps.db)
    const refused = async (code: string, at: number): Promise<void> => {
      const error = await rebuild(rebuildDeps()).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ReplayError)
      expect(error).toMatchObject({ code, position: at })
      expect(await projectionDigest(relay.deps.db)).toEqual(digest) // the projection is left as it was
    }
    try {
      // The payload edited: the hash no longer matches the bytes.
      await tamper(JSON.stringify(edited), 'HASH_MISMATCH')
      await refused('HASH_MISMATCH', position)
      // Edited and re-hashed: no longer the receipt the log entry names.
      await tamper(JSON.stringify({ ...edited, hash: sha256Ref(receiptCanonicalBytes(edited), nodeSha256) }), 'LOG_INCONSISTENT')
      // The same body under someone else's signature: the hash still matches, the signature does not verify.
      const forger = newKey().signer
      await tamper(
        JSON.stringify({ ...receipt, signature: formatSignature(await forger.sign(receiptCanonicalBytes(receipt))) }),
        'SIGNATURE_INVALID',
      )
      await refused('SIGNATURE_INVALID', position)
      // Not JSON at all.
      await tamper('{"eventId": ', 'JSON_INVALID')
      await writeFile(path(last), original)

      // A receipt object removed from the middle: missing, and the rest of its stream no longer chains.
      await rm(path(middle))
      const missing = await verify()
      expect(missing).toMatchObject({ ok: false, errorsByCode: { OBJECT_MISSING: 1, CHAIN_BROKEN: 2 } })
      expect(missing.errors).toMatchObject([
        { position: await positionOf(JSON.parse(middleBytes.toString('utf8')) as Receipt), objectKey: middle, code: 'OBJECT_MISSING' },
        { objectKey: keys.at(-2), code: 'CHAIN_BROKEN' },
        { objectKey: last, code: 'CHAIN_BROKEN' },
      ])
      await refused('OBJECT_MISSING', missing.errors[0]!.position!)
      await writeFile(path(middle), middleBytes)

      // A hash tile that does not match the entries.
      const flipped = Buffer.from(tileBytes)
      flipped[0] = flipped[0]! ^ 0xff
      await writeFile(path(tile), flipped)
      const badTile = await verify()
      expect(badTile).toMatchObject({ ok: false, receipts: n, errorsByCode: { LOG_INCONSISTENT: 1 } })
      expect(badTile.errors).toEqual([{ objectKey: tile, code: 'LOG_INCONSISTENT', message: anyText }])
      await writeFile(path(tile), tileBytes)

      // A checkpoint whose root was changed: its signature no longer verifies, and the entries disagree.
      const lines = checkpointBytes.toString('utf8').split('\n')
      lines[2] = Buffer.alloc(32).toString('base64')
      await writeFile(path(CHECKPOINT_PATH), lines.join('\n'))
      const badCheckpoint = await verify()
      expect(badCheckpoint.ok).toBe(false)
      expect(badCheckpoint.errors.length).toBeGreaterThan(0)
      expect(badCheckpoint.errors.every((e) => e.objectKey === CHECKPOINT_PATH && e.code === 'LOG_INCONSISTENT')).toBe(true)
      expect(badCheckpoint.errors[0]!.message).toMatch(/signature/)
      await writeFile(path(CHECKPOINT_PATH), checkpointBytes)

      // An object the log does not name is an orphan, not an error.
      const stray = await nextCard()
      await relay.deps.store.putIfAbsent(objectKey(stray), canonicalBytes(stray), 'application/json')
      expect(await verify()).toMatchObject({ ok: true, errors: [], orphans: [objectKey(stray)] })
      await relay.deps.store.delete(objectKey(stray))
    } finally {
      await writeFile(path(last), original)
      await writeFile(path(middle), middleBytes)
      await writeFile(path(tile), tileBytes)
      await writeFile(path(CHECKPOINT_PATH), checkpointBytes)
    }
    expect(await verify()).toEqual(good)
    expect(await storedState(relay.deps)).toEqual(state)
  })

  it('retries after a restart still get the first results, byte for byte (ack and position)', async () => {
    const options = relay.options
    const last = await nextCard()
    const firstRes = await post([last])
    const [first] = results(firstRes)
    book.advance(last, first!.seq)
    expect((await post([last])).text).toBe(firstRes.text)
    await relay.close()
    relay = await startTestRelay(options)
    expect((await post([last])).text).toBe(firstRes.text)
  })

  it('the log: the signed checkpoint counts every accepted receipt, each ack position has an inclusion proof, checkpoints are consistent', async () => {
    const middle = await checkpoint()
    for (let i = 0; i < 3; i++) await accept(book, await nextCard())
    const cp = await checkpoint()
    expect(cp.origin).toBe(ORIGIN)
    expect(cp.size).toBe(await count('receipts'))
    expect(cp.size).toBe(middle.size + 3)
    // Every position handed out, once each: 0 … size − 1.
    expect([...acks.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: cp.size }, (_, i) => i))
    for (const [position, ack] of acks) {
      expect(await ackProblem(ack, info)).toBeUndefined()
      const leaf = leafHash(nodeSha256, leafData({ eventId: ack.eventId, hash: ack.hash, seq: ack.seq, stream: ack.stream }))
      const path = await proof(`/v1/log/proof/inclusion?index=${position}&size=${cp.size}`)
      expect(verifyInclusion(nodeSha256, position, cp.size, leaf, path, cp.root), `inclusion of ${position}`).toBe(true)
      // And in the older checkpoint, for the receipts it covers.
      if (position < middle.size) {
        const older = await proof(`/v1/log/proof/inclusion?index=${position}&size=${middle.size}`)
        expect(verifyInclusion(nodeSha256, position, middle.size, leaf, older, middle.root)).toBe(true)
      }
    }
    // A proof is not a rubber stamp: the same path does not prove another leaf.
    const zero = acks.get(0)!
    const path0 = await proof(`/v1/log/proof/inclusion?index=0&size=${cp.size}`)
    const leaf0 = leafHash(nodeSha256, leafData({ eventId: zero.eventId, hash: zero.hash, seq: zero.seq, stream: zero.stream }))
    expect(verifyInclusion(nodeSha256, 1, cp.size, leaf0, path0, cp.root)).toBe(false)

    // The log only grew: from the checkpoint after the setup (before every crash, repair, restart and
    // rebuild above) and from the one taken at the start of this test.
    for (const old of [firstCheckpoint, middle]) {
      const consistency = await proof(`/v1/log/proof/consistency?from=${old.size}&to=${cp.size}`)
      expect(verifyConsistency(nodeSha256, old.size, cp.size, consistency, old.root, cp.root), `consistency from ${old.size}`).toBe(true)
      expect(verifyConsistency(nodeSha256, old.size, cp.size, consistency, cp.root, cp.root)).toBe(false)
    }
    // And the store the checkpoint came from verifies on its own against the relay's key.
    expect(await verifyStore(relay.deps.store, nodeVerifier(), nodeSha256, { relayKey: relayKey() })).toMatchObject({
      ok: true,
      logSize: cp.size,
      receipts: cp.size,
    })
  })
})
