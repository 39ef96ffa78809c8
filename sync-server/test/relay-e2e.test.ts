/**
 * The relay end to end over real sockets and real fetch: Postgres + filesystem store, Postgres + S3
 * (s3rver), and a smaller smoke run on PGlite + filesystem. Valid chains with acks that verify under the
 * published relay key, GET /v1/receipts serving exactly the stored canonical bytes, every rejection code
 * over HTTP with its status and envelope — and after every rejection, nothing stored has changed.
 */
import { randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join, relative } from 'node:path'
import {
  base64Decode,
  base64Encode,
  canonicalBytes,
  formatSignature,
  P256_N,
  receiptCanonicalBytes,
  sha256Ref,
  streamEventsPrefix,
  type Receipt,
} from '@pixpax/shared'
import { nodeSha256 } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  accountStream,
  ackProblem,
  adminQuery,
  appendOk,
  appendVia,
  artHash,
  dropSchemas,
  fetchStreamJson,
  fetchStreamLines,
  http,
  identityCreated,
  listAll,
  identityStream,
  newIdentity,
  newKey,
  openSession,
  pixbookStream,
  postJson,
  postReceipts,
  removeDir,
  startTestRelay,
  storedState,
  StreamWriter,
  uniqueSchema,
  verifyLines,
  type AcceptedJson,
  type DbKind,
  type HttpResult,
  type Identity,
  type PostReceiptsJson,
  type RelayInfo,
  type TestRelay,
  type StoreKind,
} from './support/relay-harness.js'
import { startS3rver, type RunningS3rver } from './support/s3rver.js'

const PREFIX = `pixpax_e2e_${randomBytes(4).toString('hex')}`
const BODY_LIMIT = 200_000

let s3: RunningS3rver
const dataDirs: string[] = []

beforeAll(async () => {
  // No skip: an unreachable Postgres or an s3rver that cannot start fails every test here.
  await adminQuery('SELECT 1')
  s3 = await startS3rver()
})
afterAll(async () => {
  await s3?.stop()
  await dropSchemas(PREFIX)
  for (const dir of dataDirs) await removeDir(dir)
})

// ------------------------------------------------------------------------------------------------
// A world: identities, an account and a pixbook with every kind of valid receipt, built through HTTP

interface World {
  relay: TestRelay
  info: RelayInfo
  alice: Identity
  bob: Identity
  platform: Identity
  accountId: string
  aliceIdentity: StreamWriter
  account: StreamWriter
  book: StreamWriter
  /** Every accepted receipt, in the order the relay accepted them (the order of an export). */
  log: Receipt[]
  results: AcceptedJson[]
  /** Alice's first key, revoked by the rotation. */
  oldSigner: Identity['signer']
  /** Alice's session: pixbook streams are private. */
  token: string
}

async function openRelay(db: DbKind, store: StoreKind, platformIssuer: string, restartFrom?: TestRelay): Promise<TestRelay> {
  const relay = await startTestRelay(
    restartFrom
      ? restartFrom.options
      : {
          db,
          store,
          schema: uniqueSchema(PREFIX),
          ...(store === 's3' ? { s3 } : {}),
          env: { PLATFORM_ISSUERS: platformIssuer, BODY_LIMIT_BYTES: String(BODY_LIMIT) },
        },
  )
  if (!dataDirs.includes(relay.options.dataDir)) dataDirs.push(relay.options.dataDir)
  return relay
}

