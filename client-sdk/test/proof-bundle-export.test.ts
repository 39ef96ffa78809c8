/**
 * Offline proof bundles from a real relay (docs/log.md §10): a client that synced exports its log with
 * the checkpoint it holds and an inclusion proof per receipt (from the relay's tiles), and
 * `pixpax verify --log` accepts it with no network under the pinned relay key; the bundle imports like a
 * plain export; tiles that do not prove a receipt, or a receipt the relay never delivered, stop the export.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { buildReceipt, PixpaxError, type Receipt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { login } from '../src/network/session.js'
import { MemoryLocalLog } from '../src/storage/memory-local-log.js'
import { SyncClient } from '../src/sync/sync-client.js'
import { exportNdjson, importNdjson } from '../src/sync/ndjson.js'
import { relayTileSource } from '../src/sync/bundle-proofs.js'
import { makeIdentity, nodeWebSocket, postReceipts, startTestRelay, type TestIdentity, type TestRelay } from './support/relay.js'

const run = promisify(execFile)
const PIXPAX = join(import.meta.dirname, '../../shared/bin/pixpax.mjs')
const ART = 'sha256:' + 'cd'.repeat(32)

async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const all: string[] = []
  for await (const line of lines) all.push(line)
  return all
}

describe('proof bundles exported from a real relay', () => {
  let relay: TestRelay
  let alice: TestIdentity
  let dir: string
  let token: string
  const book = 'pixbook/acc-alice/bundled'

  /** Receipts chained in one stream, signed by `who`. */
  async function chainOf(who: TestIdentity, stream: Receipt['stream'], first: [string, Record<string, unknown>], n: number) {
    const out: Receipt[] = []
    let prev: { eventId: string; hash: string } | null = null
    for (let i = 0; i <= n; i++) {
      const [type, payload] = i === 0 ? first : ['CARD_ADDED', { cardId: `c-${i}`, artHash: ART }]
      const r = await buildReceipt({ stream, type, payload, identityId: who.identityId, signer: who.signer, prev, sha256: nodeSha256 })
      out.push(r)
      prev = { eventId: r.eventId, hash: r.hash }
    }
    return out
  }

  beforeAll(async () => {
    relay = await startTestRelay()
    dir = await mkdtemp(join(tmpdir(), 'pixpax-bundle-export-'))
    alice = await makeIdentity('alice', 'acc-alice')
    const other = await makeIdentity('other', 'acc-other')
    const account = (id: TestIdentity) =>
      buildReceipt({
        stream: { type: 'account', accountId: id.accountId },
        type: 'ACCOUNT_CREATED',
        payload: {},
        identityId: id.identityId,
        signer: id.signer,
        prev: null,
        sha256: nodeSha256,
      })
    expect((await postReceipts(relay, [alice.created, other.created, await account(alice), await account(other)])).status).toBe(200)
    // Alice's book and another stream written in turns, so her receipts are scattered over more than one
    // level-0 tile (positions past 256) and the proofs use full and partial tiles.
    const mine = await chainOf(
      alice,
      { type: 'pixbook', accountId: 'acc-alice', bookId: 'bundled' },
      ['PIXBOOK_CREATED', { title: 'B' }],
      9,
    )
    const theirs = await chainOf(
      other,
      { type: 'pixbook', accountId: 'acc-other', bookId: 'noise' },
      ['PIXBOOK_CREATED', { title: 'N' }],
      299,
    )
    for (let i = 0; i < mine.length; i++) {
      const res = await postReceipts(relay, [mine[i]!, ...theirs.slice(i * 30, i * 30 + 30)])
      expect(res.status).toBe(200)
    }
    token = (await login(relay.url, 'alice', alice.signer)).token
  }, 120_000)
  afterAll(async () => {
    await relay.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function syncedLog(): Promise<{ log: MemoryLocalLog; relayKeyId: string }> {
    const log = new MemoryLocalLog()
    const client = await SyncClient.open({
      relayUrl: relay.url,
      log,
      identityId: 'alice',
      signer: alice.signer,
      streams: [book],
      token: () => token,
      webSocket: nodeWebSocket,
      verifier: nodeVerifier(),
      sha256: nodeSha256,
      reconnect: { baseMs: 20, maxMs: 200 },
    })
    client.start()
    await client.whenSynced(30_000)
    await client.stop()
    expect(client.head(book)?.seq).toBe(10)
    return { log, relayKeyId: client.relayPin!.publicKeyId }
  }

  it('exports a bundle that pixpax verify --log accepts offline under the pinned key, and that imports', async () => {
    const { log, relayKeyId } = await syncedLog()
    const lines = await collect(exportNdjson(log, { proofs: { tiles: relayTileSource(relay.url), sha256: nodeSha256 } }))
    // Header, then each receipt with its proof: identity/alice, the book's 10 receipts.
    expect(lines).toHaveLength(1 + 2 * 11)
    const positions = lines
      .slice(2)
      .filter((_, i) => i % 2 === 0)
      .map((l) => (JSON.parse(l) as { inclusion: { position: number } }).inclusion.position)
    expect(Math.max(...positions)).toBeGreaterThan(256)
    const path = join(dir, 'bundle.ndjson')
    await writeFile(path, lines.join(''))
    const { stdout } = await run(process.execPath, [
      PIXPAX,
      'verify',
      '--log',
      path,
      '--relay-key-id',
      relayKeyId,
      '--backend',
      'node-sync',
    ])
    expect(JSON.parse(stdout)).toMatchObject({
      ok: true,
      log: { relayKeyId, relayKeySource: 'pinned', proven: 11 },
      streams: { [book]: { count: 10 }, 'identity/alice': { count: 1 } },
    })
    const fresh = new MemoryLocalLog()
    expect(await importNdjson(fresh, lines, { verifier: nodeVerifier() })).toMatchObject({ imported: 11, errors: [] })
  }, 60_000)

  it('refuses tiles that do not prove a receipt, and receipts the relay never delivered', async () => {
    const { log } = await syncedLog()
    const tiles = relayTileSource(relay.url)
    // A lying copy of the store: one level-0 tile altered.
    const altered = async (path: string) => {
      const bytes = await tiles(path)
      if (bytes && path.startsWith('pixpax/log/tile/0/')) bytes[0]! ^= 1
      return bytes
    }
    await expect(collect(exportNdjson(log, { proofs: { tiles: altered } }))).rejects.toMatchObject({
      code: 'LOG_INCONSISTENT',
      details: { reason: 'inclusion' },
    })
    // An imported receipt has no log position: it cannot be proven.
    const imported = new MemoryLocalLog()
    for (const key of ['relay/pin', 'relay/checkpoint']) await imported.putMeta(key, await log.getMeta(key))
    await importNdjson(imported, await collect(exportNdjson(log)), { verifier: nodeVerifier() })
    const error = await collect(exportNdjson(imported, { proofs: { tiles } })).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PixpaxError)
    expect(error).toMatchObject({ code: 'NOT_FOUND' })
    expect((error as Error).message).toMatch(/no log position/)
    // A client that never synced holds no checkpoint.
    await expect(collect(exportNdjson(new MemoryLocalLog(), { proofs: { tiles } }))).rejects.toMatchObject({ code: 'NOT_FOUND' })
  }, 60_000)
})
