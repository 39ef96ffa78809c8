/**
 * The relay's automerge endpoint at the wire level (PGlite + fs store, real socket, real sessions):
 * authentication before anything reaches automerge-repo, per-document authorization, draft
 * registration (POST /v1/drafts), the draft size cap, the object-store storage adapter and handle
 * eviction.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import * as A from '@automerge/automerge'
import { cbor } from '@automerge/automerge-repo'
import {
  buildReceipt,
  canonicalBytes,
  formatSignature,
  generatePrivateJwk,
  type ChainHead,
  type Receipt,
  type Signer,
  type StreamRef,
} from '@pixpax/shared'
import { nodeSha256, nodeSigner } from '@pixpax/shared/node'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { DraftService } from '../src/drafts/draft-service.js'
import { ObjectStoreStorageAdapter, objectKeyOf, storageKeyOf } from '../src/drafts/store-storage-adapter.js'
import { FsObjectStore } from '../src/stores/fs-object-store.js'
import type { ObjectStore } from '../src/stores/object-store.js'
import { startTestRelay, type TestRelay } from '../src/testing.js'

const DRAFT_MAX = 64 * 1024

type Frame = Record<string, unknown> & { type: string }

/** A bare automerge-repo WebSocket peer: raw frames, so a test sees exactly what the relay sends. */
class RawPeer {
  readonly frames: Frame[] = []
  closed: { code: number; reason: string } | undefined
  private readonly closing: Promise<{ code: number; reason: string }>
  private waiters: Array<() => void> = []
  relayPeerId = ''
  private constructor(
    readonly ws: WebSocket,
    readonly peerId: string,
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.frames.push(isBinary ? cbor.decode<Frame>(data) : { type: 'text', text: data.toString() })
      this.waiters.forEach((w) => w())
    })
    this.closing = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closed = { code, reason: reason.toString() }
        resolve(this.closed)
        this.waiters.forEach((w) => w())
      }),
    )
  }
  static async connect(url: string): Promise<RawPeer> {
    const ws = new WebSocket(url)
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject))
    return new RawPeer(ws, `raw-${randomBytes(4).toString('hex')}`)
  }
  auth(token: string): void {
    this.ws.send(JSON.stringify({ type: 'auth', token }))
  }
  send(message: Record<string, unknown>): void {
    this.ws.send(cbor.encode(message))
  }
  join(): void {
    this.send({ type: 'join', senderId: this.peerId, peerMetadata: {}, supportedProtocolVersions: ['1'] })
  }
  async joined(token: string): Promise<void> {
    this.auth(token)
    this.join()
    const peer = await this.next((f) => f.type === 'peer')
    this.relayPeerId = peer.senderId as string
  }
  async next(match: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const i = this.frames.findIndex(match)
      if (i >= 0) return this.frames.splice(i, 1)[0]!
      if (this.closed)
        throw new Error(
          `closed ${this.closed.code} ${this.closed.reason} while waiting; frames: ${JSON.stringify(this.frames.map((f) => f.type))}`,
        )
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out; frames: ${JSON.stringify(this.frames.map((f) => f.type))}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
      this.waiters = []
    }
  }
  waitClose(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    return Promise.race([
      this.closing,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('socket not closed')), timeoutMs)),
    ])
  }
  close(): void {
    this.ws.close()
  }
}

