import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ChainVerifier, buildReceipt, generatePrivateJwk, jwkThumbprint, type Receipt } from '@pixpax/shared'
import { nodeSha256, nodeSigner, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { login } from '../src/network/session.js'
import { MemoryLocalLog } from '../src/storage/memory-local-log.js'
import { SyncClient, type SyncClientOptions } from '../src/sync/sync-client.js'
import { exportNdjson, importNdjson } from '../src/sync/ndjson.js'
import type { QuarantineEntry } from '../src/storage/local-log.js'
import { startProxy } from './support/hostile-proxy.js'
import { makeIdentity, nodeWebSocket, postReceipts, startTestRelay, type TestIdentity, type TestRelay } from './support/relay.js'

const ART = 'sha256:' + 'ab'.repeat(32)

describe('SyncClient against a real relay', () => {
  let relay: TestRelay
  let alice: TestIdentity
  let token: string

  beforeAll(async () => {
    relay = await startTestRelay()
    alice = await makeIdentity('alice', 'acc-alice')
    const account = await buildReceipt({
      stream: { type: 'account', accountId: 'acc-alice' },
      type: 'ACCOUNT_CREATED',
      payload: {},
      identityId: 'alice',
      signer: alice.signer,
      prev: null,
      sha256: nodeSha256,
    })
    expect((await postReceipts(relay, [alice.created, account])).status).toBe(200)
    token = (await login(relay.url, 'alice', alice.signer)).token
  }, 60_000)
  afterAll(async () => relay.close())

  function client(extra: Partial<SyncClientOptions> = {}) {
    return SyncClient.open({
      relayUrl: relay.url,
      log: new MemoryLocalLog(),
      identityId: 'alice',
      signer: alice.signer,
      webSocket: nodeWebSocket,
      verifier: nodeVerifier(),
      sha256: nodeSha256,
      token: () => token,
      reconnect: { baseMs: 20, maxMs: 200 },
      ...extra,
    })
  }

  it('works offline, then pushes, verifies and logs every receipt with its ack', async () => {
    const c = await client()
    const book = 'pixbook/acc-alice/offline-book'
    await c.append(book, 'PIXBOOK_CREATED', { title: 'Offline' })
    for (let i = 0; i < 5; i++) await c.append(book, 'CARD_ADDED', { cardId: `card-${i}`, artHash: ART })
    expect(c.pending()).toHaveLength(6)
    const statuses: string[] = []
    c.on('status', (s) => statuses.push(s))
    c.start()
    await c.whenSynced()
    expect(c.pending()).toHaveLength(0)
    expect(c.head(book)?.seq).toBe(6)
    expect(c.head(book)?.ack?.seq).toBe(6)
    expect(statuses).toEqual(expect.arrayContaining(['connecting', 'syncing', 'synced']))
    // Live: a receipt written by someone else (here: another client of alice) arrives verified.
    const other = await client({ streams: [book] })
    other.start()
    await other.whenSynced()
    expect(other.head(book)?.seq).toBe(6)
    await other.append(book, 'CARD_ADDED', { cardId: 'from-other', artHash: ART })
    await new Promise<void>((resolve) => c.on('receipt', (r) => r.seq === 7 && resolve()))
    await c.stop()
    await other.stop()
  })

  it('two devices of one identity edit one pixbook offline: one chain, the later device rebased, nothing lost', async () => {
    // A second device key, added by the first.
    const device2 = nodeSigner(generatePrivateJwk())
    const setup = await client()
    await setup.append('identity/alice', 'KEY_ADDED', { publicKey: device2.publicKey })
    const book = 'pixbook/acc-alice/shared-book'
    await setup.append(book, 'PIXBOOK_CREATED', { title: 'Shared' })
    setup.start()
    await setup.whenSynced()
    await setup.stop()

    const logA = new MemoryLocalLog()
    const logB = new MemoryLocalLog()
    const a = await client({ log: logA })
    const b = await client({ log: logB, signer: device2 })
    a.start()
    b.start()
    await Promise.all([a.whenSynced(), b.whenSynced()])
    await a.stop()
    await b.stop()
    // Offline, both write.
    for (let i = 0; i < 3; i++) await a.append(book, 'CARD_ADDED', { cardId: `a-${i}`, artHash: ART })
    for (let i = 0; i < 3; i++) await b.append(book, 'CARD_ADDED', { cardId: `b-${i}`, artHash: ART })
    const conflicts: string[][] = []
    b.on('conflict', (c) => conflicts.push(c.rebased))
    a.start()
    await a.whenSynced()
    b.start()
    await b.whenSynced()
    await a.whenSynced()
    expect(conflicts.flat()).toHaveLength(3)
    // One chain on the relay with all 6 cards, verified by an independent verifier.
    const res = await fetch(`${relay.url}/v1/receipts?stream=${book}&limit=100`, { headers: { authorization: `Bearer ${token}` } })
    const { receipts } = (await res.json()) as { receipts: Receipt[] }
    expect(receipts.filter((r) => r.type === 'CARD_ADDED').map((r) => r.payload.cardId)).toEqual(['a-0', 'a-1', 'a-2', 'b-0', 'b-1', 'b-2'])
    const lines: string[] = []
    for await (const line of exportNdjson(logB)) lines.push(line)
    const verifier = new ChainVerifier({ verifier: nodeVerifier() })
    for (const line of lines) expect(await verifier.add(line.trim())).toMatchObject({ ok: true })
    expect(b.head(book)?.seq).toBe(7)
    expect(a.head(book)?.seq).toBe(7)
    // The export is what `pixpax verify` accepts, and imports into a fresh log.
    const dir = await mkdtemp(join(tmpdir(), 'pixpax-export-'))
    await writeFile(join(dir, 'export.ndjson'), lines.join(''))
    const cli = spawnSync(
      process.execPath,
      [join(import.meta.dirname, '../../shared/bin/pixpax.mjs'), 'verify', join(dir, 'export.ndjson')],
      { encoding: 'utf8' },
    )
    expect(cli.status, cli.stdout + cli.stderr).toBe(0)
    expect(JSON.parse(cli.stdout)).toMatchObject({ ok: true, streams: { [book]: { count: 7 } } })
    const fresh = new MemoryLocalLog()
    expect(await importNdjson(fresh, lines, { verifier: nodeVerifier() })).toMatchObject({ imported: lines.length, errors: [] })
    expect(await importNdjson(fresh, lines, { verifier: nodeVerifier() })).toMatchObject({ imported: 0, skipped: lines.length })
    await rm(dir, { recursive: true, force: true })
    await a.stop()
    await b.stop()
  })

  it('a retried push after a lost answer yields the first result, never a second receipt', async () => {
    const log = new MemoryLocalLog()
    const c = await client({ log })
    const book = 'pixbook/acc-alice/retry-book'
    await c.append(book, 'PIXBOOK_CREATED', { title: 'Retry' })
    const receipt = c.pending()[0]!.receipt
    // The relay got it, but the answer never came back (simulated by posting it behind the client's back).
    expect((await postReceipts(relay, [receipt])).status).toBe(200)
    // Restart from the same durable outbox: the resend is answered with the stored first result.
    const restarted = await client({ log })
    restarted.start()
    await restarted.whenSynced()
    expect(restarted.head(book)?.seq).toBe(1)
    const head = (await (
      await fetch(`${relay.url}/v1/streams/head?key=${book}`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { seq: number }
    expect(head.seq).toBe(1)
    await restarted.stop()
  })

  it('a push in flight when the app stops and restarts the client is sent again on the next connection', async () => {
    // The web app restarts its client to say hello with a session once its identity is on the relay; a
    // push sent just before that restart must not stay `sent` for good. Here the relay never gets it.
    let pushDropped!: () => void
    const dropped = new Promise<void>((resolve) => (pushDropped = resolve))
    let first = true
    const c = await client({
      webSocket: (url) => {
        const ws = nodeWebSocket(url)
        if (first) {
          first = false
          const send = ws.send.bind(ws)
          ws.send = (data: string) => (String(data).includes('"type":"push"') ? pushDropped() : send(data))
        }
        return ws
      },
    })
    const book = 'pixbook/acc-alice/restart-book'
    await c.append(book, 'PIXBOOK_CREATED', { title: 'Restart' })
    c.start()
    await dropped
    expect(c.pending().map((e) => e.state)).toEqual(['sent'])
    await c.stop()
    c.start()
    await c.whenSynced()
    expect(c.pending()).toEqual([])
    expect(c.head(book)?.seq).toBe(1)
    await c.stop()
  })

  describe('a hostile relay is detected, never trusted', () => {
    const book = 'pixbook/acc-alice/hostile-book'
    beforeAll(async () => {
      const c = await client()
      await c.append(book, 'PIXBOOK_CREATED', { title: 'Hostile' })
      for (let i = 0; i < 4; i++) await c.append(book, 'CARD_ADDED', { cardId: `h-${i}`, artHash: ART })
      c.start()
      await c.whenSynced()
      await c.stop()
    })

    async function throughProxy(
      rewrite: Parameters<typeof startProxy>[1],
      log = new MemoryLocalLog(),
    ): Promise<{ quarantined: QuarantineEntry; logged: number; status: string }> {
      const proxy = await startProxy(relay.url, rewrite)
      const c = await client({ relayUrl: proxy.url, streams: [book], log })
      const quarantined = new Promise<QuarantineEntry>((resolve) => c.on('quarantine', resolve))
      c.start()
      const q = await quarantined
      const logged = c.head(book)?.seq ?? 0
      // The app sees the problem: a quarantined stream is not "synced".
      const status = await new Promise<string>((resolve) => (c.status === 'error' ? resolve(c.status) : c.on('status', resolve)))
      await c.stop()
      await proxy.close()
      return { quarantined: q, logged, status }
    }
    type Msg = Record<string, unknown> & { receipts?: Array<Record<string, unknown> & { receipt: Record<string, unknown> }> }
    const onBook = (m: Msg) => m.type === 'receipts' && m.stream === book

    it('alters a receipt → HASH_MISMATCH, status error', async () => {
      const { quarantined, logged, status } = await throughProxy((m: Msg) => {
        if (onBook(m)) m.receipts![2]!.receipt.payload = { cardId: 'stolen', artHash: ART }
        return [m]
      })
      expect(quarantined.code).toBe('HASH_MISMATCH')
      expect(logged).toBe(2)
      expect(status).toBe('error')
    })

    describe('relay key binding', () => {
      const relayKey = async () => (await (await fetch(`${relay.url}/v1/relay`)).json()) as { publicKeyId: string; publicKey: unknown }
      const attacker = nodeSigner(generatePrivateJwk())

      it('pins the key on first use in the local log and tells the app', async () => {
        const log = new MemoryLocalLog()
        const c = await client({ log, streams: [book] })
        const pinned = new Promise((resolve) => c.on('relay-pinned', resolve))
        c.start()
        await c.whenSynced()
        const real = await relayKey()
        expect(await pinned).toMatchObject({ publicKeyId: real.publicKeyId, how: 'tofu' })
        expect(c.relayPin).toMatchObject({ publicKeyId: real.publicKeyId, publicKey: real.publicKey })
        await c.stop()
        // Reopened from the same log, the pin is there before any connection.
        const again = await client({ log })
        expect(again.relayPin?.publicKeyId).toBe(real.publicKeyId)
      })

      it('a key announced under the pinned id whose thumbprint is not that id → KEY_UNKNOWN, halted for good, nothing logged', async () => {
        const log = new MemoryLocalLog()
        const real = await relayKey()
        const proxy = await startProxy(relay.url, (m: Msg) => {
          if (m.type === 'welcome') (m.relay as Record<string, unknown>).publicKey = attacker.publicKey // id kept
          return [m]
        })
        const c = await client({ relayUrl: proxy.url, streams: [book], log, relayPublicKeyId: real.publicKeyId })
        const halted = new Promise<{ code: string }>((resolve) => c.on('halted', resolve))
        const quarantined = new Promise<QuarantineEntry>((resolve) => c.on('quarantine', resolve))
        c.start()
        expect((await quarantined).code).toBe('KEY_UNKNOWN')
        expect((await halted).code).toBe('KEY_UNKNOWN')
        expect(c.status).toBe('error')
        expect(c.head(book)).toBeUndefined()
        await c.stop()
        await proxy.close()
        // A restart does not silently trust the relay again, even directly.
        const restarted = await client({ log, streams: [book], relayPublicKeyId: real.publicKeyId })
        expect(restarted.relayHalt?.code).toBe('KEY_UNKNOWN')
        restarted.start()
        expect(restarted.status).toBe('error')
        expect(restarted.head(book)).toBeUndefined()
        // Until the app decides.
        await restarted.resetRelayTrust()
        await restarted.whenSynced()
        expect(restarted.head(book)?.seq).toBe(5)
        await restarted.stop()
      })

      it('a relay key change after a TOFU pin → KEY_UNKNOWN (never silent)', async () => {
        const log = new MemoryLocalLog()
        const first = await client({ log, streams: [book] })
        first.start()
        await first.whenSynced()
        await first.stop()
        const proxy = await startProxy(relay.url, (m: Msg) => {
          // A well-formed announcement of another key: its own id and thumbprint agree.
          if (m.type === 'welcome')
            m.relay = { ...(m.relay as object), publicKey: attacker.publicKey, publicKeyId: jwkThumbprint(attacker.publicKey) }
          return [m]
        })
        const c = await client({ relayUrl: proxy.url, log, streams: [book] })
        const quarantined = new Promise<QuarantineEntry>((resolve) => c.on('quarantine', resolve))
        c.start()
        expect((await quarantined).code).toBe('KEY_UNKNOWN')
        expect(c.relayHalt?.code).toBe('KEY_UNKNOWN')
        expect(c.relayPin?.publicKeyId).toBe((await relayKey()).publicKeyId)
        await c.stop()
        await proxy.close()
      })

      it('an explicit pin the relay does not match → KEY_UNKNOWN', async () => {
        const c = await client({ streams: [book], relayPublicKeyId: jwkThumbprint(attacker.publicKey) })
        const quarantined = new Promise<QuarantineEntry>((resolve) => c.on('quarantine', resolve))
        c.start()
        expect((await quarantined).code).toBe('KEY_UNKNOWN')
        expect(c.status).toBe('error')
        expect(c.relayPin).toBeUndefined()
        await c.stop()
      })
    })
    it('reorders receipts → CHAIN_BROKEN', async () => {
      const { quarantined } = await throughProxy((m: Msg) => {
        if (onBook(m)) [m.receipts![1], m.receipts![2]] = [m.receipts![2]!, m.receipts![1]!]
        return [m]
      })
      expect(quarantined.code).toBe('CHAIN_BROKEN')
    })
    it('omits a receipt in the middle of a batch → CHAIN_BROKEN, nothing of the batch applied', async () => {
      const { quarantined, logged } = await throughProxy((m: Msg) => {
        if (onBook(m)) m.receipts!.splice(1, 1)
        return [m]
      })
      expect(quarantined.code).toBe('CHAIN_BROKEN')
      expect(logged).toBe(0)
    })
    it('drops the last receipt of a batch, keeping the checkpoint and proof → LOG_INCONSISTENT', async () => {
      const { quarantined, logged } = await throughProxy((m: Msg) => {
        if (onBook(m)) m.receipts!.pop()
        return [m]
      })
      expect(quarantined.code).toBe('LOG_INCONSISTENT')
      expect(logged).toBe(0)
    })
    it('replays an old receipt as a new one → LOG_INCONSISTENT (its leaf is not at that place in the log)', async () => {
      const { quarantined, logged } = await throughProxy((m: Msg) => {
        if (onBook(m)) {
          const old = m.receipts![0]!
          m.receipts!.push({ ...old, seq: m.receipts!.length + 1, position: (m.receipts!.at(-1)!.position as number) + 1 })
        }
        return [m]
      })
      expect(quarantined.code).toBe('LOG_INCONSISTENT')
      expect(logged).toBe(0)
    })
    it('forges the ack of a pushed receipt → SIGNATURE_INVALID, never stored as proof', async () => {
      const proxy = await startProxy(relay.url, (m: Msg) => {
        if (m.type === 'push-result') {
          for (const r of m.results as Array<{ ack?: Record<string, unknown> }>)
            if (r.ack) r.ack.signature = 'ecdsa-p256:' + Buffer.alloc(64, 1).toString('base64')
        }
        return [m]
      })
      const log = new MemoryLocalLog()
      const c = await client({ relayUrl: proxy.url, log })
      await c.append('pixbook/acc-alice/forged-ack-book', 'PIXBOOK_CREATED', { title: 'Forged' })
      const quarantined = new Promise<QuarantineEntry>((resolve) => c.on('quarantine', resolve))
      c.start()
      expect((await quarantined).code).toBe('SIGNATURE_INVALID')
      await c.stop()
      await proxy.close()
      for await (const r of log.scan()) expect(r.ack).toBeUndefined()
    })
    it('a network drop resumes from the cursor and the held checkpoint: no gap, no duplicate', async () => {
      const dropBook = 'pixbook/acc-alice/drop-book'
      const writer = await client()
      await writer.append(dropBook, 'PIXBOOK_CREATED', { title: 'Drop' })
      for (let i = 0; i < 2; i++) await writer.append(dropBook, 'CARD_ADDED', { cardId: `d-${i}`, artHash: ART })
      writer.start()
      await writer.whenSynced()
      const proxy = await startProxy(relay.url)
      const log = new MemoryLocalLog()
      const c = await client({ relayUrl: proxy.url, streams: [dropBook], log })
      c.on('receipt', (r) => {
        if (r.streamKey === dropBook && r.seq === 3) void proxy.close() // cut the line
      })
      c.start()
      await new Promise<void>((resolve) => c.on('status', (s) => s === 'offline' && resolve()))
      await c.stop()
      const held = c.checkpoint!
      // The log grows while we are away.
      for (let i = 2; i < 4; i++) await writer.append(dropBook, 'CARD_ADDED', { cardId: `d-${i}`, artHash: ART })
      await writer.whenSynced()
      await writer.stop()
      const resumed = await client({ streams: [dropBook], log })
      const grown = new Promise<number>((resolve) => resumed.on('checkpoint', (cp) => resolve(cp.size)))
      resumed.start()
      await resumed.whenSynced()
      expect(await grown).toBeGreaterThan(held.size) // proven consistent with the one held before the drop
      const seqs: number[] = []
      for await (const r of log.scan()) if (r.streamKey === dropBook) seqs.push(r.seq)
      expect(seqs).toEqual([1, 2, 3, 4, 5])
      await resumed.stop()
    })
  })
})
