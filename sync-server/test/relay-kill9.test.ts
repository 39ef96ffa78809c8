/**
 * kill -9 of the real relay process (`main.ts`, as `pnpm start` runs it) at random moments while writers
 * append: after each kill the relay restarts on the same data, and in the end every receipt the relay
 * ever acknowledged is in its stream at its acked seq with its hash, its ack verifies under the relay
 * key, the checkpoint covers its position, and the store alone verifies (verify-store). On PGlite (the
 * embedded default) and on Postgres; the seed of the kill times is printed, for a replay.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { parseCheckpoint, type Receipt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { seededRandom } from '@pixpax/shared/testing'
import { afterAll, describe, expect, it } from 'vitest'
import { FsObjectStore } from '../src/stores/fs-object-store.js'
import { verifyStore } from '../src/replay/verify-store.js'
import { DATABASE_URL, uniqueSchema } from '../src/testing.js'
import {
  ackProblem,
  accountStream,
  dropSchemas,
  fetchStreamJson,
  http,
  identityCreated,
  newIdentity,
  openSession,
  pixbookStream,
  postReceipts,
  removeDir,
  REPO_ROOT,
  startRelayProcess,
  StreamWriter,
  type AcceptedJson,
  type Identity,
  type RelayInfo,
  type RelayProcess,
} from './support/relay-harness.js'

const KILLS = 3
const WRITERS = 4
const PREFIX = `kill9_${randomBytes(3).toString('hex')}`

interface Acked {
  stream: string
  receipt: Receipt
  result: AcceptedJson
}

afterAll(async () => {
  await dropSchemas(PREFIX)
})

describe.each(['pglite', 'pg'] as const)('kill -9 of the relay process while writers append (%s + fs)', (db) => {
  it(`loses no acknowledged receipt over ${KILLS} kills at random moments`, async () => {
    const seed = Number(process.env.KILL9_SEED ?? randomBytes(4).readUInt32BE())
    console.log(`relay-kill9 ${db}: KILL9_SEED=${seed}`)
    const next = seededRandom(seed)
    const dataDir = await mkdtemp(join(tmpdir(), 'pixpax-kill9-'))
    const env = {
      DATA_DIR: dataDir,
      ...(db === 'pg' ? { DATABASE_URL, DATABASE_SCHEMA: uniqueSchema(PREFIX) } : {}),
      RATE_LIMIT_PER_IP: '1000000000',
      RATE_LIMIT_PER_IDENTITY: '1000000000',
    }
    let relay: RelayProcess | undefined = await startRelayProcess(env)
    try {
      const accountId = `acc-${randomBytes(3).toString('hex')}`
      const owner: Identity = newIdentity(accountId)
      const base = relay.url
      expect((await postReceipts(base, [await identityCreated(owner)])).status).toBe(200)
      const account = new StreamWriter(accountStream(accountId))
      const created = await account.build('ACCOUNT_CREATED', { displayName: 'kill -9' }, owner)
      expect((await postReceipts(base, [created])).status).toBe(200)
      const books = Array.from({ length: WRITERS }, (_, i) => new StreamWriter(pixbookStream(accountId, `book-${i}`)))
      const acked: Acked[] = []
      let card = 0

      /** Appends to one book until the relay goes away; after a restart it resumes from the served head. */
      const write = async (url: string, book: StreamWriter, token: string, stop: { now: boolean }): Promise<void> => {
        const served = await fetchStreamJson(url, book.key, 1000, token).catch(() => undefined)
        if (served === undefined) return
        const last = served.at(-1)
        if (last) book.advance(last, served.length)
        else book.head = null
        while (!stop.now) {
          const receipt =
            book.head === null
              ? await book.build('PIXBOOK_CREATED', { title: book.key }, owner)
              : await book.build('CARD_ADDED', { cardId: `card-${card++}`, artHash: `sha256:${'ab'.repeat(32)}` }, owner)
          let res
          try {
            res = await postReceipts(url, [receipt])
          } catch {
            return // the relay died under this request: whether it was accepted is read back after the restart
          }
          const result = res.json?.results?.[0]
          if (res.status !== 200 || !result?.ok) return
          acked.push({ stream: book.key, receipt, result })
          book.advance(receipt, result.seq)
        }
      }

      for (let kill = 0; kill <= KILLS; kill++) {
        const url = relay.url
        const token = await openSession(url, owner)
        const stop = { now: false }
        const writers = books.map((b) => write(url, b, token, stop))
        const before = acked.length
        if (kill < KILLS) {
          // Somewhere in the first second of appends: during a batch, an integration, a checkpoint write.
          await new Promise((r) => setTimeout(r, 150 + Math.floor(next() * 900)))
          await relay.kill()
          stop.now = true
          await Promise.all(writers)
          relay = await startRelayProcess(env)
        } else {
          // The last round: let the writers get at least one more ack each, then stop them cleanly.
          while (acked.length < before + WRITERS) await new Promise((r) => setTimeout(r, 20))
          stop.now = true
          await Promise.all(writers)
        }
      }
      expect(acked.length).toBeGreaterThan(WRITERS)

      const url = relay.url
      const token = await openSession(url, owner)
      const info = (await http<RelayInfo>(`${url}/v1/relay`)).json
      const checkpoint = await http<string>(`${url}/v1/log/checkpoint`)
      const size = parseCheckpoint(checkpoint.text.split('\n\n')[0]! + '\n').size
      const served = new Map<string, Receipt[]>()
      for (const b of books) served.set(b.key, await fetchStreamJson(url, b.key, 1000, token))
      const lost: string[] = []
      for (const { stream, receipt, result } of acked) {
        const at = served.get(stream)![result.seq - 1]
        if (at?.eventId !== receipt.eventId || at.hash !== receipt.hash) lost.push(`${stream}#${result.seq} ${receipt.eventId}`)
        const problem = await ackProblem(result.ack, info)
        if (problem) lost.push(`${stream}#${result.seq}: ${problem}`)
        if (result.position >= size) lost.push(`${stream}#${result.seq}: position ${result.position} beyond checkpoint ${size}`)
      }
      expect(lost, `KILL9_SEED=${seed}`).toEqual([])
      console.log(`relay-kill9 ${db}: ${acked.length} acked receipts over ${KILLS} kills, all kept; log size ${size}`)

      await relay.stop()
      relay = undefined
      const store = new FsObjectStore(join(dataDir, 'objects'))
      const verified = await verifyStore(store, nodeVerifier(), nodeSha256)
      await store.close()
      expect(verified.errors, `KILL9_SEED=${seed}`).toEqual([])
      expect(verified).toMatchObject({ ok: true, orphans: [] })
      expect(verified.receipts).toBeGreaterThanOrEqual(acked.length + 2)
      // And a second implementation of the specs (Python, scripts/second-verifier) agrees: log, tiles,
      // checkpoint under the relay key, and every receipt the log names, in log order.
      const second = await promisify(execFile)('/usr/bin/python3', [
        join(REPO_ROOT, 'scripts', 'second-verifier', 'pixpax_verify.py'),
        'store',
        join(dataDir, 'objects'),
        join(dataDir, 'relay-key.jwk'),
      ])
      expect(second.stdout).toMatch(new RegExp(`^ok store: .* size ${verified.logSize} .*; ${verified.orphans.length} orphans`))
    } finally {
      await relay?.kill()
      await removeDir(dataDir)
    }
  }, 300_000)
})
