/**
 * Verified sync against lying relays: real relays on real sockets (two sharing one key are one relay that
 * forked its log), and a proxy that rolls checkpoints back, replays old batches and forges notes. Each lie
 * is detected with its code, the client halts, the evidence is kept, and nothing wrong enters the log.
 */
import { buildReceipt, generatePrivateJwk, verifySignedCheckpoint, type Signer } from '@pixpax/shared'
import { nodeSha256, nodeSigner, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryLocalLog } from '../src/storage/memory-local-log.js'
import type { QuarantineEntry } from '../src/storage/local-log.js'
import { SyncClient, type SyncClientOptions } from '../src/sync/sync-client.js'
import { startProxy } from './support/hostile-proxy.js'
import { makeIdentity, nodeWebSocket, postReceipts, startTestRelay, type TestIdentity, type TestRelay } from './support/relay.js'

type Msg = Record<string, unknown>

async function keyAdded(identity: TestIdentity, prev: { eventId: string; hash: string }, signer: Signer) {
  return buildReceipt({
    stream: { type: 'identity', identityId: identity.identityId },
    type: 'KEY_ADDED',
    payload: { publicKey: signer.publicKey },
    identityId: identity.identityId,
    signer: identity.signer,
    prev,
    sha256: nodeSha256,
  })
}

