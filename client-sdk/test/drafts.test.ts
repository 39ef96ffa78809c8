/**
 * client-sdk drafts against a real relay on a real socket (PGlite + fs object store, real sessions):
 * automerge-repo clients with NodeFS storage and the relay's authenticated WebSocket endpoint.
 *
 * - two identities (and a second device of one of them) edit one draft and see each other's changes;
 * - an identity that may not read the pixbook, and a socket with a bad token, get nothing;
 * - saveDraft end to end: blob fetched back and hashed, Automerge.load'ed, heads compared with the
 *   PIXBOOK_SAVE receipt read from GET /v1/receipts, and the whole chain verified with ChainVerifier;
 * - autosave is off unless asked for ("no hidden writes"), and saves after edits when it is on;
 * - a draft reopens offline from NodeFS storage.
 */
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as Automerge from '@automerge/automerge'
import type { Repo } from '@automerge/automerge-repo'
import {
  buildReceipt,
  canonicalBytes,
  ChainVerifier,
  formatSignature,
  generatePrivateJwk,
  PixpaxError,
  type ChainHead,
  type Receipt,
  type Signer,
  type StreamRef,
} from '@pixpax/shared'
import { nodeSha256, nodeSigner, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestRelay, type TestRelay } from '@pixpax/sync-server/testing'
import {
  closeDraftRepo,
  createDraft,
  createDraftRepo,
  listDrafts,
  openDraft,
  relayBlobUploader,
  relayDraftNetwork,
  saveDraft,
  type AppendReceipt,
  type PixbookSave,
  type RelayHttp,
} from '../src/drafts/drafts.js'
import { nodeDraftStorage } from '../src/drafts/node-storage.js'

interface Book {
  title?: string
  cards?: string[]
  notes?: Record<string, string>
}