/** A raw peer syncing one document by hand with the Automerge sync protocol. */
class DocSync {
  doc = A.init<Record<string, unknown>>()
  state = A.initSyncState()
  constructor(
    readonly peer: RawPeer,
    readonly documentId: string,
  ) {}
  /** Sends our next sync message (as `type`), if there is one. */
  push(type: 'request' | 'sync' = 'sync'): boolean {
    const [state, message] = A.generateSyncMessage(this.doc, this.state)
    this.state = state
    if (!message) return false
    this.peer.send({ type, senderId: this.peer.peerId, targetId: this.peer.relayPeerId, documentId: this.documentId, data: message })
    return true
  }
  /** Exchanges sync messages until the relay has nothing more to say for a while. */
  async settle(quietMs = 300): Promise<void> {
    for (;;) {
      let frame: Frame
      try {
        frame = await this.peer.next(
          (f) => f.documentId === this.documentId && (f.type === 'sync' || f.type === 'doc-unavailable'),
          quietMs,
        )
      } catch {
        return
      }
      if (frame.type === 'doc-unavailable') throw new Error('doc-unavailable')
      ;[this.doc, this.state] = A.receiveSyncMessage(this.doc, this.state, frame.data as Uint8Array)
      this.push()
    }
  }
}

describe('automerge endpoint: GET /v1/automerge (PGlite + fs, real socket)', () => {
  let app: FastifyInstance
  let base: string
  let wsUrl: string
  let relay: TestRelay
  let store: ObjectStore
  const people = new Map<string, { signer: Signer; token: string }>()
  const heads = new Map<string, ChainHead | null>()

  async function append(identityId: string, stream: StreamRef, key: string, type: string, payload: Record<string, unknown>): Promise<void> {
    const signer = people.get(identityId)!.signer
    const r: Receipt = await buildReceipt({ stream, type, payload, identityId, signer, prev: heads.get(key) ?? null, sha256: nodeSha256 })
    const res = await fetch(`${base}/v1/receipts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ receipts: [r] }),
    })
    expect(res.status, await res.clone().text()).toBe(200)
    heads.set(key, { eventId: r.eventId, hash: r.hash })
  }
  async function person(identityId: string, accountId: string): Promise<string> {
    const signer = nodeSigner(generatePrivateJwk())
    people.set(identityId, { signer, token: '' })
    await append(identityId, { type: 'identity', identityId }, `identity/${identityId}`, 'IDENTITY_CREATED', {
      publicKey: signer.publicKey,
      accountId,
      kind: 'person',
    })
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const { nonce } = (await (await post('/v1/auth/challenge', {})).json()) as { nonce: string }
    const relay = (await (await fetch(`${base}/v1/relay`)).json()) as { identityId: string }
    const signature = formatSignature(
      await signer.sign(canonicalBytes({ purpose: 'pixpax-session', nonce, identityId, relay: relay.identityId })),
    )
    const token = (
      (await (await post('/v1/auth/session', { identityId, publicKeyId: signer.publicKeyId, nonce, signature })).json()) as {
        token: string
      }
    ).token
    people.get(identityId)!.token = token
    return token
  }
  const tokenOf = (id: string): string => people.get(id)!.token
  const createDraft = (token: string, body: unknown) =>
    fetch(`${base}/v1/drafts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    })

  let documentId = ''

  beforeAll(async () => {
    relay = await startTestRelay({ env: { DRAFT_MAX_BYTES: String(DRAFT_MAX) } })
    ;({ app, store, url: base } = relay)
    wsUrl = `${base.replace('http', 'ws')}/v1/automerge`
    await person('am-alice', 'acc-am')
    await person('am-bob', 'acc-am')
    await person('am-mallory', 'acc-other')
    await append('am-alice', { type: 'account', accountId: 'acc-am' }, 'account/acc-am', 'ACCOUNT_CREATED', { displayName: 'AM' })
    await append('am-alice', { type: 'account', accountId: 'acc-am' }, 'account/acc-am', 'MEMBER_ADDED', {
      identityId: 'am-bob',
      role: 'member',
    })
    await append('am-alice', { type: 'pixbook', accountId: 'acc-am', bookId: 'book-1' }, 'pixbook/acc-am/book-1', 'PIXBOOK_CREATED', {
      title: 'drafts',
    })
    const res = await createDraft(tokenOf('am-alice'), { accountId: 'acc-am', bookId: 'book-1' })
    expect(res.status).toBe(201)
    documentId = ((await res.json()) as { documentId: string }).documentId
  })
  afterAll(async () => {
    await relay.close()
  })

  describe('POST/GET /v1/drafts', () => {
    it('registers drafts for sessions that may read the pixbook, and only for them', async () => {
      expect((await createDraft('', { accountId: 'acc-am', bookId: 'book-1' })).status).toBe(401)
      const forbidden = await createDraft(tokenOf('am-mallory'), { accountId: 'acc-am', bookId: 'book-1' })
      expect(forbidden.status).toBe(403)
      expect(((await forbidden.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN')
      expect((await createDraft(tokenOf('am-bob'), { accountId: 'acc-am', bookId: 'book 1' })).status).toBe(400)

      const created = await createDraft(tokenOf('am-bob'), { accountId: 'acc-am', bookId: 'book-1' })
      expect(created.status).toBe(201)
      const record = (await created.json()) as Record<string, string>
      expect(record).toMatchObject({ stream: 'pixbook/acc-am/book-1', accountId: 'acc-am', bookId: 'book-1', createdBy: 'am-bob' })
      expect(record.documentUrl).toMatch(/^automerge:[1-9A-HJ-NP-Za-km-z]{1,64}$/)
      expect(record.documentUrl).toBe(`automerge:${record.documentId}`)
      expect(await store.get(`pixpax/drafts/meta/${record.documentId}.json`)).toBeDefined()

      const auth = (id: string) => ({ headers: { authorization: `Bearer ${tokenOf(id)}` } })
      const list = (await (await fetch(`${base}/v1/drafts?accountId=acc-am&bookId=book-1`, auth('am-alice'))).json()) as {
        drafts: Array<{ documentId: string }>
      }
      expect(list.drafts.map((d) => d.documentId).sort()).toEqual([documentId, record.documentId].sort())
      expect((await fetch(`${base}/v1/drafts?accountId=acc-am&bookId=book-1`, auth('am-mallory'))).status).toBe(403)
      expect((await fetch(`${base}/v1/drafts/${record.documentId}`, auth('am-alice'))).status).toBe(200)
      expect((await fetch(`${base}/v1/drafts/${record.documentId}`, auth('am-mallory'))).status).toBe(404)
    })
  })

  describe('authentication', () => {
    it('closes a socket whose first frame is not an auth frame with 4001, having sent nothing', async () => {
      const peer = await RawPeer.connect(wsUrl)
      peer.join()
      peer.send({
        type: 'request',
        senderId: peer.peerId,
        targetId: 'x',
        documentId,
        data: A.generateSyncMessage(A.init(), A.initSyncState())[1]!,
      })
      const closed = await peer.waitClose()
      expect(closed.code).toBe(4001)
      expect(closed.reason).toMatch(/^UNAUTHENTICATED/)
      expect(peer.frames).toEqual([])
    })

    it('closes a socket with an unknown token with 4001, having sent nothing, even with a valid request queued', async () => {
      const peer = await RawPeer.connect(wsUrl)
      peer.auth('A'.repeat(43))
      peer.join()
      peer.send({
        type: 'request',
        senderId: peer.peerId,
        targetId: 'x',
        documentId,
        data: A.generateSyncMessage(A.init(), A.initSyncState())[1]!,
      })
      expect((await peer.waitClose()).code).toBe(4001)
      expect(peer.frames).toEqual([])
      const garbage = await RawPeer.connect(wsUrl)
      garbage.ws.send('{"type":"auth"')
      expect((await garbage.waitClose()).code).toBe(4001)
      expect(garbage.frames).toEqual([])
    })

    it('answers a plain GET (no upgrade) with 400 in the envelope', async () => {
      const res = await fetch(`${base}/v1/automerge`)
      expect(res.status).toBe(400)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BAD_REQUEST')
    })

    it('refuses a peer id held by another identity, and frames from any other sender', async () => {
      const alice = await RawPeer.connect(wsUrl)
      await alice.joined(tokenOf('am-alice'))
      const bob = await RawPeer.connect(wsUrl)
      bob.auth(tokenOf('am-bob'))
      bob.send({ type: 'join', senderId: alice.peerId, peerMetadata: {}, supportedProtocolVersions: ['1'] })
      expect((await bob.waitClose()).code).toBe(4000)
      expect(alice.closed).toBeUndefined()
      alice.send({
        type: 'request',
        senderId: 'someone-else',
        targetId: alice.relayPeerId,
        documentId,
        data: A.generateSyncMessage(A.init(), A.initSyncState())[1]!,
      })
      expect((await alice.waitClose()).code).toBe(4000)
    })
  })

  it('closes with 4000 on frames that are not the protocol: text after auth, garbage sync data, unknown types', async () => {
    const text = await RawPeer.connect(wsUrl)
    await text.joined(tokenOf('am-alice'))
    text.ws.send('{"type":"sync"}')
    expect((await text.waitClose()).code).toBe(4000)

    const garbage = await RawPeer.connect(wsUrl)
    await garbage.joined(tokenOf('am-alice'))
    garbage.send({ type: 'sync', senderId: garbage.peerId, targetId: garbage.relayPeerId, documentId, data: new Uint8Array([1, 2, 3]) })
    expect((await garbage.waitClose()).code).toBe(4000)

    const gossip = await RawPeer.connect(wsUrl)
    await gossip.joined(tokenOf('am-alice'))
    gossip.send({ type: 'remote-subscription-change', senderId: gossip.peerId, targetId: gossip.relayPeerId, add: ['x'] })
    expect((await gossip.waitClose()).code).toBe(4000)
  })

  describe('per-document authorization', () => {
    it('serves a registered draft to members, and doc-unavailable (no data) to anyone else', async () => {
      const bob = await RawPeer.connect(wsUrl)
      await bob.joined(tokenOf('am-bob'))
      const bobDoc = new DocSync(bob, documentId)
      bobDoc.push('request')
      await bobDoc.settle()
      expect(A.getHeads(bobDoc.doc).length).toBe(1) // the relay's initial (empty) change

      const mallory = await RawPeer.connect(wsUrl)
      await mallory.joined(tokenOf('am-mallory'))
      const malloryDoc = new DocSync(mallory, documentId)
      malloryDoc.push('request')
      const answer = await mallory.next((f) => f.documentId === documentId)
      expect(answer.type).toBe('doc-unavailable')
      expect(answer.data).toBeUndefined()
      // Not registered at all: the same answer, and the relay does not even load a handle for it.
      const unknown = A.init()
      const stranger = new DocSync(mallory, 'veJeqUQeYAsm9V5GjvZiS3RasHx')
      stranger.doc = unknown
      stranger.push('request')
      expect((await mallory.next((f) => f.documentId === 'veJeqUQeYAsm9V5GjvZiS3RasHx')).type).toBe('doc-unavailable')
      expect(app.relay.drafts!.repo.handles['veJeqUQeYAsm9V5GjvZiS3RasHx' as never]).toBeUndefined()
      await new Promise((r) => setTimeout(r, 200))
      expect(mallory.frames.filter((f) => f.type === 'sync')).toEqual([])
      bob.close()
      mallory.close()
    })

    it('relays changes between members, and closes a socket with 4003 once its access is withdrawn', async () => {
      const alice = await RawPeer.connect(wsUrl)
      await alice.joined(tokenOf('am-alice'))
      const aliceDoc = new DocSync(alice, documentId)
      aliceDoc.push('request')
      await aliceDoc.settle()
      aliceDoc.doc = A.change(aliceDoc.doc, (d) => {
        d.title = 'from alice'
      })
      aliceDoc.push()
      await aliceDoc.settle()

      const bob = await RawPeer.connect(wsUrl)
      await bob.joined(tokenOf('am-bob'))
      const bobDoc = new DocSync(bob, documentId)
      bobDoc.push('request')
      await bobDoc.settle()
      expect(bobDoc.doc.title).toBe('from alice')

      await append('am-alice', { type: 'account', accountId: 'acc-am' }, 'account/acc-am', 'MEMBER_REMOVED', { identityId: 'am-bob' })
      await app.relay.drafts!.network.recheckNow()
      const closed = await bob.waitClose()
      expect(closed.code).toBe(4003)
      expect(alice.closed).toBeUndefined()
      await append('am-alice', { type: 'account', accountId: 'acc-am' }, 'account/acc-am', 'MEMBER_ADDED', {
        identityId: 'am-bob',
        role: 'member',
      })
      alice.close()
    })
  })

  describe('draft size cap (DRAFT_MAX_BYTES)', () => {
    it('refuses changes that would take a draft over the cap, and keeps serving it', async () => {
      const res = await createDraft(tokenOf('am-alice'), { accountId: 'acc-am', bookId: 'book-1' })
      const { documentId: big } = (await res.json()) as { documentId: string }
      const alice = await RawPeer.connect(wsUrl)
      await alice.joined(tokenOf('am-alice'))
      const doc = new DocSync(alice, big)
      doc.push('request')
      await doc.settle()
      doc.doc = A.change(doc.doc, (d) => {
        d.note = 'small'
        d.first = randomBytes(DRAFT_MAX / 2).toString('base64') // incompressible, about two thirds of the cap
      })
      doc.push()
      await doc.settle()
      const relayHandle = await app.relay.drafts!.repo.find<Record<string, unknown>>(big as never)
      expect(relayHandle.doc().note).toBe('small')

      doc.doc = A.change(doc.doc, (d) => {
        d.blob = randomBytes(DRAFT_MAX / 2).toString('base64') // as much again: together over the cap
      })
      doc.push()
      const error = await alice.next((f) => f.type === 'error')
      expect(error.message).toMatch(/^PAYLOAD_TOO_LARGE: draft .* would exceed DRAFT_MAX_BYTES/)
      await new Promise((r) => setTimeout(r, 300))
      expect(relayHandle.doc().blob).toBeUndefined()
      expect(relayHandle.doc().note).toBe('small')

      // Still readable: a fresh peer without changes gets the (capped) draft.
      const reader = await RawPeer.connect(wsUrl)
      await reader.joined(tokenOf('am-bob'))
      const readerDoc = new DocSync(reader, big)
      readerDoc.push('request')
      await readerDoc.settle()
      expect(readerDoc.doc.note).toBe('small')
      expect(readerDoc.doc.blob).toBeUndefined()

      // A single message over the cap is refused outright.
      const whole = new DocSync(reader, big)
      whole.doc = A.change(A.clone(readerDoc.doc), (d) => {
        d.huge = randomBytes(DRAFT_MAX).toString('base64')
      })
      whole.state = readerDoc.state
      whole.push()
      expect((await reader.next((f) => f.type === 'error')).message).toMatch(/^PAYLOAD_TOO_LARGE: a sync message of \d+ bytes/)
      alice.close()
      reader.close()
    })
  })

  describe('storage and eviction', () => {
    it('keeps drafts in the object store under pixpax/drafts/repo/, and reloads an evicted handle from there', async () => {
      const keys = await store.list(`pixpax/drafts/repo/${documentId}/`)
      expect(keys.length).toBeGreaterThan(0)
      expect(keys.every((k) => /^pixpax\/drafts\/repo\/[1-9A-HJ-NP-Za-km-z]+\/(snapshot|incremental)\/[0-9a-f]+\.bin$/.test(k))).toBe(true)

      const before = (await app.relay.drafts!.repo.find<Record<string, unknown>>(documentId as never)).doc()
      expect(before.title).toBe('from alice')
      await app.relay.drafts!.evict(documentId)
      expect(app.relay.drafts!.repo.handles[documentId as never]).toBeUndefined()

      const bob = await RawPeer.connect(wsUrl)
      await bob.joined(tokenOf('am-bob'))
      const bobDoc = new DocSync(bob, documentId)
      bobDoc.push('request')
      await bobDoc.settle()
      expect(bobDoc.doc.title).toBe('from alice')
      expect(A.getHeads(bobDoc.doc)).toEqual(A.getHeads(before))
      bob.close()
    })

    it('sweeps idle handles, and the least recently used above DRAFT_MAX_HANDLES', async () => {
      let now = 1_000_000
      const service = new DraftService({
        store: new FsObjectStore(join(relay.dataDir, 'sweep')),
        db: { query: async () => ({ rows: [], rowCount: 0 }) } as never,
        relayIdentityId: 'sweep-test',
        sessionForToken: async () => undefined,
        maxDraftBytes: DRAFT_MAX,
        idleMs: 60_000,
        maxHandles: 2,
        now: () => now,
      })
      try {
        const ids: string[] = []
        for (let i = 0; i < 4; i++) {
          const id = (await service.create({ accountId: 'acc', bookId: 'b' }, 'someone')).documentId
          ;(await service.repo.find<Record<string, unknown>>(id as never)).change((d) => {
            d.n = i
          })
          ids.push(id)
          now += 10_000
        }
        expect(service.loadedCount).toBe(4)
        await service.sweep() // 2 over the cap, the oldest two are evicted; the rest were used < 60 s ago
        expect(Object.keys(service.repo.handles).sort()).toEqual(ids.slice(2).sort())
        now += 60_000
        await service.sweep() // now idle
        expect(service.loadedCount).toBe(0)
        expect(service.evictions).toBe(4)
        // Evicted is not gone: after any delayed saves had their chance (unloading must not store an
        // empty snapshot over the real one), each loads again from the store with its content.
        await new Promise((r) => setTimeout(r, 400))
        for (const [i, id] of ids.entries()) {
          const reloaded = await service.repo.find<Record<string, unknown>>(id as never)
          expect(reloaded.doc().n).toBe(i)
          expect(A.getHeads(reloaded.doc()).length).toBe(1)
        }
      } finally {
        await service.close()
      }
    })

    it('maps any automerge storage key to a safe object key and back', async () => {
      const odd = ['storage-adapter-id', 'a.b', '_x', 'with space/slash', '']
      for (const segment of odd) {
        const key = objectKeyOf(['doc', segment])
        expect(key).toMatch(/^pixpax\/drafts\/repo\/doc\/[A-Za-z0-9_-]*\.bin$/)
        expect(storageKeyOf(key)).toEqual(['doc', segment])
      }
      const adapter = new ObjectStoreStorageAdapter(new FsObjectStore(join(relay.dataDir, 'adapter')))
      await adapter.save(['d1', 'incremental', 'aa'], new Uint8Array([1, 2, 3]))
      await adapter.save(['d1', 'snapshot', 'bb'], new Uint8Array([4]))
      await adapter.save(['d10', 'snapshot', 'cc'], new Uint8Array([5]))
      await adapter.save(['storage-adapter-id'], new Uint8Array([6]))
      expect(adapter.storedBytes('d1')).toBe(4)
      const d1 = await adapter.loadRange(['d1'])
      expect(d1.map((c) => c.key.join('/')).sort()).toEqual(['d1/incremental/aa', 'd1/snapshot/bb'])
      expect((await adapter.loadRange(['d1', 'snapshot'])).map((c) => [...c.data!])).toEqual([[4]])
      expect(await adapter.load(['storage-adapter-id'])).toEqual(new Uint8Array([6]))
      await adapter.removeRange(['d1'])
      expect(await adapter.loadRange(['d1'])).toEqual([])
      expect(adapter.storedBytes('d1')).toBe(0)
      expect((await adapter.loadRange(['d10'])).length).toBe(1)
      expect((await adapter.loadRange([])).length).toBe(2)
    })
  })
})
