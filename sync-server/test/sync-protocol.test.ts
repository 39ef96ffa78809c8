import {
  base64Decode,
  leafData,
  leafHash,
  verifyConsistency,
  verifyMultiInclusion,
  verifySignedCheckpoint,
  buildReceipt,
  canonicalBytes,
  formatSignature,
  generatePrivateJwk,
  type ChainHead,
  type Receipt,
  type ServerMessage,
  type Signer,
} from '@pixpax/shared'
import { nodeSha256, nodeSigner, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startTestRelay, type TestRelay } from '../src/testing.js'

/** A tiny protocol client: queues every server message, lets a test wait for one matching a predicate. */
class Client {
  readonly messages: ServerMessage[] = []
  private waiters: Array<{ match: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }> = []
  closeCode: number | undefined
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse((data as Buffer).toString()) as ServerMessage
      this.messages.push(m)
      this.waiters = this.waiters.filter((w) => (w.match(m) ? (w.resolve(m), false) : true))
    })
    ws.on('close', (code) => (this.closeCode = code))
  }
  static async connect(url: string): Promise<Client> {
    const ws = new WebSocket(url)
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject))
    return new Client(ws)
  }
  send(m: unknown): void {
    this.ws.send(typeof m === 'string' ? m : JSON.stringify(m))
  }
  next(match: (m: ServerMessage) => boolean, timeoutMs = 5000): Promise<ServerMessage> {
    const found = this.messages.find(match)
    if (found) {
      this.messages.splice(this.messages.indexOf(found), 1)
      return Promise.resolve(found)
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for a message; have: ${JSON.stringify(this.messages).slice(0, 500)}`)),
        timeoutMs,
      )
      this.waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer)
          this.messages.splice(this.messages.indexOf(m), 1)
          resolve(m)
        },
      })
    })
  }
  /** Collects delivered receipts of a stream until `count` have arrived. */
  async receipts(stream: string, count: number): Promise<Array<{ seq: number; receipt: Receipt }>> {
    const out: Array<{ seq: number; receipt: Receipt }> = []
    while (out.length < count) {
      const m = await this.next((x) => x.type === 'receipts' && x.stream === stream)
      if (m.type === 'receipts') out.push(...(m.receipts as Array<{ seq: number; receipt: Receipt }>))
    }
    return out
  }
  close(): void {
    this.ws.close()
  }
}

describe('sync protocol over a real socket (PGlite + fs)', () => {
  let relay: TestRelay
  let url: string
  let signer: Signer
  const identityId = 'sync-alice'
  const book = { type: 'pixbook', accountId: 'acc-sync', bookId: 'book-1' }
  const bookKey = 'pixbook/acc-sync/book-1'
  let head: ChainHead | null = null

  async function next(type: string, payload: Record<string, unknown>): Promise<Receipt> {
    const r = await buildReceipt({ stream: book, type, payload, identityId, signer, prev: head, sha256: nodeSha256 })
    head = { eventId: r.eventId, hash: r.hash }
    return r
  }
  let token = ''
  const http = () => url.replace('ws', 'http').replace('/v1/sync', '')
  /** A session by signed challenge (docs/auth.md): pixbook streams are private. */
  async function login(): Promise<string> {
    const challenge = (await (
      await fetch(`${http()}/v1/auth/challenge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    ).json()) as { nonce: string }
    const relay = (await (await fetch(`${http()}/v1/relay`)).json()) as { identityId: string }
    const message = canonicalBytes({ purpose: 'pixpax-session', nonce: challenge.nonce, identityId, relay: relay.identityId })
    const res = await fetch(`${http()}/v1/auth/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        identityId,
        publicKeyId: signer.publicKeyId,
        nonce: challenge.nonce,
        signature: formatSignature(await signer.sign(message)),
      }),
    })
    expect(res.status).toBe(200)
    return ((await res.json()) as { token: string }).token
  }
  async function post(receipts: Receipt[]): Promise<void> {
    const res = await fetch(`${url.replace('ws', 'http').replace('/v1/sync', '')}/v1/receipts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ receipts }),
    })
    expect(res.status).toBe(200)
  }

  beforeAll(async () => {
    signer = nodeSigner(generatePrivateJwk())
    relay = await startTestRelay()
    url = `${relay.url.replace('http', 'ws')}/v1/sync`
    const identity = await buildReceipt({
      stream: { type: 'identity', identityId },
      type: 'IDENTITY_CREATED',
      payload: { publicKey: signer.publicKey, accountId: 'acc-sync', kind: 'person' },
      identityId,
      signer,
      prev: null,
    })
    await post([identity, await next('PIXBOOK_CREATED', { title: 'sync' })])
    token = await login()
  })
  afterAll(async () => relay.close())

  it('refuses anything before hello, and unknown protocol versions', async () => {
    const c = await Client.connect(url)
    c.send({ type: 'subscribe', streams: [{ key: bookKey }] })
    const err = await c.next((m) => m.type === 'error')
    expect(err).toMatchObject({ type: 'error', code: 'PROTOCOL_ERROR', fatal: true })
    const v2 = await Client.connect(url)
    v2.send({ type: 'hello', v: 2 })
    expect(await v2.next((m) => m.type === 'error')).toMatchObject({ code: 'PROTOCOL_ERROR', fatal: true })
    const junk = await Client.connect(url)
    junk.send('{"type":"hello","v":1,"v":1}')
    expect(await junk.next((m) => m.type === 'error')).toMatchObject({ code: 'DUPLICATE_KEY' })
    for (const x of [c, v2, junk]) x.close()
  })

  it('catches up, goes live, and resumes after a reconnect with no gap and no duplicate', async () => {
    const anonymous = await Client.connect(url)
    anonymous.send({ type: 'hello', v: 1 })
    expect(await anonymous.next((m) => m.type === 'welcome')).toMatchObject({ v: 1, session: null })
    anonymous.send({ type: 'subscribe', id: 'a', streams: [{ key: bookKey }] })
    expect(await anonymous.next((m) => m.type === 'error')).toMatchObject({ id: 'a', code: 'UNAUTHENTICATED', fatal: false })
    anonymous.close()
    const bad = await Client.connect(url)
    bad.send({ type: 'hello', v: 1, token: 'not-a-token' })
    expect(await bad.next((m) => m.type === 'error')).toMatchObject({ code: 'UNAUTHENTICATED', fatal: true })
    const c = await Client.connect(url)
    c.send({ type: 'hello', v: 1, token })
    expect(await c.next((m) => m.type === 'welcome')).toMatchObject({ v: 1, session: { identityId } })
    c.send({ type: 'subscribe', id: 's1', streams: [{ key: bookKey }] })
    const first = await c.receipts(bookKey, 1)
    expect(first.map((r) => r.seq)).toEqual([1])
    expect(await c.next((m) => m.type === 'caught-up')).toMatchObject({ stream: bookKey, head: { seq: 1 } })
    // Live: receipts posted over HTTP arrive in order.
    const batch = []
    for (let i = 0; i < 5; i++) batch.push(await next('CARD_ADDED', { cardId: `c${i}`, artHash: 'sha256:' + 'ab'.repeat(32) }))
    await post(batch.slice(0, 2))
    await post(batch.slice(2))
    const live = await c.receipts(bookKey, 5)
    expect(live.map((r) => r.seq)).toEqual([2, 3, 4, 5, 6])
    expect(live.map((r) => r.receipt.eventId)).toEqual(batch.map((r) => r.eventId))
    c.close()
    // Offline meanwhile; resume from the last eventId seen.
    await post([await next('CARD_ADDED', { cardId: 'c9', artHash: 'sha256:' + 'cd'.repeat(32) })])
    const again = await Client.connect(url)
    again.send({ type: 'hello', v: 1, token })
    again.send({ type: 'subscribe', streams: [{ key: bookKey, after: live[4]!.receipt.eventId }] })
    const resumed = await again.receipts(bookKey, 1)
    expect(resumed.map((r) => r.seq)).toEqual([7])
    again.close()
  })

  it('pushes over the socket with per-receipt results, same codes as HTTP', async () => {
    const c = await Client.connect(url)
    c.send({ type: 'hello', v: 1, token })
    await c.next((m) => m.type === 'welcome')
    const good = await next('CARD_ADDED', { cardId: 'p1', artHash: 'sha256:' + 'ef'.repeat(32) })
    const fork = { ...good, payload: { ...good.payload } }
    c.send({ type: 'push', id: 'p', receipts: [good, { ...fork, hash: 'sha256:' + '00'.repeat(32) }] })
    const result = await c.next((m) => m.type === 'push-result')
    expect(result).toMatchObject({
      id: 'p',
      results: [
        { ok: true, seq: 8 },
        { ok: false, error: { code: 'HASH_MISMATCH' } },
      ],
    })
    c.send({ type: 'heads', id: 'h', streams: [bookKey, 'identity/nobody'] })
    expect(await c.next((m) => m.type === 'heads')).toMatchObject({ heads: { [bookKey]: { seq: 8 }, 'identity/nobody': null } })
    c.send({ type: 'heads', id: 'h2', streams: ['pixbook/acc-other/book'] })
    expect(await c.next((m) => m.type === 'error')).toMatchObject({ id: 'h2', code: 'FORBIDDEN', fatal: false })
    c.close()
  })
  it('sends its checkpoint after welcome and with every batch, proves each batch in it, and proves growth consistent', async () => {
    const http = url.replace('ws', 'http').replace('/v1/sync', '')
    const relayKey = (await (await fetch(`${http}/v1/relay`)).json()) as {
      publicKey: Parameters<typeof verifySignedCheckpoint>[1]['publicKey']
    }
    const key = { name: 'pixpax.local/log', publicKey: relayKey.publicKey }
    const served = await (await fetch(`${http}/v1/log/checkpoint`)).text()
    const held = await verifySignedCheckpoint(served, key, nodeVerifier())
    const c = await Client.connect(url)
    c.send({ type: 'hello', v: 1, token })
    const first = await c.next((m) => m.type === 'checkpoint')
    expect(first).toEqual({ type: 'checkpoint', checkpoint: { note: served } }) // nothing held yet: no proof
    c.send({ type: 'subscribe', streams: [{ key: bookKey }] })
    const batch = await c.next((m) => m.type === 'receipts' && m.stream === bookKey)
    if (batch.type !== 'receipts') throw new Error('expected receipts')
    expect(batch.checkpoint.note).toBe(served)
    const leaves = batch.receipts.map((d) => {
      const r = d.receipt as Receipt
      return leafHash(nodeSha256, leafData({ eventId: r.eventId, hash: r.hash, seq: d.seq, stream: bookKey }))
    })
    const positions = batch.receipts.map((d) => d.position)
    const proof = batch.proof.map((h) => base64Decode(h)!)
    expect(verifyMultiInclusion(nodeSha256, positions, leaves, held.size, proof, held.root)).toBe(true)
    c.close()
    // A client holding that checkpoint reconnects; the log grows; what it is sent is proven to extend it.
    const again = await Client.connect(url)
    again.send({ type: 'hello', v: 1, token, checkpointSize: held.size })
    expect(await again.next((m) => m.type === 'checkpoint')).toEqual({ type: 'checkpoint', checkpoint: { note: served } })
    await post([await next('CARD_ADDED', { cardId: 'grown', artHash: 'sha256:' + 'ef'.repeat(32) })])
    const grown = await again.next((m) => m.type === 'checkpoint')
    if (grown.type !== 'checkpoint') throw new Error('expected a checkpoint')
    const bigger = await verifySignedCheckpoint(grown.checkpoint.note, key, nodeVerifier())
    expect(grown.checkpoint.consistency?.from).toBe(held.size)
    const hashes = grown.checkpoint.consistency!.hashes.map((h) => base64Decode(h)!)
    expect(verifyConsistency(nodeSha256, held.size, bigger.size, hashes, held.root, bigger.root)).toBe(true)
    again.close()
  })
})