async function buildWorld(db: DbKind, store: StoreKind): Promise<World> {
  const accountId = `acc-${randomBytes(3).toString('hex')}`
  const alice = newIdentity(accountId, 'person', `alice-${randomBytes(3).toString('hex')}`)
  const bob = newIdentity(accountId, 'person', `bob-${randomBytes(3).toString('hex')}`)
  const platform = newIdentity('pixpax-platform', 'issuer', `platform-${randomBytes(3).toString('hex')}`)
  const relay = await openRelay(db, store, platform.identityId)
  const info = (await http<RelayInfo>(`${relay.url}/v1/relay`)).json
  const log: Receipt[] = []
  const results: AcceptedJson[] = []
  const w: World = {
    relay,
    info,
    alice,
    bob,
    platform,
    accountId,
    aliceIdentity: new StreamWriter(identityStream(alice)),
    account: new StreamWriter(accountStream(accountId)),
    book: new StreamWriter(pixbookStream(accountId, 'book-1')),
    log,
    results,
    oldSigner: alice.signer,
    token: '',
  }
  const accept = async (receipts: Array<[StreamWriter, Receipt]>): Promise<AcceptedJson[]> => {
    const out = await appendOk(
      relay.url,
      receipts.map(([, r]) => r),
    )
    out.forEach((result, i) => {
      const [writer, receipt] = receipts[i]!
      expect(result.seq).toBe(writer.seq + 1)
      writer.advance(receipt, result.seq)
      log.push(receipt)
      results.push(result)
    })
    return out
  }

  // Three identities in one request (three streams).
  const bobIdentity = new StreamWriter(identityStream(bob))
  const platformIdentity = new StreamWriter(identityStream(platform))
  await accept([
    [w.aliceIdentity, await identityCreated(alice, 'Alice')],
    [bobIdentity, await identityCreated(bob)],
    [platformIdentity, await identityCreated(platform, 'PixPax')],
  ])
  // An account with a member; a pixbook, a pack issued by the platform issuer, opened, cards added.
  await accept([[w.account, await w.account.build('ACCOUNT_CREATED', { displayName: 'Alice & Bob' }, alice)]])
  await accept([[w.account, await w.account.build('MEMBER_ADDED', { identityId: bob.identityId, role: 'member' }, alice)]])
  await accept([[w.book, await w.book.build('PIXBOOK_CREATED', { title: 'My first book', seriesId: 'series-1' }, alice)]])
  const cards = [
    { cardId: 'card-1', artHash: artHash('art 1') },
    { cardId: 'card-2', artHash: artHash('art 2') },
  ]
  await accept([[w.book, await w.book.build('PACK_ISSUED', { packId: 'pack-1', seriesId: 'series-1', cards }, platform)]])
  await accept([[w.book, await w.book.build('PACK_OPENED', { packId: 'pack-1' }, alice)]])
  // Two chained receipts of one stream in one request.
  const c1 = await w.book.build('CARD_ADDED', { cardId: 'card-1', artHash: cards[0]!.artHash, packId: 'pack-1' }, alice)
  const c2 = await w.book.build('CARD_ADDED', { cardId: 'card-2', artHash: cards[1]!.artHash, packId: 'pack-1' }, alice, {
    prev: { eventId: c1.eventId, hash: c1.hash },
  })
  await accept([
    [w.book, c1],
    [w.book, c2],
  ])
  // Key rotation: add a key (signed by the old one), revoke the old one (signed by the new one), then
  // save the book with the new key.
  const next = newKey()
  await accept([[w.aliceIdentity, await w.aliceIdentity.build('KEY_ADDED', { publicKey: next.signer.publicKey }, alice)]])
  alice.signer = next.signer
  alice.jwk = next.jwk
  await accept([[w.aliceIdentity, await w.aliceIdentity.build('KEY_REVOKED', { publicKeyId: w.oldSigner.publicKeyId }, alice)]])
  await accept([[w.book, await w.book.build('PIXBOOK_SAVE', { snapshotHash: artHash('snapshot 1'), note: 'after rotation' }, alice)]])
  w.token = await openSession(relay.url, alice)
  return w
}

// ------------------------------------------------------------------------------------------------
// Assertions

function expectEnvelope(res: HttpResult<PostReceiptsJson>, status: number, code: string): NonNullable<PostReceiptsJson['error']> {
  expect({ status: res.status, code: res.json?.error?.code }, res.text.slice(0, 1000)).toEqual({ status, code })
  const error = res.json.error!
  expect(typeof error.message).toBe('string')
  expect(error.message.length).toBeGreaterThan(0)
  expect(error.requestId).toBe(res.headers.get('x-request-id'))
  expect(error.requestId).toMatch(/^[A-Za-z0-9._:-]{1,128}$/)
  expect(Object.keys(error).every((k) => ['code', 'message', 'requestId', 'details'].includes(k))).toBe(true)
  return error
}

/** Everything under the fs store root (temp files included), to prove nothing was written anywhere. */
async function fsTree(dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name))
      else out.push(relative(dir, join(d, e.name)))
    }
  }
  await walk(dir)
  return out.sort()
}

async function snapshot(w: World): Promise<unknown> {
  const state = await storedState(w.relay.deps)
  const all = await listAll(w.relay.deps.store, '')
  const tree = w.relay.options.store === 'fs' ? await fsTree(w.relay.options.dataDir) : []
  return { ...state, all, tree: tree.filter((p) => !p.startsWith('pglite')) }
}

/** A receipt with `mutate` applied, its hash recomputed and signed again by `signer`. */
async function reseal(receipt: Receipt, mutate: (r: Receipt) => void, signer: Identity['signer']): Promise<Receipt> {
  const copy = structuredClone(receipt)
  mutate(copy)
  const canonical = receiptCanonicalBytes(copy)
  copy.hash = sha256Ref(canonical, nodeSha256)
  copy.signature = formatSignature(await signer.sign(canonical))
  return copy
}

function highS(signature: string): string {
  const bytes = base64Decode(signature.slice('ecdsa-p256:'.length))!
  let s = 0n
  for (const b of bytes.subarray(32)) s = (s << 8n) | BigInt(b)
  let high = P256_N - s
  const out = new Uint8Array(64)
  out.set(bytes.subarray(0, 32))
  for (let i = 63; i >= 32; i--) {
    out[i] = Number(high & 0xffn)
    high >>= 8n
  }
  return 'ecdsa-p256:' + base64Encode(out)
}

function nested(depth: number): unknown {
  let v: unknown = 1
  for (let i = 0; i < depth; i++) v = [v]
  return v
}

// ------------------------------------------------------------------------------------------------
// Suites