async function eventually<T>(probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe('client-sdk drafts through a real relay (PGlite + fs, real socket)', () => {
  let relay: TestRelay | undefined
  let base: string
  let dir: string
  const signers = new Map<string, Signer>()
  const tokens = new Map<string, string>()
  const heads = new Map<string, ChainHead | null>()
  const repos: Repo[] = []
  const accountId = 'acc-drafts'
  const bookId = 'book-1'
  const book = { accountId, bookId }
  const bookKey = `pixbook/${accountId}/${bookId}`

  async function post(receipt: Receipt): Promise<{ ok: boolean; seq: number }> {
    const res = await fetch(`${base}/v1/receipts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ receipts: [receipt] }),
    })
    const body = (await res.json()) as { results: Array<{ ok: boolean; seq: number }> }
    expect(res.status, JSON.stringify(body)).toBe(200)
    return body.results[0]!
  }
  /** The stand-in for the client engine: build, sign and push one receipt, chained to the last one. */
  async function appendAs(
    identityId: string,
    stream: StreamRef,
    key: string,
    type: string,
    payload: Record<string, unknown>,
  ): Promise<Receipt> {
    const receipt = await buildReceipt({
      stream,
      type,
      payload,
      identityId,
      signer: signers.get(identityId)!,
      prev: heads.get(key) ?? null,
      sha256: nodeSha256,
    })
    await post(receipt)
    heads.set(key, { eventId: receipt.eventId, hash: receipt.hash })
    return receipt
  }
  const bookAppend =
    (identityId: string, calls?: PixbookSave[]): AppendReceipt<Receipt> =>
    async (type, payload) => {
      calls?.push(payload)
      return appendAs(identityId, { type: 'pixbook', accountId, bookId }, bookKey, type, { ...payload })
    }
  async function person(identityId: string, account: string): Promise<void> {
    const signer = nodeSigner(generatePrivateJwk())
    signers.set(identityId, signer)
    await appendAs(identityId, { type: 'identity', identityId }, `identity/${identityId}`, 'IDENTITY_CREATED', {
      publicKey: signer.publicKey,
      accountId: account,
      kind: 'person',
    })
    tokens.set(identityId, await login(identityId))
  }
  async function login(identityId: string): Promise<string> {
    const signer = signers.get(identityId)!
    const postJson = (path: string, body: unknown) =>
      fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const { nonce } = (await (await postJson('/v1/auth/challenge', {})).json()) as { nonce: string }
    const relay = (await (await fetch(`${base}/v1/relay`)).json()) as { identityId: string }
    const signature = formatSignature(
      await signer.sign(canonicalBytes({ purpose: 'pixpax-session', nonce, identityId, relay: relay.identityId })),
    )
    const res = await postJson('/v1/auth/session', { identityId, publicKeyId: signer.publicKeyId, nonce, signature })
    expect(res.status).toBe(200)
    return ((await res.json()) as { token: string }).token
  }
  const relayFor = (identityId: string): RelayHttp => ({ url: base, token: tokens.get(identityId)! })
  /** A device: its own NodeFS directory and a Repo connected to the relay with `token`. */
  async function device(name: string, token: string, options: { network?: boolean; onUnauthenticated?: () => void } = {}): Promise<Repo> {
    const repo = createDraftRepo({
      storage: nodeDraftStorage(join(dir, 'devices', name)),
      network:
        options.network === false
          ? []
          : [
              relayDraftNetwork(
                { url: base, token },
                { retryMs: 500, ...(options.onUnauthenticated ? { onUnauthenticated: options.onUnauthenticated } : {}) },
              ),
            ],
    })
    repos.push(repo)
    return repo
  }
  async function shutdown(repo: Repo): Promise<void> {
    repos.splice(repos.indexOf(repo), 1)
    await closeDraftRepo(repo)
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pixpax-drafts-'))
    relay = await startTestRelay({ dataDir: join(dir, 'relay') })
    base = relay.url
    await person('d-alice', accountId)
    await person('d-bob', accountId)
    await person('d-mallory', 'acc-elsewhere')
    const account = { type: 'account', accountId }
    await appendAs('d-alice', account, `account/${accountId}`, 'ACCOUNT_CREATED', { displayName: 'Drafts' })
    await appendAs('d-alice', account, `account/${accountId}`, 'MEMBER_ADDED', { identityId: 'd-bob', role: 'member' })
    await appendAs('d-alice', { type: 'pixbook', accountId, bookId }, bookKey, 'PIXBOOK_CREATED', { title: 'Drafted' })
  })
  afterAll(async () => {
    for (const repo of [...repos]) await closeDraftRepo(repo)
    await relay?.close()
    // The relay's draft storage may still flush a file as it closes: retry ENOTEMPTY (seen in CI).
    await rm(dir, { recursive: true, force: true, maxRetries: 5 })
  })

  let documentUrl = ''

  it('two identities and a second device edit one draft and see each other’s changes through the relay', async () => {
    const aliceLaptop = await device('alice-laptop', tokens.get('d-alice')!)
    const draft = await createDraft<Book>({ repo: aliceLaptop, relay: relayFor('d-alice'), book })
    documentUrl = draft.documentUrl
    expect(draft.record).toMatchObject({ stream: bookKey, createdBy: 'd-alice', documentUrl })
    expect(draft.autosave).toBeNull()
    expect((await listDrafts(relayFor('d-bob'), book)).map((d) => d.documentUrl)).toEqual([documentUrl])
    draft.handle.change((d) => {
      d.title = 'Summer'
      d.cards = ['c1']
    })

    const bobRepo = await device('bob', tokens.get('d-bob')!)
    const bob = await openDraft<Book>({ repo: bobRepo, documentUrl })
    await eventually(() => bob.handle.doc().title === 'Summer')

    bob.handle.change((d) => {
      d.cards!.push('c2')
    })
    await eventually(() => draft.handle.doc().cards?.length === 2)

    // Concurrent edits on both sides merge the same way everywhere.
    draft.handle.change((d) => {
      d.notes = { ...(d.notes ?? {}), alice: 'hi' }
    })
    bob.handle.change((d) => {
      d.cards!.push('c3')
    })
    await eventually(() => draft.handle.doc().cards?.length === 3 && bob.handle.doc().notes?.alice === 'hi')
    expect(Automerge.getHeads(draft.handle.doc()).sort()).toEqual(Automerge.getHeads(bob.handle.doc()).sort())

    // Alice's second device: another session of the same identity.
    const alicePhone = await device('alice-phone', await login('d-alice'))
    const phone = await openDraft<Book>({ repo: alicePhone, documentUrl })
    await eventually(() => phone.handle.doc().cards?.length === 3)
    expect(phone.handle.doc()).toEqual({ title: 'Summer', cards: ['c1', 'c2', 'c3'], notes: { alice: 'hi' } })
    phone.handle.change((d) => {
      d.title = 'Summer (phone)'
    })
    await eventually(() => bob.handle.doc().title === 'Summer (phone)' && draft.handle.doc().title === 'Summer (phone)')
    await shutdown(alicePhone)
  })

  it('keeps syncing connected clients after the relay evicts the draft’s handle', async () => {
    const aliceRepo = await device('alice-evict', tokens.get('d-alice')!)
    const bobRepo = await device('bob-evict', tokens.get('d-bob')!)
    const alice = await openDraft<Book>({ repo: aliceRepo, documentUrl })
    const bob = await openDraft<Book>({ repo: bobRepo, documentUrl })
    await eventually(() => alice.handle.doc().title === 'Summer (phone)' && bob.handle.doc().title === 'Summer (phone)')
    const drafts = relay!.app.relay.drafts!
    const documentId = documentUrl.slice('automerge:'.length)
    await drafts.evict(documentId)
    expect(drafts.repo.handles[documentId as never]).toBeUndefined()
    alice.handle.change((d) => {
      d.notes = { ...(d.notes ?? {}), evicted: 'still syncing' }
    })
    await eventually(() => bob.handle.doc().notes?.evicted === 'still syncing')
    expect(drafts.repo.handles[documentId as never]?.isReady()).toBe(true)
    await shutdown(aliceRepo)
    await shutdown(bobRepo)
  })

  it('gives nothing to an identity that may not read the pixbook, nor to a socket with a bad token', async () => {
    const malloryRepo = await device('mallory', tokens.get('d-mallory')!)
    const refused = openDraft<Book>({ repo: malloryRepo, documentUrl, timeoutMs: 10_000 })
    await expect(refused).rejects.toBeInstanceOf(PixpaxError)
    await expect(refused).rejects.toMatchObject({ code: 'NOT_FOUND' })
    const handle = Object.values(malloryRepo.handles)[0]
    expect(handle?.isReady() ?? false).toBe(false)
    await shutdown(malloryRepo)

    let unauthenticated = 0
    const badRepo = await device('bad-token', 'B'.repeat(43), { onUnauthenticated: () => unauthenticated++ })
    await expect(openDraft<Book>({ repo: badRepo, documentUrl, timeoutMs: 3_000 })).rejects.toBeInstanceOf(PixpaxError)
    expect(unauthenticated).toBe(1)
    expect(Object.values(badRepo.handles).some((h) => h.isReady())).toBe(false)
    await shutdown(badRepo)

    // And the relay's HTTP side agrees.
    await expect(createDraft({ repo: badRepo, relay: relayFor('d-mallory'), book })).rejects.toMatchObject({ code: 'FORBIDDEN' })
  })

  it('saveDraft: snapshot blob + PIXBOOK_SAVE; the blob hashes to the receipt, loads, and has its heads; the chain verifies', async () => {
    const repo = await device('alice-saver', tokens.get('d-alice')!)
    const draft = await openDraft<Book>({ repo, documentUrl })
    await eventually(() => draft.handle.doc().title === 'Summer (phone)')
    draft.handle.change((d) => {
      d.cards!.push('saved')
    })
    const saved = await saveDraft({
      handle: draft.handle,
      stream: book,
      append: bookAppend('d-alice'),
      uploadBlob: relayBlobUploader(relayFor('d-alice')),
      note: 'first save',
    })
    expect(saved.documentUrl).toBe(documentUrl)
    expect(saved.documentUrl).toMatch(/^automerge:[1-9A-HJ-NP-Za-km-z]{1,64}$/)
    expect(saved.heads.every((h) => /^[0-9a-f]{64}$/.test(h))).toBe(true)
    expect(saved.snapshotHash).toMatch(/^sha256:[0-9a-f]{64}$/)

    // The receipt, as the relay serves it.
    const auth = { headers: { authorization: `Bearer ${tokens.get('d-alice')}` } }
    const stream = (await (await fetch(`${base}/v1/receipts?stream=${encodeURIComponent(bookKey)}`, auth)).json()) as {
      receipts: Receipt[]
    }
    const save = stream.receipts.find((r) => r.type === 'PIXBOOK_SAVE')!
    expect(save.eventId).toBe(saved.receipt.eventId)
    const payload = save.payload as { snapshotHash: string; documentUrl: string; heads: string[]; note: string }
    expect(payload).toEqual({ snapshotHash: saved.snapshotHash, documentUrl, heads: saved.heads, note: 'first save' })

    // The blob: fetch, hash, load, compare heads.
    const res = await fetch(`${base}/v1/blobs/sha256/${payload.snapshotHash.slice('sha256:'.length)}`, auth)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/octet-stream')
    const bytes = new Uint8Array(await res.arrayBuffer())
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(payload.snapshotHash)
    const loaded = Automerge.load<Book>(bytes)
    expect([...Automerge.getHeads(loaded)].sort()).toEqual([...payload.heads].sort())
    expect(loaded.cards).toContain('saved')
    expect(Automerge.getHeads(loaded)).toEqual(Automerge.getHeads(draft.handle.doc()))

    // The book's chain verifies offline, with the identities and the account it depends on.
    const read = async (key: string): Promise<Receipt[]> =>
      ((await (await fetch(`${base}/v1/receipts?stream=${encodeURIComponent(key)}`, auth)).json()) as { receipts: Receipt[] }).receipts
    const verifier = new ChainVerifier({ verifier: nodeVerifier(), sha256: nodeSha256 })
    const all = [
      ...(await read('identity/d-alice')),
      ...(await read('identity/d-bob')),
      ...(await read(`account/${accountId}`)),
      ...(await read(bookKey)),
    ]
    for (const receipt of all) expect(await verifier.add(receipt), receipt.type).toMatchObject({ ok: true })
    expect(verifier.summary().streams[bookKey]).toMatchObject({ head: save.hash })
    await shutdown(repo)
  })

  it('autosave is off by default (no hidden writes) and, when opted in, saves once per burst of edits', async () => {
    const calls: PixbookSave[] = []
    const uploads: string[] = []
    const upload = relayBlobUploader(relayFor('d-alice'))
    const uploadBlob = async (hex: string, bytes: Uint8Array) => {
      uploads.push(hex)
      await upload(hex, bytes)
    }
    const repo = await device('alice-auto', tokens.get('d-alice')!)
    const plain = await openDraft<Book>({ repo, documentUrl })
    expect(plain.autosave).toBeNull()
    plain.handle.change((d) => {
      d.title = 'edited, not saved'
    })
    await new Promise((r) => setTimeout(r, 400))
    expect(calls).toEqual([])
    expect(uploads).toEqual([])

    const auto = await openDraft<Book>({
      repo,
      documentUrl,
      autosave: { stream: book, append: bookAppend('d-alice', calls), uploadBlob, debounceMs: 100 },
    })
    auto.handle.change((d) => {
      d.title = 'autosaved'
    })
    auto.handle.change((d) => {
      d.cards!.push('auto')
    })
    await eventually(() => auto.autosave!.saves === 1)
    await new Promise((r) => setTimeout(r, 300))
    expect(calls.length).toBe(1)
    expect(uploads.length).toBe(1)
    expect(calls[0]!.heads).toEqual(Automerge.getHeads(auto.handle.doc()))
    await auto.autosave!.flush() // nothing changed since: no save
    expect(calls.length).toBe(1)
    auto.handle.change((d) => {
      d.title = 'saved on close'
    })
    await auto.close() // pending changes are saved before autosave stops
    expect(calls.length).toBe(2)
    auto.handle.change((d) => {
      d.title = 'after stop'
    })
    await new Promise((r) => setTimeout(r, 300))
    expect(calls.length).toBe(2)
    await shutdown(repo)
  })

  it('reopens a draft offline from NodeFS storage', async () => {
    const online = await device('traveller', tokens.get('d-bob')!)
    const draft = await openDraft<Book>({ repo: online, documentUrl })
    await eventually(() => draft.handle.doc().title === 'after stop')
    const headsBefore = Automerge.getHeads(draft.handle.doc())
    await shutdown(online)

    const offline = await device('traveller', tokens.get('d-bob')!, { network: false })
    const again = await openDraft<Book>({ repo: offline, documentUrl, timeoutMs: 5_000 })
    expect(Automerge.getHeads(again.handle.doc())).toEqual(headsBefore)
    expect(again.handle.doc().title).toBe('after stop')
    await shutdown(offline)
  })
})