describe('verified sync: checkpoints and proofs', () => {
  const relayKey = nodeSigner(generatePrivateJwk())
  let a: TestRelay
  let b: TestRelay
  let carol: TestIdentity
  const stream = () => `identity/${carol.identityId}`

  beforeAll(async () => {
    // One relay key, two logs: A and B both hold carol's identity, then a different second receipt — two
    // trees of size 2 signed by the same key.
    ;[a, b] = await Promise.all([startTestRelay({ relaySigner: relayKey }), startTestRelay({ relaySigner: relayKey })])
    carol = await makeIdentity('carol', 'acc-carol')
    const onA = await keyAdded(carol, carol.created, nodeSigner(generatePrivateJwk()))
    const onB = await keyAdded(carol, carol.created, nodeSigner(generatePrivateJwk()))
    expect((await postReceipts(a, [carol.created, onA])).status).toBe(200)
    expect((await postReceipts(b, [carol.created, onB])).status).toBe(200)
  }, 60_000)
  afterAll(async () => Promise.all([a.close(), b.close()]))

  function client(relayUrl: string, extra: Partial<SyncClientOptions> = {}) {
    return SyncClient.open({
      relayUrl,
      log: new MemoryLocalLog(),
      identityId: carol.identityId,
      signer: carol.signer,
      webSocket: nodeWebSocket,
      verifier: nodeVerifier(),
      sha256: nodeSha256,
      reconnect: { baseMs: 20, maxMs: 200 },
      ...extra,
    })
  }

  async function expectHalt(c: SyncClient): Promise<{ quarantined: QuarantineEntry; reason: string }> {
    const quarantined = new Promise<QuarantineEntry>((resolve) => c.on('quarantine', resolve))
    const inconsistent = new Promise<{ reason: string }>((resolve) => c.on('log-inconsistent', resolve))
    const [q, i] = await Promise.all([quarantined, inconsistent])
    expect(c.status).toBe('error')
    expect(c.relayHalt?.code).toBe('LOG_INCONSISTENT')
    return { quarantined: q, reason: i.reason }
  }

  it('verifies and keeps the checkpoint, proves each batch in it, and says which size it holds at reconnect', async () => {
    const log = new MemoryLocalLog()
    const c = await client(a.url, { log })
    c.start()
    await c.whenSynced()
    const served = await (await fetch(`${a.url}/v1/log/checkpoint`)).text()
    expect(c.checkpoint).toMatchObject({ note: served, size: 2 })
    expect(await log.getMeta('relay/checkpoint')).toMatchObject({ note: served })
    expect((await log.read(stream())).map((r) => r.position)).toEqual([0, 1])
    await c.stop()
  })

  it('a forked log (two trees of one size under one key) → LOG_INCONSISTENT, both notes kept as evidence', async () => {
    const log = new MemoryLocalLog()
    const first = await client(a.url, { log })
    first.start()
    await first.whenSynced()
    await first.stop()
    const before = await log.read(stream())
    // The same relay (same key, so the pin holds) shows this client another history of the same size.
    const c = await client(b.url, { log })
    const halted = expectHalt(c)
    c.start()
    const { quarantined, reason } = await halted
    expect(quarantined.code).toBe('LOG_INCONSISTENT')
    expect(reason).toBe('fork')
    await c.stop()
    const [evidence] = await c.logEvidence()
    expect(evidence).toMatchObject({ reason: 'fork', relayKeyId: c.relayPin!.publicKeyId })
    // Anyone can check the evidence offline: both notes verify under the relay key, same size, other roots.
    const key = { name: 'pixpax.local/log', publicKey: relayKey.publicKey }
    const held = await verifySignedCheckpoint(evidence!.held!, key, nodeVerifier())
    const received = await verifySignedCheckpoint(evidence!.received, key, nodeVerifier())
    expect(held.size).toBe(received.size)
    expect(Buffer.from(held.root).equals(Buffer.from(received.root))).toBe(false)
    // Nothing of B's history entered the log; the held checkpoint is still A's.
    expect(await log.read(stream())).toEqual(before)
    expect(c.checkpoint?.note).toBe(await (await fetch(`${a.url}/v1/log/checkpoint`)).text())
  })

  it('a rolled-back checkpoint, and a replayed old batch, → LOG_INCONSISTENT rollback', async () => {
    for (const replay of ['checkpoint', 'batch'] as const) {
      let oldBatch: Msg | undefined
      const proxy = await startProxy(a.url, (m) => {
        if (m.type === 'receipts') oldBatch ??= structuredClone(m)
        return [m]
      })
      const log = new MemoryLocalLog()
      const c = await client(proxy.url, { log })
      c.start()
      await c.whenSynced()
      const oldSize = c.checkpoint!.size
      // The log grows; the client is shown (and verifies) the newer checkpoint.
      const grown = new Promise<void>((resolve) => c.on('checkpoint', (cp) => cp.size > oldSize && resolve()))
      const other = await makeIdentity(`grow-${replay}`, `acc-grow-${replay}`)
      expect((await postReceipts(a, [other.created])).status).toBe(200)
      await grown
      const logged = await log.read(stream())
      const halted = expectHalt(c)
      proxy.inject(replay === 'checkpoint' ? { type: 'checkpoint', checkpoint: oldBatch!.checkpoint } : oldBatch!)
      expect((await halted).reason).toBe('rollback')
      expect(await log.read(stream())).toEqual(logged)
      expect(c.checkpoint!.size).toBeGreaterThan(oldSize)
      await c.stop()
      await proxy.close()
    }
  })

  it('a checkpoint whose note was altered → LOG_INCONSISTENT, nothing applied', async () => {
    const proxy = await startProxy(a.url, (m) => {
      if (m.checkpoint) {
        const cp = m.checkpoint as { note: string }
        const lines = cp.note.split('\n')
        lines[1] = String(Number(lines[1]) + 1) // claim a bigger tree under the same signature
        cp.note = lines.join('\n')
      }
      return [m]
    })
    const log = new MemoryLocalLog()
    const c = await client(proxy.url, { log })
    const halted = expectHalt(c)
    c.start()
    expect((await halted).reason).toBe('bad-note')
    expect(await log.read(stream())).toEqual([])
    expect(c.checkpoint).toBeUndefined()
    await c.stop()
    await proxy.close()
  })

  it('a larger checkpoint without its consistency proof → LOG_INCONSISTENT', async () => {
    const log = new MemoryLocalLog()
    const first = await client(a.url, { log })
    first.start()
    await first.whenSynced()
    await first.stop()
    const other = await makeIdentity('grow-proofless', 'acc-grow-proofless')
    expect((await postReceipts(a, [other.created])).status).toBe(200)
    const proxy = await startProxy(a.url, (m) => {
      delete (m.checkpoint as { consistency?: unknown } | undefined)?.consistency
      return [m]
    })
    const c = await client(proxy.url, { log, streams: [`identity/${other.identityId}`] })
    const halted = expectHalt(c)
    c.start()
    expect((await halted).reason).toBe('missing-proof')
    expect(await log.read(`identity/${other.identityId}`)).toEqual([])
    await c.stop()
    await proxy.close()
  })
})
