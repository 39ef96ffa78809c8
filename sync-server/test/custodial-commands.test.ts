import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { canonicalBytes, ChainVerifier, parseReceipt, parseSignature, type PublicJwk, type Receipt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Ack } from '../src/ingest/ack.js'
import { bearer, errorOf, sha256Hex, startTestRelay, TestClient, type TestRelay } from './support/auth-fixtures.js'

let relay: TestRelay
let alice: TestClient
let bob: TestClient
let aliceToken: string
let bobToken: string
const BOOK = '/v1/pixbooks/acc-a/book-1/commands'

interface CommandResult {
  eventId: string
  seq: number
  hash: string
  ack: Ack
  receipt: Receipt
}

function command(
  name: string,
  body: unknown,
  token = aliceToken,
  headers: Record<string, string> = {},
  book = BOOK,
): Promise<LightMyRequestResponse> {
  return relay.app.inject({
    method: 'POST',
    url: `${book}/${name}`,
    headers: { ...bearer(token), ...headers },
    payload: body as Record<string, unknown>,
  })
}

async function commandOk(
  name: string,
  body: unknown,
  token = aliceToken,
  headers: Record<string, string> = {},
  book = BOOK,
): Promise<CommandResult> {
  const response = await command(name, body, token, headers, book)
  if (response.statusCode !== 200) throw new Error(`${name}: ${response.statusCode} ${response.body}`)
  return response.json<CommandResult>()
}

async function custodialKey(client: TestClient, token: string): Promise<{ publicKey: PublicJwk; publicKeyId: string; status: string }> {
  const response = await relay.app.inject({
    method: 'GET',
    url: `/v1/identities/${client.identityId}/custodial-key`,
    headers: bearer(token),
  })
  expect(response.statusCode).toBe(200)
  return response.json()
}

/** Every receipt of a stream, as stored (canonical text), through the public query API. */
async function fetchStream(stream: string, token?: string): Promise<string[]> {
  const response = await relay.app.inject({
    method: 'GET',
    url: `/v1/receipts?stream=${stream}&limit=1000`,
    headers: { accept: 'application/x-ndjson', ...(token ? bearer(token) : {}) },
  })
  expect(response.statusCode).toBe(200)
  return response.body.split('\n').filter(Boolean)
}

beforeAll(async () => {
  relay = await startTestRelay()
  alice = new TestClient(relay.app, 'alice', 'acc-a')
  bob = new TestClient(relay.app, 'bob', 'acc-b')
  await alice.createIdentity()
  await bob.createIdentity()
  aliceToken = await alice.login()
  bobToken = await bob.login()
})
afterAll(async () => {
  await relay?.close()
})

describe('custodial key registration', () => {
  it('a command needs a session', async () => {
    const response = await relay.app.inject({ method: 'POST', url: `${BOOK}/create`, payload: { payload: { title: 'x' } } })
    expect(response.statusCode).toBe(401)
    expect(errorOf(response).code).toBe('UNAUTHENTICATED')
  })

  it('a command before the custodial key is registered is 422 KEY_UNKNOWN', async () => {
    const response = await command('create', { payload: { title: 'My book' } })
    expect(response.statusCode).toBe(422)
    expect(errorOf(response).code).toBe('KEY_UNKNOWN')
    expect(errorOf(response).message).toContain('custodial-key')
  })

  it("only the identity's own session may get its custodial key", async () => {
    const response = await relay.app.inject({ method: 'GET', url: '/v1/identities/alice/custodial-key', headers: bearer(bobToken) })
    expect(response.statusCode).toBe(403)
    expect(errorOf(response).code).toBe('FORBIDDEN')
  })

  it('creates one key per identity, in a 0600 file, and reports its registration', async () => {
    const first = await custodialKey(alice, aliceToken)
    expect(first.status).toBe('unregistered')
    expect((await custodialKey(alice, aliceToken)).publicKeyId).toBe(first.publicKeyId)
    const file = await stat(join(relay.dataDir, 'custodial', 'alice.jwk'))
    expect(file.mode & 0o777).toBe(0o600)
    expect((await stat(join(relay.dataDir, 'custodial'))).mode & 0o777).toBe(0o700)

    // The identity signs the KEY_ADDED itself, with a key it holds, like any receipt.
    await alice.addKey(first.publicKey)
    expect((await custodialKey(alice, aliceToken)).status).toBe('active')
  })
})

