/**
 * Two relay processes (the real main.ts, as child processes) share one Postgres schema and one object
 * store — a directory, or an s3rver bucket — and N clients race to append to ONE pixbook stream through
 * both, each rebuilding on the head that CHAIN_CONFLICT returns. The per-stream advisory lock must make
 * them one chain: every acked receipt in the store and the projection at its acked seq, no fork.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { streamEventsPrefix, type Receipt } from '@pixpax/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ackProblem,
  adminQuery,
  appendOk,
  artHash,
  dropSchemas,
  fetchStreamLines,
  http,
  identityCreated,
  identityStream,
  listAll,
  newIdentity,
  newKey,
  openSession,
  openStoreFor,
  pixbookStream,
  postReceipts,
  relayEnv,
  removeDir,
  startRelayProcess,
  StreamWriter,
  uniqueSchema,
  verifyLines,
  type AcceptedJson,
  type RelayInfo,
  type RelayProcess,
  type StoreKind,
} from './support/relay-harness.js'
import { startS3rver, type RunningS3rver } from './support/s3rver.js'

const PREFIX = `pixpax_conc_${randomBytes(4).toString('hex')}`
const WRITERS = 8
const PER_WRITER = 25

let s3: RunningS3rver
const dirs: string[] = []
const processes: RelayProcess[] = []

beforeAll(async () => {
  await adminQuery('SELECT 1') // fail, never skip, without Postgres
  s3 = await startS3rver()
})
afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()))
  await s3?.stop()
  await dropSchemas(PREFIX)
  for (const dir of dirs) await removeDir(dir)
})

interface Outcome {
  writer: number
  receipt: Receipt
  result: AcceptedJson
  relay: number
}

async function race(storeKind: StoreKind): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pixpax-conc-'))
  dirs.push(dataDir)
  const schema = uniqueSchema(PREFIX)
  const env = { ...relayEnv({ db: 'pg', store: storeKind, dataDir, schema, ...(storeKind === 's3' ? { s3 } : {}) }), LOG_LEVEL: 'error' }
  // Both start at once: migrations and the relay key file are created by whichever gets there first.
  // One of them commits two batches at once (APPEND_BATCHES_IN_FLIGHT), the other one at a time.
  const relays = await Promise.all([startRelayProcess({ ...env, APPEND_BATCHES_IN_FLIGHT: '2' }), startRelayProcess(env)])
  processes.push(...relays)
  const urls = relays.map((r) => r.url)
  const [infoA, infoB] = await Promise.all(urls.map(async (u) => (await http<RelayInfo>(`${u}/v1/relay`)).json))
  expect(infoA).toEqual(infoB) // one relay key, shared

  // One owner identity; each writer is one of its devices with a key of its own.
  const accountId = `acc-${randomBytes(3).toString('hex')}`
  const owner = newIdentity(accountId, 'person', `owner-${randomBytes(3).toString('hex')}`)
  const ownerIdentity = new StreamWriter(identityStream(owner))
  const identityLog: Receipt[] = []
  const created = await identityCreated(owner)
  await appendOk(urls[0]!, [created])
  ownerIdentity.advance(created)
  identityLog.push(created)
  const devices = Array.from({ length: WRITERS }, () => newKey())
  for (const device of devices) {
    const added = await ownerIdentity.build('KEY_ADDED', { publicKey: device.signer.publicKey }, owner)
    await appendOk(urls[1]!, [added])
    ownerIdentity.advance(added)
    identityLog.push(added)
  }
  const book = new StreamWriter(pixbookStream(accountId, 'shared-book'))
  const genesis = await book.build('PIXBOOK_CREATED', { title: 'Raced' }, owner)
  const [genesisResult] = await appendOk(urls[0]!, [genesis])

  const outcomes: Outcome[] = [{ writer: -1, receipt: genesis, result: genesisResult!, relay: 0 }]
  let conflicts = 0
  const writer = async (w: number): Promise<void> => {
    const signer = devices[w]!.signer
    let head: { eventId: string; hash: string } = { eventId: genesis.eventId, hash: genesis.hash }
    for (let i = 0; i < PER_WRITER; i++) {
      // One logical append = one idempotency key, kept across rebuilds on newer heads.
      const idempotencyKey = randomUUID()
      for (let attempt = 0; ; attempt++) {
        if (attempt > 500) throw new Error(`writer ${w} starved`)
        const receipt = await book.build('CARD_ADDED', { cardId: `w${w}-c${i}`, artHash: artHash(`w${w}-${i}`) }, owner, {
          signer,
          prev: head,
          idempotencyKey,
        })
        const relay = (w + i + attempt) % 2
        const res = await postReceipts(urls[relay]!, [receipt])
        if (res.status === 200) {
          const result = res.json.results![0] as AcceptedJson
          outcomes.push({ writer: w, receipt, result, relay })
          head = { eventId: receipt.eventId, hash: receipt.hash }
          break
        }
        if (res.status === 409 && res.json.error?.code === 'CHAIN_CONFLICT') {
          conflicts++
          const h = res.json.error.details!.head as { eventId: string; hash: string; seq: number }
          head = { eventId: h.eventId, hash: h.hash }
          continue
        }
        throw new Error(`writer ${w}: unexpected answer ${res.status} ${res.text.slice(0, 500)}`)
      }
    }
  }
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)))

  const total = 1 + WRITERS * PER_WRITER
  expect(outcomes).toHaveLength(total)
  expect(conflicts).toBeGreaterThan(0) // they did race
  // Every acked seq is distinct: 1..total, each ack signed by the shared relay key.
  expect(outcomes.map((o) => o.result.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 1))
  for (const o of outcomes) expect(await ackProblem(o.result.ack, infoA!)).toBeUndefined()
  // Both relays took part.
  expect(new Set(outcomes.map((o) => o.relay)).size).toBe(2)

  // Exactly one chain, read back through both relays (paged), in acked-seq order.
  const token = await openSession(urls[0]!, owner)
  const bySeq = [...outcomes].sort((a, b) => a.result.seq - b.result.seq)
  for (const url of urls) {
    const lines = await fetchStreamLines(url, book.key, 37, token)
    expect(lines.map((l) => (JSON.parse(l) as Receipt).eventId)).toEqual(bySeq.map((o) => o.receipt.eventId))
    const identityLines = await fetchStreamLines(url, ownerIdentity.key, 1000)
    const { problems, summary } = await verifyLines([...identityLines, ...lines])
    expect(problems).toEqual([])
    expect(summary.streams[book.key]).toEqual({
      count: total,
      head: bySeq.at(-1)!.receipt.hash,
      headEventId: bySeq.at(-1)!.receipt.eventId,
    })
  }

  // The store: one object per acked receipt under the stream's prefix, nothing else (no fork).
  const store = openStoreFor({ store: storeKind, dataDir, s3 })
  try {
    const objects = await listAll(store, streamEventsPrefix(book.stream))
    expect(objects).toHaveLength(total)
    expect(objects).toEqual(bySeq.map((o) => `${streamEventsPrefix(book.stream)}${o.receipt.eventId}.json`))
  } finally {
    await store.close()
  }
  // The projection: every acked receipt at its seq, the head at the last one, no intent left over.
  const rows = await adminQuery<{ seq: number; event_id: string }>(
    `SELECT seq, event_id FROM "${schema}".receipts WHERE stream_key = $1 ORDER BY seq`,
    [book.key],
  )
  expect(rows.map((r) => [r.seq, r.event_id])).toEqual(bySeq.map((o) => [o.result.seq, o.receipt.eventId]))
  const [head] = await adminQuery<{ seq: number; head_event_id: string }>(
    `SELECT seq, head_event_id FROM "${schema}".streams WHERE stream_key = $1`,
    [book.key],
  )
  expect(head).toEqual({ seq: total, head_event_id: bySeq.at(-1)!.receipt.eventId })
  expect(await adminQuery(`SELECT * FROM "${schema}".append_intents`)).toEqual([])
  const [cards] = await adminQuery<{ card_count: number }>(`SELECT card_count FROM "${schema}".pixbooks WHERE account_id = $1`, [accountId])
  expect(cards!.card_count).toBe(WRITERS * PER_WRITER)

  // Graceful shutdown of both.
  expect(await Promise.all(relays.map((r) => r.stop()))).toEqual([0, 0])
}

describe('two relay processes, one Postgres schema, racing writers on one stream', () => {
  it(`fs store: ${WRITERS} writers × ${PER_WRITER} receipts → one chain`, () => race('fs'), 120_000)
  it(`s3 store (s3rver): ${WRITERS} writers × ${PER_WRITER} receipts → one chain`, () => race('s3'), 120_000)
})