function fullSuite(db: DbKind, store: StoreKind): void {
  describe(`relay over HTTP (${db} + ${store})`, () => {
    let w: World
    beforeAll(async () => {
      w = await buildWorld(db, store)
    }, 60_000)
    afterAll(async () => {
      await w?.relay.close()
    })

    it('accepted the whole world, with acks signed by the key of GET /v1/relay', async () => {
      expect(w.info.identityId).toBe('pixpax-relay')
      expect(w.results).toHaveLength(w.log.length)
      for (const [i, result] of w.results.entries()) {
        const receipt = w.log[i]!
        expect(result).toMatchObject({ ok: true, eventId: receipt.eventId, hash: receipt.hash })
        expect(result.ack).toMatchObject({
          stream: new StreamWriter(receipt.stream).key,
          seq: result.seq,
          eventId: receipt.eventId,
          hash: receipt.hash,
        })
        expect(await ackProblem(result.ack, w.info)).toBeUndefined()
      }
      // A forged ack (another seq) does not verify.
      const forged = { ...w.results[0]!.ack, seq: 99 }
      expect(await ackProblem(forged, w.info)).toBe('ack signature does not verify')

      const book = await http<Record<string, unknown>>(`${w.relay.url}/v1/pixbooks/${w.accountId}/book-1`, {
        headers: { authorization: `Bearer ${w.token}` },
      })
      expect(book.status).toBe(200)
      expect(book.json).toMatchObject({
        ownerIdentityId: w.alice.identityId,
        cardCount: 2,
        head: { seq: w.book.seq, eventId: w.book.head!.eventId, hash: w.book.head!.hash },
        packs: [{ packId: 'pack-1', openedEventId: w.log.find((r) => r.type === 'PACK_OPENED')!.eventId }],
      })
      const identity = await http<{ keys: Array<{ publicKeyId: string; addedPosition: number; revokedPosition: number | null }> }>(
        `${w.relay.url}/v1/identities/${w.alice.identityId}`,
      )
      // Key changes are placed by log position: the old key, then the new one, then the old one's revocation.
      const [oldKey, newKey] = identity.json.keys
      expect(oldKey?.publicKeyId).toBe(w.oldSigner.publicKeyId)
      expect(newKey).toMatchObject({ publicKeyId: w.alice.signer.publicKeyId, revokedPosition: null })
      expect(oldKey!.addedPosition).toBeLessThan(newKey!.addedPosition)
      expect(newKey!.addedPosition).toBeLessThan(oldKey!.revokedPosition!)
      const head = await http<Record<string, unknown>>(`${w.relay.url}/v1/streams/head?key=${encodeURIComponent(w.account.key)}`)
      expect(head.json).toEqual({ stream: w.account.key, seq: 2, eventId: w.account.head!.eventId, hash: w.account.head!.hash })
    })

    it('GET /v1/receipts serves exactly the stored canonical bytes, and the chains verify', async () => {
      const byEventId = new Map<string, string>()
      for (const writer of [
        w.aliceIdentity,
        new StreamWriter(identityStream(w.bob)),
        new StreamWriter(identityStream(w.platform)),
        w.account,
        w.book,
      ]) {
        // Small pages: paging by x-next-after must neither drop nor repeat a receipt.
        const lines = await fetchStreamLines(w.relay.url, writer.key, 2, w.token)
        const expected = w.log.filter((r) => new StreamWriter(r.stream).key === writer.key)
        expect(lines.map((l) => (JSON.parse(l) as Receipt).eventId)).toEqual(expected.map((r) => r.eventId))
        const viaJson = await fetchStreamJson(w.relay.url, writer.key, 3, w.token)
        expect(viaJson).toEqual(expected)
        for (const [i, line] of lines.entries()) {
          const receipt = expected[i]!
          // The stored object is the JCS of the whole receipt; the body (no hash, no signature) hashes to `hash`.
          expect(line).toBe(Buffer.from(canonicalBytes(receipt)).toString('utf8'))
          const stored = await w.relay.deps.store.get(`${streamEventsPrefix(receipt.stream)}${receipt.eventId}.json`)
          expect(Buffer.from(stored!).toString('utf8')).toBe(line)
          expect(sha256Ref(receiptCanonicalBytes(JSON.parse(line) as Receipt), nodeSha256)).toBe(receipt.hash)
          byEventId.set(receipt.eventId, line)
        }
      }
      // `pixpax verify` over what was fetched, in acceptance order, with the platform issuer pinned.
      const exported = w.log.map((r) => byEventId.get(r.eventId)!)
      const { problems, summary } = await verifyLines(exported, { platformIssuers: [w.platform.identityId] })
      expect(problems).toEqual([])
      expect(summary.receipts).toBe(w.log.length)
      expect(summary.streams[w.book.key]).toEqual({ count: w.book.seq, head: w.book.head!.hash, headEventId: w.book.head!.eventId })
      // The store holds exactly these receipt objects (no fork, nothing else).
      const objects = (await listAll(w.relay.deps.store)).filter((k) => /^pixpax\/(identities|accounts|pixbooks)\/.*\/events\//.test(k))
      expect(objects).toEqual(w.log.map((r) => `${streamEventsPrefix(r.stream)}${r.eventId}.json`).sort())
    })

    // Every rejection: status, code and envelope, and nothing stored changes.
    const rejections: Array<{
      name: string
      status: number
      code: string
      send: () => Promise<HttpResult<PostReceiptsJson>>
      check?: (e: NonNullable<PostReceiptsJson['error']>) => void
    }> = [
      {
        name: 'malformed JSON',
        status: 400,
        code: 'JSON_INVALID',
        send: () => postJson(w.relay.url, '/v1/receipts', '{\n  "receipts": [1,\n  }'),
        check: (e) => {
          expect(e.message).toMatch(/line 3 column 3/)
          expect(e.details).toMatchObject({ line: 3, column: 3 })
        },
      },
      { name: 'empty body', status: 400, code: 'JSON_INVALID', send: () => postJson(w.relay.url, '/v1/receipts', '') },
      {
        name: 'a byte-order mark',
        status: 400,
        code: 'JSON_INVALID',
        send: () => postJson(w.relay.url, '/v1/receipts', '\uFEFF{"receipts":[{}]}'),
      },
      {
        name: 'invalid UTF-8',
        status: 400,
        code: 'JSON_INVALID',
        send: () =>
          http(`${w.relay.url}/v1/receipts`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]),
          }),
      },
      {
        name: 'duplicate keys in the body',
        status: 400,
        code: 'DUPLICATE_KEY',
        send: () => postJson(w.relay.url, '/v1/receipts', '{"receipts":[],"receipts":[{}]}'),
      },
      {
        name: 'duplicate keys inside a receipt',
        status: 400,
        code: 'DUPLICATE_KEY',
        send: async () => {
          const r = await w.book.build('CARD_ADDED', { cardId: 'dup', artHash: artHash('dup') }, w.alice)
          const text = JSON.stringify({ receipts: [r] }).replace('"cardId":"dup"', '"cardId":"dup","cardId":"other"')
          return postJson(w.relay.url, '/v1/receipts', text)
        },
      },
      {
        name: 'a float in the payload',
        status: 400,
        code: 'SCHEMA_INVALID',
        send: () => postJson(w.relay.url, '/v1/receipts', '{"receipts":[{"payload":{"n":1.5}}]}'),
      },
      {
        name: 'an unsafe integer',
        status: 400,
        code: 'SCHEMA_INVALID',
        send: () => postJson(w.relay.url, '/v1/receipts', '{"receipts":[{"payload":{"n":9007199254740993}}]}'),
      },
      {
        name: 'deep nesting',
        status: 400,
        code: 'SCHEMA_INVALID',
        send: () => postJson(w.relay.url, '/v1/receipts', JSON.stringify({ receipts: [{ payload: nested(200) }] })),
      },
      {
        name: 'deep nesting inside a signed receipt',
        status: 400,
        code: 'SCHEMA_INVALID',
        send: async () => {
          const r = await w.book.build('PIXBOOK_SAVE', { snapshotHash: artHash('x') }, w.alice)
          return postReceipts(w.relay.url, [{ ...r, payload: { ...r.payload, note: nested(70) } }])
        },
      },
      {
        name: 'a body that is not an object',
        status: 400,
        code: 'SCHEMA_INVALID',
        send: () => postJson(w.relay.url, '/v1/receipts', '[]'),
      },
      { name: 'no receipts', status: 400, code: 'SCHEMA_INVALID', send: () => postJson(w.relay.url, '/v1/receipts', '{"receipts":[]}') },
      {
        name: 'an unknown body field',
        status: 400,
        code: 'SCHEMA_INVALID',
        send: () => postJson(w.relay.url, '/v1/receipts', '{"receipts":[{}],"force":true}'),
      },
      {
        name: 'too many receipts',
        status: 400,
        code: 'SCHEMA_INVALID',
        send: () => postJson(w.relay.url, '/v1/receipts', JSON.stringify({ receipts: Array.from({ length: 1001 }, () => ({})) })),
      },
      {
        name: 'an unknown receipt field',
        status: 400,
        code: 'SCHEMA_INVALID',
        send: async () => {
          const r = await w.book.build('CARD_ADDED', { cardId: 'x1', artHash: artHash('x1') }, w.alice)
          return postReceipts(w.relay.url, [{ ...r, trusted: true }])
        },
        check: (e) => expect(e.message).toMatch(/trusted/),
      },
      {
        name: 'an unknown payload field (signed)',
        status: 400,
        code: 'SCHEMA_INVALID',
        send: async () => {
          const r = await w.book.build('CARD_ADDED', { cardId: 'x2', artHash: artHash('x2') }, w.alice)
          return postReceipts(w.relay.url, [await reseal(r, (c) => (c.payload.rarity = 'legendary'), w.alice.signer)])
        },
      },
      {
        name: 'a receipt type the stream does not accept',
        status: 400,
        code: 'SCHEMA_INVALID',
        send: async () => {
          const r = await w.book.build('CARD_ADDED', { cardId: 'x3', artHash: artHash('x3') }, w.alice)
          return postReceipts(w.relay.url, [await reseal(r, (c) => (c.type = 'MEMBER_ADDED'), w.alice.signer)])
        },
      },
      ...['..', '../x', '../../etc', 'a/b', '.', 'x\u0000y'].map((id) => ({
        name: `path traversal in a stream id (${JSON.stringify(id)})`,
        status: 400,
        code: 'SCHEMA_INVALID',
        send: async () => {
          const r = await w.book.build('CARD_ADDED', { cardId: 'pt', artHash: artHash('pt') }, w.alice)
          return postReceipts(w.relay.url, [await reseal(r, (c) => (c.stream.bookId = id), w.alice.signer)])
        },
      })),
      {
        name: 'path traversal in an identity stream id',
        status: 400,
        code: 'SCHEMA_INVALID',
        send: async () => {
          const evil = newIdentity('acc-evil', 'person', 'evil')
          const r = await identityCreated(evil)
          return postReceipts(w.relay.url, [
            await reseal(
              r,
              (c) => ((c.stream.identityId = '../../../tmp/pwned'), (c.issuer.identityId = '../../../tmp/pwned')),
              evil.signer,
            ),
          ])
        },
      },
      {
        name: 'schemaVersion 2',
        status: 400,
        code: 'SCHEMA_VERSION_UNSUPPORTED',
        send: async () => {
          const r = await w.book.build('CARD_ADDED', { cardId: 'v2', artHash: artHash('v2') }, w.alice)
          return postReceipts(w.relay.url, [{ ...r, schemaVersion: 2 }])
        },
      },
      {
        name: 'a receipt over 64 KiB',
        status: 413,
        code: 'RECEIPT_TOO_LARGE',
        send: async () => {
          const r = await w.book.build('PIXBOOK_SAVE', { snapshotHash: artHash('big') }, w.alice)
          return postReceipts(w.relay.url, [await reseal(r, (c) => (c.payload.note = 'x'.repeat(70_000)), w.alice.signer)])
        },
      },
      {
        name: 'a wrong hash',
        status: 422,
        code: 'HASH_MISMATCH',
        send: async () => {
          const r = await w.book.build('CARD_ADDED', { cardId: 'h', artHash: artHash('h') }, w.alice)
          return postReceipts(w.relay.url, [{ ...r, hash: 'sha256:' + '0'.repeat(64) }])
        },
      },
      {
        name: 'a body changed after signing (hash recomputed)',
        status: 422,
        code: 'SIGNATURE_INVALID',
        send: async () => {
          const r = await w.book.build('CARD_ADDED', { cardId: 'mine', artHash: artHash('mine') }, w.alice)
          const changed = { ...r, payload: { cardId: 'yours', artHash: artHash('mine') } }
          return postReceipts(w.relay.url, [{ ...changed, hash: sha256Ref(receiptCanonicalBytes(changed), nodeSha256) }])
        },
      },
      {
        name: 'a signature by another key under alice’s key id',
        status: 422,
        code: 'SIGNATURE_INVALID',
        send: async () => {
          const r = await w.book.build('CARD_ADDED', { cardId: 'sig', artHash: artHash('sig') }, w.alice)
          return postReceipts(w.relay.url, [{ ...r, signature: formatSignature(await newKey().signer.sign(receiptCanonicalBytes(r))) }])
        },
      },
      {
        name: 'a high-S signature',
        status: 422,
        code: 'SIGNATURE_NOT_CANONICAL',
        send: async () => {
          const r = await w.book.build('CARD_ADDED', { cardId: 's', artHash: artHash('s') }, w.alice)
          return postReceipts(w.relay.url, [{ ...r, signature: highS(r.signature) }])
        },
      },
      {
        name: 'a DER signature',
        status: 422,
        code: 'SIGNATURE_NOT_CANONICAL',
        send: async () => {
          const r = await w.book.build('CARD_ADDED', { cardId: 'der', artHash: artHash('der') }, w.alice)
          return postReceipts(w.relay.url, [
            { ...r, signature: 'ecdsa-p256:' + base64Encode(new Uint8Array([0x30, 0x44, ...new Uint8Array(68)])) },
          ])
        },
      },
      {
        name: 'a key alice never had',
        status: 422,
        code: 'KEY_UNKNOWN',
        send: async () =>
          postReceipts(w.relay.url, [
            await w.book.build('CARD_ADDED', { cardId: 'k', artHash: artHash('k') }, w.alice, { signer: newKey().signer }),
          ]),
      },
      {
        name: 'an identity the relay does not know',
        status: 422,
        code: 'KEY_UNKNOWN',
        send: async () =>
          postReceipts(w.relay.url, [await w.book.build('CARD_ADDED', { cardId: 'k2', artHash: artHash('k2') }, newIdentity(w.accountId))]),
      },
      {
        name: 'alice’s revoked key',
        status: 422,
        code: 'KEY_REVOKED',
        send: async () =>
          postReceipts(w.relay.url, [
            await w.book.build('CARD_ADDED', { cardId: 'old', artHash: artHash('old') }, w.alice, { signer: w.oldSigner }),
          ]),
      },
      {
        name: 'a pack issued by the owner instead of the platform issuer',
        status: 403,
        code: 'NOT_AUTHORIZED',
        send: async () =>
          postReceipts(w.relay.url, [
            await w.book.build('PACK_ISSUED', { packId: 'fake', cards: [{ cardId: 'c', artHash: artHash('c') }] }, w.alice),
          ]),
      },
      {
        name: 'a self-declared platform issuer (not in PLATFORM_ISSUERS)',
        status: 403,
        code: 'NOT_AUTHORIZED',
        send: async () => postReceipts(w.relay.url, [await identityCreated(newIdentity('pixpax-platform', 'issuer'))]),
      },
      {
        name: 'a card added by a member who does not own the book',
        status: 403,
        code: 'NOT_AUTHORIZED',
        send: async () => postReceipts(w.relay.url, [await w.book.build('CARD_ADDED', { cardId: 'b', artHash: artHash('b') }, w.bob)]),
      },
      {
        name: 'a second genesis (later in the stream)',
        status: 422,
        code: 'STREAM_RULE_VIOLATION',
        send: async () => postReceipts(w.relay.url, [await w.book.build('PIXBOOK_CREATED', { title: 'again' }, w.alice)]),
      },
      {
        name: 'a stream not opened by its genesis type',
        status: 422,
        code: 'STREAM_RULE_VIOLATION',
        send: async () =>
          postReceipts(w.relay.url, [
            await new StreamWriter(pixbookStream(w.accountId, 'book-none')).build(
              'CARD_ADDED',
              { cardId: 'n', artHash: artHash('n') },
              w.alice,
            ),
          ]),
      },
      {
        name: 'a predecessor that is not in the stream',
        status: 409,
        code: 'CHAIN_BROKEN',
        send: async () =>
          postReceipts(w.relay.url, [
            await w.book.build('CARD_ADDED', { cardId: 'cb', artHash: artHash('cb') }, w.alice, {
              prev: { eventId: '01KAAAAAAAAAAAAAAAAAAAAAAA', hash: artHash('nothing') },
            }),
          ]),
      },
      {
        name: 'the head named with another hash',
        status: 409,
        code: 'CHAIN_BROKEN',
        send: async () =>
          postReceipts(w.relay.url, [
            await w.book.build('CARD_ADDED', { cardId: 'cb2', artHash: artHash('cb2') }, w.alice, {
              prev: { eventId: w.book.head!.eventId, hash: artHash('wrong') },
            }),
          ]),
      },
      {
        name: 'a fork (a predecessor that already has a successor)',
        status: 409,
        code: 'CHAIN_CONFLICT',
        send: async () => {
          const book = await fetchStreamJson(w.relay.url, w.book.key, 1000, w.token)
          const prev = book.at(-2)!
          return postReceipts(w.relay.url, [
            await w.book.build('CARD_ADDED', { cardId: 'fork', artHash: artHash('fork') }, w.alice, {
              prev: { eventId: prev.eventId, hash: prev.hash },
            }),
          ])
        },
        check: (e) => expect(e.details).toEqual({ head: { eventId: w.book.head!.eventId, hash: w.book.head!.hash, seq: w.book.seq } }),
      },
      {
        name: 'a second first receipt',
        status: 409,
        code: 'CHAIN_CONFLICT',
        send: async () =>
          postReceipts(w.relay.url, [await w.book.build('PIXBOOK_CREATED', { title: 'first again' }, w.alice, { prev: null })]),
        check: (e) => expect(e.details).toEqual({ head: { eventId: w.book.head!.eventId, hash: w.book.head!.hash, seq: w.book.seq } }),
      },
      {
        name: 'a fork on the first receipt',
        status: 409,
        code: 'CHAIN_CONFLICT',
        send: async () => {
          const book = await fetchStreamJson(w.relay.url, w.book.key, 1000, w.token)
          return postReceipts(w.relay.url, [
            await w.book.build('CARD_ADDED', { cardId: 'rp', artHash: artHash('rp') }, w.alice, {
              prev: { eventId: book[0]!.eventId, hash: book[0]!.hash },
            }),
          ])
        },
        check: (e) =>
          expect((e.details as { head: unknown }).head).toEqual({
            eventId: w.book.head!.eventId,
            hash: w.book.head!.hash,
            seq: w.book.seq,
          }),
      },
      {
        name: 'an eventId not greater than its predecessor’s',
        status: 422,
        code: 'EVENT_ID_ORDER',
        send: async () =>
          postReceipts(w.relay.url, [
            await w.book.build('CARD_ADDED', { cardId: 'eo', artHash: artHash('eo') }, w.alice, { eventId: '00000000000000000000000000' }),
          ]),
      },
      {
        name: 'an eventId that is not a ULID',
        status: 422,
        code: 'EVENT_ID_ORDER',
        send: async () => {
          const r = await w.book.build('CARD_ADDED', { cardId: 'eo2', artHash: artHash('eo2') }, w.alice)
          return postReceipts(w.relay.url, [await reseal(r, (c) => (c.eventId = c.eventId.toLowerCase()), w.alice.signer)])
        },
      },
      {
        name: 'a reused idempotency key with another body',
        status: 409,
        code: 'IDEMPOTENCY_CONFLICT',
        send: async () => {
          const used = w.log.at(-1)!.idempotencyKey
          return postReceipts(w.relay.url, [
            await w.book.build('CARD_ADDED', { cardId: 'ik', artHash: artHash('ik') }, w.alice, { idempotencyKey: used }),
          ])
        },
        check: (e) => expect(e.details).toEqual({ previousHash: w.log.at(-1)!.hash }),
      },
      {
        name: 'text/plain',
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
        send: () =>
          http(`${w.relay.url}/v1/receipts`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"receipts":[{}]}' }),
      },
      {
        name: 'application/xml',
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
        send: () =>
          http(`${w.relay.url}/v1/receipts`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<receipts/>' }),
      },
      {
        name: 'a body over BODY_LIMIT_BYTES',
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
        send: () => postJson(w.relay.url, '/v1/receipts', JSON.stringify({ receipts: [{ payload: { note: 'x'.repeat(BODY_LIMIT) } }] })),
      },
      {
        name: 'a chunked body over BODY_LIMIT_BYTES (no content-length)',
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
        send: () => {
          const chunk = new TextEncoder().encode('x'.repeat(16_384))
          let sent = 0
          const body = new ReadableStream<Uint8Array>({
            pull(controller) {
              if (sent === 0) controller.enqueue(new TextEncoder().encode('{"receipts":[{"note":"'))
              if (sent > BODY_LIMIT * 2) {
                controller.enqueue(new TextEncoder().encode('"}]}'))
                controller.close()
                return
              }
              controller.enqueue(chunk)
              sent += chunk.length
            },
          })
          return http(`${w.relay.url}/v1/receipts`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            duplex: 'half',
          } as RequestInit)
        },
      },
      { name: 'an unknown route', status: 404, code: 'NOT_FOUND', send: () => http(`${w.relay.url}/v1/nope`) },
      {
        name: 'an unknown POST route',
        status: 404,
        code: 'NOT_FOUND',
        send: () => postJson(w.relay.url, '/v1/receipt', '{"receipts":[]}'),
      },
      {
        name: 'GET /v1/receipts with a traversal stream key',
        status: 400,
        code: 'BAD_REQUEST',
        send: () => http(`${w.relay.url}/v1/receipts?stream=${encodeURIComponent('pixbook/../x')}`),
      },
      {
        name: 'GET /v1/receipts with an unknown query parameter',
        status: 400,
        code: 'BAD_REQUEST',
        send: () => http(`${w.relay.url}/v1/receipts?stream=${encodeURIComponent(w.book.key)}&evil=1`),
      },
      {
        name: 'a pixbook path with traversal',
        status: 404,
        code: 'NOT_FOUND',
        send: () => http(`${w.relay.url}/v1/pixbooks/..%2F..%2Fetc/passwd`),
      },
      { name: 'an unknown identity', status: 404, code: 'NOT_FOUND', send: () => http(`${w.relay.url}/v1/identities/nobody-here`) },
    ]

    it.each(rejections)('rejects $name: $status $code, envelope, nothing stored changes', async (c) => {
      const before = await snapshot(w)
      const res = await c.send()
      const error = expectEnvelope(res, c.status, c.code)
      c.check?.(error)
      if (res.json.results) {
        // A receipt-level rejection lists each receipt's outcome too.
        expect(res.json.results).toHaveLength(1)
        expect(res.json.results[0]).toMatchObject({ ok: false, error: { code: c.code } })
      }
      expect(await snapshot(w)).toEqual(before)
    })

    it('serves a private pixbook stream only to a session that may read it', async () => {
      const url = `${w.relay.url}/v1/receipts?stream=${encodeURIComponent(w.book.key)}`
      expectEnvelope(await http(url), 401, 'UNAUTHENTICATED')
      expectEnvelope(await http(url, { headers: { authorization: 'Bearer not-a-token' } }), 401, 'UNAUTHENTICATED')
      const stranger = newIdentity('acc-stranger')
      await appendOk(w.relay.url, [await identityCreated(stranger)])
      expectEnvelope(
        await http(url, { headers: { authorization: `Bearer ${await openSession(w.relay.url, stranger)}` } }),
        403,
        'FORBIDDEN',
      )
      // Bob is a member of the account: he may read it.
      const bobs = await http<{ receipts: unknown[] }>(url, {
        headers: { authorization: `Bearer ${await openSession(w.relay.url, w.bob)}` },
      })
      expect(bobs.status).toBe(200)
      expect(bobs.json.receipts).toHaveLength(w.book.seq)
    })

    it('echoes x-request-id on success and on errors, and makes one up otherwise', async () => {
      const ok = await http(`${w.relay.url}/v1/relay`, { headers: { 'x-request-id': 'trace-123.abc:xyz' } })
      expect(ok.headers.get('x-request-id')).toBe('trace-123.abc:xyz')
      const bad = await postJson(w.relay.url, '/v1/receipts', '{', { 'x-request-id': 'client-req-42' })
      expect(expectEnvelope(bad, 400, 'JSON_INVALID').requestId).toBe('client-req-42')
      const insane = await postJson(w.relay.url, '/v1/receipts', '{', { 'x-request-id': 'spaces and / slashes' })
      expect(expectEnvelope(insane, 400, 'JSON_INVALID').requestId).toMatch(/^req-/)
      const none = await http(`${w.relay.url}/v1/nope`)
      expect(expectEnvelope(none, 404, 'NOT_FOUND').requestId).toMatch(/^req-/)
    })

    it('a rejection in a batch still reports the receipts before it, which are accepted', async () => {
      const good = await w.book.build('CARD_ADDED', { cardId: 'batch-1', artHash: artHash('batch-1') }, w.alice)
      const bad = await w.book.build('CARD_ADDED', { cardId: 'batch-2', artHash: artHash('batch-2') }, w.alice, {
        prev: { eventId: good.eventId, hash: good.hash },
        signer: w.oldSigner,
      })
      const res = await postReceipts(w.relay.url, [good, bad])
      expectEnvelope(res, 422, 'KEY_REVOKED')
      expect(res.json.results![0]).toMatchObject({ ok: true, eventId: good.eventId, seq: w.book.seq + 1 })
      expect(res.json.results![1]).toMatchObject({ ok: false, eventId: bad.eventId, error: { code: 'KEY_REVOKED' } })
      expect(await ackProblem((res.json.results![0] as AcceptedJson).ack, w.info)).toBeUndefined()
      w.book.advance(good, (res.json.results![0] as AcceptedJson).seq)
      w.log.push(good)
      w.results.push(res.json.results![0] as AcceptedJson)
    })

    it('answers an idempotent retry with the identical first result, also after a restart on the same db and store', async () => {
      const receipt = await w.book.build('CARD_ADDED', { cardId: 'retry-me', artHash: artHash('retry') }, w.alice)
      const first = await postReceipts(w.relay.url, [receipt])
      expect(first.status).toBe(200)
      w.book.advance(receipt, (first.json.results![0] as AcceptedJson).seq)
      w.log.push(receipt)
      const before = await snapshot(w)
      const again = await postReceipts(w.relay.url, [receipt])
      expect(again.status).toBe(200)
      expect(again.json).toEqual(first.json)
      // An earlier receipt too (its ack is the one signed back then, byte for byte).
      const old = await postReceipts(w.relay.url, [w.log[4]!])
      expect(old.json.results).toEqual([w.results[4]])
      expect(await snapshot(w)).toEqual(before)

      await w.relay.close()
      w.relay = await openRelay(db, store, w.platform.identityId, w.relay)
      const afterRestart = await postReceipts(w.relay.url, [receipt])
      expect(afterRestart.status).toBe(200)
      expect(afterRestart.json).toEqual(first.json)
      // The same relay key after the restart; the stored state is unchanged by the retries.
      expect((await http<RelayInfo>(`${w.relay.url}/v1/relay`)).json).toEqual(w.info)
      expect(await snapshot(w)).toEqual(before)
      // And the chain goes on from there.
      const next = await w.book.build('CARD_REMOVED', { cardId: 'retry-me', reason: 'discarded' }, w.alice)
      const res = await appendVia(w.relay.url, w.book, next)
      expect(res.seq).toBe(w.book.seq)
      expect(await ackProblem(res.ack, w.info)).toBeUndefined()
    }, 30_000)

    it('two racing appends on one head: one is accepted, the other gets CHAIN_CONFLICT with the new head', async () => {
      const a = await w.book.build('CARD_ADDED', { cardId: 'race-a', artHash: artHash('race-a') }, w.alice)
      const b = await w.book.build('CARD_ADDED', { cardId: 'race-b', artHash: artHash('race-b') }, w.alice)
      const [ra, rb] = await Promise.all([postReceipts(w.relay.url, [a]), postReceipts(w.relay.url, [b])])
      const winner = ra.status === 200 ? { res: ra, r: a } : { res: rb, r: b }
      const loser = ra.status === 200 ? rb : ra
      expect([ra.status, rb.status].sort()).toEqual([200, 409])
      const seq = (winner.res.json.results![0] as AcceptedJson).seq
      expect(expectEnvelope(loser, 409, 'CHAIN_CONFLICT').details).toEqual({
        head: { eventId: winner.r.eventId, hash: winner.r.hash, seq },
      })
      w.book.advance(winner.r, seq)
      w.log.push(winner.r)
      const objects = await listAll(w.relay.deps.store, streamEventsPrefix(w.book.stream))
      expect(objects).toHaveLength(w.book.seq)
    })
  })
}