describe('custodial commands', () => {
  it('every pixbook command builds, signs and appends its receipt type', async () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['create', { title: 'My book', description: 'kept by the relay' }, 'PIXBOOK_CREATED'],
      ['save', { snapshotHash: sha256Hex('1'), note: 'first save' }, 'PIXBOOK_SAVE'],
      ['add-card', { cardId: 'card-1', artHash: sha256Hex('2') }, 'CARD_ADDED'],
      ['open-pack', { packId: 'pack-1' }, 'PACK_OPENED'],
      ['remove-card', { cardId: 'card-1', reason: 'discarded' }, 'CARD_REMOVED'],
    ]
    const key = await custodialKey(alice, aliceToken)
    for (const [i, [name, payload, type]] of cases.entries()) {
      const result = await commandOk(name, { payload })
      expect(result.eventId).toBe(result.receipt.eventId)
      expect(result.seq).toBe(i + 1)
      expect(result.receipt).toMatchObject({
        type,
        payload,
        issuer: { identityId: 'alice', publicKeyId: key.publicKeyId },
        stream: { type: 'pixbook', accountId: 'acc-a', bookId: 'book-1' },
      })
      expect(result.ack).toMatchObject({ stream: 'pixbook/acc-a/book-1', seq: i + 1, eventId: result.eventId, hash: result.hash })
    }
    const book = await relay.app.inject({ method: 'GET', url: '/v1/pixbooks/acc-a/book-1', headers: bearer(aliceToken) })
    expect(book.json()).toMatchObject({ ownerIdentityId: 'alice', title: 'My book', cardCount: 0, head: { seq: cases.length } })
  })

  it('trade commands reach the economy rules: an offer of a card the book does not hold, an acceptance of no offer', async () => {
    // Card instances come from packs (docs/economy.md); custodial trade commands are decided like any receipt.
    const offer = await command('offer-trade', { payload: { tradeId: 't1', cardId: 'card-1', to: { accountId: 'acc-b', bookId: 'b' } } })
    expect(offer.statusCode).toBe(422)
    expect(errorOf(offer)).toMatchObject({ code: 'DOMAIN_RULE_VIOLATION', details: { rule: 'card_not_owned' } })
    const accept = await command('accept-trade', {
      payload: {
        tradeId: 't2',
        from: { accountId: 'acc-b', bookId: 'b' },
        offerEventId: '01JAAAAAAAAAAAAAAAAAAAAAAA',
        offerHash: sha256Hex('3'),
      },
    })
    expect(errorOf(accept)).toMatchObject({ code: 'DOMAIN_RULE_VIOLATION', details: { rule: 'trade_not_open' } })
    for (const [name, payload] of [
      ['cancel-trade', { tradeId: 't1' }],
      ['decline-trade', { tradeId: 't3', from: { accountId: 'acc-b', bookId: 'b' } }],
    ] as const) {
      expect(errorOf(await command(name, { payload }))).toMatchObject({
        code: 'DOMAIN_RULE_VIOLATION',
        details: { rule: 'trade_not_open' },
      })
    }
  })

  it('end to end: the stream verifies with ChainVerifier, each ack under the relay key', async () => {
    const save = await commandOk('save', { payload: { snapshotHash: sha256Hex('4') } })
    const identity = await fetchStream('identity/alice')
    const book = await fetchStream('pixbook/acc-a/book-1', aliceToken)
    const verifier = new ChainVerifier({ verifier: nodeVerifier(), sha256: nodeSha256 })
    for (const text of [...identity, ...book]) {
      const verdict = await verifier.add(text)
      expect(verdict, text).toMatchObject({ ok: true })
    }
    expect(verifier.summary().streams['pixbook/acc-a/book-1']).toMatchObject({
      count: book.length,
      head: save.hash,
      headEventId: save.eventId,
    })
    // The stored receipt is byte for byte what the command returned.
    expect(parseReceipt(book.at(-1)!).receipt).toEqual(save.receipt)

    const relayInfo = (await relay.app.inject({ method: 'GET', url: '/v1/relay' })).json<{ publicKey: PublicJwk; publicKeyId: string }>()
    const { signature, ...ackBody } = save.ack
    expect(ackBody.relayKeyId).toBe(relayInfo.publicKeyId)
    expect(await nodeVerifier().verify(relayInfo.publicKey, canonicalBytes(ackBody), parseSignature(signature))).toBe(true)
  })

  it('the same idempotency key returns the first result, never a second receipt', async () => {
    const body = { payload: { snapshotHash: sha256Hex('5') } }
    const first = await commandOk('save', body, aliceToken, { 'idempotency-key': 'save-once-1' })
    const again = await commandOk('save', body, aliceToken, { 'idempotency-key': 'save-once-1' })
    expect(again).toEqual(first)
    const inBody = await commandOk('save', { ...body, idempotencyKey: 'save-once-1' })
    expect(inBody).toEqual(first)
    expect(first.receipt.idempotencyKey).toBe('save-once-1')
    const head = await relay.db.query<{ seq: number }>("SELECT seq FROM streams WHERE stream_key = 'pixbook/acc-a/book-1'")
    expect(head.rows[0]!.seq).toBe(first.seq)
  })

  it('the same idempotency key for another command is 409 IDEMPOTENCY_CONFLICT; header and body must agree', async () => {
    await commandOk('add-card', { payload: { cardId: 'k1', artHash: sha256Hex('6') }, idempotencyKey: 'card-k1' })
    const other = await command('add-card', { payload: { cardId: 'k2', artHash: sha256Hex('6') }, idempotencyKey: 'card-k1' })
    expect(other.statusCode).toBe(409)
    expect(errorOf(other).code).toBe('IDEMPOTENCY_CONFLICT')
    const mismatch = await command('save', { payload: { snapshotHash: sha256Hex('7') }, idempotencyKey: 'a' }, aliceToken, {
      'idempotency-key': 'b',
    })
    expect(mismatch.statusCode).toBe(400)
    expect(errorOf(mismatch).code).toBe('BAD_REQUEST')
  })

  it('concurrent commands on one stream all land, rebuilt on the new head after a CHAIN_CONFLICT', async () => {
    const ingestor = relay.app.relay.ingestor
    const original = ingestor.ingest.bind(ingestor)
    const codes: string[] = []
    ingestor.ingest = async (values) => {
      const out = await original(values)
      codes.push(...out.map((r) => (r.ok ? 'ok' : r.error.code)))
      return out
    }
    let results: CommandResult[]
    try {
      results = await Promise.all(
        [1, 2, 3, 4, 5].map((n) => commandOk('add-card', { payload: { cardId: `c-${n}`, artHash: sha256Hex('8') } })),
      )
    } finally {
      ingestor.ingest = original
    }
    expect(codes.filter((c) => c === 'ok')).toHaveLength(5)
    expect(codes).toContain('CHAIN_CONFLICT') // the retry path really ran
    const seqs = results.map((r) => r.seq).sort((a, b) => a - b)
    expect(new Set(seqs).size).toBe(5)
    expect(seqs[4]! - seqs[0]!).toBe(4)
    const verifier = new ChainVerifier({ verifier: nodeVerifier(), sha256: nodeSha256 })
    for (const text of [...(await fetchStream('identity/alice')), ...(await fetchStream('pixbook/acc-a/book-1', aliceToken))]) {
      expect(await verifier.add(text)).toMatchObject({ ok: true })
    }
  })

  it('concurrent retries with one idempotency key get one receipt', async () => {
    const body = { payload: { cardId: 'same', artHash: sha256Hex('9') }, idempotencyKey: 'concurrent-same' }
    const results = await Promise.all([1, 2, 3].map(() => commandOk('add-card', body)))
    expect(new Set(results.map((r) => r.eventId)).size).toBe(1)
    const rows = await relay.db.query<{ n: number }>("SELECT count(*)::int AS n FROM receipts WHERE idempotency_key = 'concurrent-same'")
    expect(rows.rows[0]!.n).toBe(1)
  })

  it('a command interleaved with a client-signed receipt chains after it', async () => {
    // alice also has her own key: she appends directly, then commands again.
    const head = (
      await relay.db.query<{ head_event_id: string; head_hash: string }>(
        "SELECT head_event_id, head_hash FROM streams WHERE stream_key = 'pixbook/acc-a/book-1'",
      )
    ).rows[0]!
    alice.heads.set('pixbook/acc-a/book-1', { eventId: head.head_event_id, hash: head.head_hash })
    const own = await alice.appendOk({ type: 'pixbook', accountId: 'acc-a', bookId: 'book-1' }, 'PIXBOOK_SAVE', {
      snapshotHash: sha256Hex('a'),
    })
    const next = await commandOk('save', { payload: { snapshotHash: sha256Hex('b') } })
    expect(next.receipt.prevEventId).toBe(own.eventId)
    expect(next.receipt.prevHash).toBe(own.hash)
  })

  it('the stream rules still apply: another identity may not write alice’s book (403 NOT_AUTHORIZED)', async () => {
    const bobKey = await custodialKey(bob, bobToken)
    await bob.addKey(bobKey.publicKey)
    const response = await command('save', { payload: { snapshotHash: sha256Hex('c') } }, bobToken)
    expect(response.statusCode).toBe(403)
    expect(errorOf(response).code).toBe('NOT_AUTHORIZED')
    // …nor create a book in alice's account.
    const create = await command('create', { payload: { title: 'not mine' } }, bobToken, {}, '/v1/pixbooks/acc-a/bobs/commands')
    expect(create.statusCode).toBe(403)
  })

  it('create on an existing book is 409 CHAIN_CONFLICT; a command on a missing book is STREAM_RULE_VIOLATION', async () => {
    const again = await command('create', { payload: { title: 'again' } })
    expect(again.statusCode).toBe(409)
    expect(errorOf(again).code).toBe('CHAIN_CONFLICT')
    expect((errorOf(again).details?.head as { seq: number }).seq).toBeGreaterThan(1)
    const missing = await command('save', { payload: { snapshotHash: sha256Hex('d') } }, aliceToken, {}, '/v1/pixbooks/acc-a/nope/commands')
    expect(missing.statusCode).toBe(422)
    expect(errorOf(missing).code).toBe('STREAM_RULE_VIOLATION')
  })

  it('validates the body against the receipt type’s payload schema', async () => {
    const bad = await command('save', { payload: { snapshotHash: 'nope' } })
    expect(bad.statusCode).toBe(400)
    expect(errorOf(bad)).toMatchObject({ code: 'SCHEMA_INVALID', details: { path: 'payload.snapshotHash' } })
    const extra = await command('save', { payload: { snapshotHash: sha256Hex('e') }, extra: true })
    expect(errorOf(extra).code).toBe('SCHEMA_INVALID')
    const float = await relay.app.inject({
      method: 'POST',
      url: `${BOOK}/add-card`,
      headers: { ...bearer(aliceToken), 'content-type': 'application/json' },
      payload: '{"payload":{"cardId":"x","artHash":"' + sha256Hex('f') + '","n":1.5}}',
    })
    expect(errorOf(float).code).toBe('SCHEMA_INVALID')
    expect((await command('no-such-command', { payload: {} })).statusCode).toBe(404)
  })

  it('a revoked custodial key stops commands (422 KEY_REVOKED)', async () => {
    const bobKey = await custodialKey(bob, bobToken)
    await bob.revokeKey(bobKey.publicKeyId)
    expect((await custodialKey(bob, bobToken)).status).toBe('revoked')
    const response = await command('create', { payload: { title: 'b' } }, bobToken, {}, '/v1/pixbooks/acc-b/b1/commands')
    expect(response.statusCode).toBe(422)
    expect(errorOf(response).code).toBe('KEY_REVOKED')
  })
})
