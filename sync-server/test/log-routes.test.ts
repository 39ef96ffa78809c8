/**
 * The acceptance log's read routes over a real socket (PGlite + fs): the checkpoint note, tiles at their
 * store paths with their cache headers, proofs that verify against the checkpoint — and every bad input
 * answered with the error envelope, nothing stored changed. Also: a database from before the log is
 * refused with a clear message instead of being migrated into something half-made.
 */
import {
  hashTilePath,
  leafData,
  leafHash,
  parseCheckpoint,
  parseSignedNote,
  proofFromJson,
  verifyInclusion,
  verifySignedCheckpoint,
} from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrate } from '../src/db/migrate.js'
import { PgliteDb } from '../src/db/pglite-db.js'
import { RELAY_MIGRATIONS } from '../src/domains/modules.js'
import {
  appendOk,
  http,
  identityCreated,
  newIdentity,
  startTestRelay,
  type AcceptedJson,
  type RelayInfo,
  type TestRelay,
} from './support/relay-harness.js'

describe('log routes', () => {
  let relay: TestRelay
  let info: RelayInfo
  let accepted: AcceptedJson[]

  beforeAll(async () => {
    relay = await startTestRelay({ db: 'pglite', store: 'fs' })
    info = (await http<RelayInfo>(`${relay.url}/v1/relay`)).json
    const people = Array.from({ length: 3 }, (_, i) => newIdentity(`acc-${i}`))
    accepted = await appendOk(relay.url, await Promise.all(people.map((p) => identityCreated(p))))
  }, 60_000)
  afterAll(async () => relay?.close())

  async function status(path: string): Promise<{ status: number; code?: string; before: string }> {
    const before = await fetch(`${relay.url}/v1/log/checkpoint`).then((r) => r.text())
    const res = await http<{ error?: { code: string; requestId: string } }>(`${relay.url}${path}`)
    const after = await fetch(`${relay.url}/v1/log/checkpoint`).then((r) => r.text())
    expect(after).toBe(before) // nothing stored changed
    if (res.status >= 400) expect(res.json.error?.requestId).toBe(res.headers.get('x-request-id'))
    return { status: res.status, ...(res.json?.error ? { code: res.json.error.code } : {}), before }
  }

  it('serves the signed checkpoint as text/plain: it verifies and covers every ack', async () => {
    const res = await fetch(`${relay.url}/v1/log/checkpoint`)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const note = await res.text()
    const checkpoint = await verifySignedCheckpoint(note, { name: relay.config.LOG_ORIGIN, publicKey: info.publicKey }, nodeVerifier())
    expect(checkpoint.size).toBe(accepted.length)
    expect(parseCheckpoint(parseSignedNote(note).text)).toEqual(checkpoint)
    for (const a of accepted) {
      const proof = await http<{ hashes: string[] }>(`${relay.url}/v1/log/proof/inclusion?index=${a.position}&size=${checkpoint.size}`)
      const leaf = leafHash(nodeSha256, leafData({ eventId: a.eventId, hash: a.hash, seq: a.seq, stream: a.ack.stream }))
      expect(verifyInclusion(nodeSha256, a.position, checkpoint.size, leaf, proofFromJson(proof.json), checkpoint.root)).toBe(true)
    }
  })

  it('serves tiles at their store paths; the partial tile is what the store holds', async () => {
    const path = hashTilePath(0, 0, accepted.length).slice('pixpax/log/'.length)
    const res = await fetch(`${relay.url}/v1/log/${path}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/octet-stream')
    expect(res.headers.get('cache-control')).toBe('public, max-age=3600')
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(await relay.deps.store.get(hashTilePath(0, 0, accepted.length)))
  })

  it.each([
    ['a path that is not a tile', '/v1/log/tile/0/abc', 404, 'NOT_FOUND'],
    ['a second spelling of an index', '/v1/log/tile/0/x000/001', 404, 'NOT_FOUND'],
    ['a full tile that does not exist yet', '/v1/log/tile/0/000', 404, 'NOT_FOUND'],
    ['an encoded traversal', '/v1/log/tile/entries/..%2F..%2Fcheckpoint', 404, 'NOT_FOUND'],
    ['an inclusion proof without a size', '/v1/log/proof/inclusion?index=0', 400, 'BAD_REQUEST'],
    ['a negative index', '/v1/log/proof/inclusion?index=-1&size=2', 400, 'BAD_REQUEST'],
    ['an index not below the size', '/v1/log/proof/inclusion?index=3&size=3', 400, 'BAD_REQUEST'],
    ['a size beyond the checkpoint', '/v1/log/proof/inclusion?index=0&size=999', 400, 'BAD_REQUEST'],
    ['a fractional size', '/v1/log/proof/inclusion?index=0&size=1.5', 400, 'BAD_REQUEST'],
    ['a consistency proof from 0', '/v1/log/proof/consistency?from=0&to=2', 400, 'BAD_REQUEST'],
    ['a consistency proof backwards', '/v1/log/proof/consistency?from=3&to=2', 400, 'BAD_REQUEST'],
    ['a consistency proof beyond the checkpoint', '/v1/log/proof/consistency?from=1&to=999', 400, 'BAD_REQUEST'],
  ])('answers %s (%s) with %i %s in the envelope', async (_name, path, code, error) => {
    expect(await status(path)).toMatchObject({ status: code, code: error })
  })
})

describe('migrations', () => {
  it('refuse a database from before the acceptance log with a message that says what to do', async () => {
    const db = await PgliteDb.open()
    try {
      // What PixPax 0.1 left: schema_migrations without a module column.
      await db.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)')
      await db.query("INSERT INTO schema_migrations VALUES (1, 'init', now())")
      await expect(migrate(db, RELAY_MIGRATIONS)).rejects.toThrow(/PixPax 0\.1.*new database or DATABASE_SCHEMA/)
      // Nothing was applied over it.
      expect((await db.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'log_sequence'")).rowCount).toBe(0)
    } finally {
      await db.close()
    }
  })
})