fullSuite('pg', 'fs')
fullSuite('pg', 's3')

describe('relay over HTTP (pglite + fs, smoke)', () => {
  let w: World
  beforeAll(async () => {
    w = await buildWorld('pglite', 'fs')
  }, 60_000)
  afterAll(async () => {
    await w?.relay.close()
  })

  it('accepts a valid world, acks verify, and the served chain verifies', async () => {
    for (const result of w.results) expect(await ackProblem(result.ack, w.info)).toBeUndefined()
    const lines: string[] = []
    for (const key of [w.aliceIdentity.key, `identity/${w.bob.identityId}`, `identity/${w.platform.identityId}`, w.account.key, w.book.key])
      lines.push(...(await fetchStreamLines(w.relay.url, key, 1000, w.token)))
    const byId = new Map(lines.map((l) => [(JSON.parse(l) as Receipt).eventId, l]))
    const { problems, summary } = await verifyLines(
      w.log.map((r) => byId.get(r.eventId)!),
      { platformIssuers: [w.platform.identityId] },
    )
    expect(problems).toEqual([])
    expect(summary.receipts).toBe(w.log.length)
  })

  it('rejects with envelopes and changes nothing; retries are idempotent across a restart', async () => {
    const before = await snapshot(w)
    const conflict = await postReceipts(w.relay.url, [
      await w.book.build('CARD_ADDED', { cardId: 'c', artHash: artHash('c') }, w.alice, { prev: null }),
    ])
    expect(expectEnvelope(conflict, 409, 'CHAIN_CONFLICT').details).toEqual({
      head: { eventId: w.book.head!.eventId, hash: w.book.head!.hash, seq: w.book.seq },
    })
    expectEnvelope(await postJson(w.relay.url, '/v1/receipts', '{"a":1,"a":2}'), 400, 'DUPLICATE_KEY')
    expectEnvelope(
      await http(`${w.relay.url}/v1/receipts`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    )
    expectEnvelope(await postJson(w.relay.url, '/v1/receipts', 'x'.repeat(BODY_LIMIT + 1)), 413, 'PAYLOAD_TOO_LARGE')
    expectEnvelope(await http(`${w.relay.url}/nope`), 404, 'NOT_FOUND')
    expect(await snapshot(w)).toEqual(before)

    const retry = await postReceipts(w.relay.url, [w.log.at(-1)!])
    expect(retry.json.results).toEqual([w.results.at(-1)])
    await w.relay.close()
    w.relay = await openRelay('pglite', 'fs', w.platform.identityId, w.relay)
    const afterRestart = await postReceipts(w.relay.url, [w.log.at(-1)!])
    expect(afterRestart.json.results).toEqual([w.results.at(-1)])
    expect(await snapshot(w)).toEqual(before)
  }, 30_000)
})
