/**
 * Catch-up read-ahead: a client that verifies slower than the relay sends stops reading from its socket
 * (where the socket can pause, as `ws` can) once `readAheadBatches` delivered batches wait to be applied,
 * and reads again as they are applied — so a long catch-up holds a few batches in memory, not the stream.
 */
import { buildReceipt, type ChainHead, type Receipt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { login } from '../src/network/session.js'
import { MemoryLocalLog } from '../src/storage/memory-local-log.js'
import { SyncClient } from '../src/sync/sync-client.js'
import { makeIdentity, nodeWebSocket, postReceipts, startTestRelay, type TestIdentity, type TestRelay } from './support/relay.js'
import type { WebSocketLike } from '../src/sync/connection.js'

const BOOK = 'pixbook/acc-reader/long'
const RECEIPTS = 2_400 // five delivery batches of ≤ 500

describe('catch-up read-ahead against a real relay', () => {
  let relay: TestRelay
  let alice: TestIdentity
  let token: string

  beforeAll(async () => {
    relay = await startTestRelay()
    alice = await makeIdentity('reader', 'acc-reader')
    let head: ChainHead | null = null
    const sign = async (stream: Receipt['stream'], type: string, payload: Record<string, unknown>, prev: ChainHead | null) =>
      buildReceipt({ stream, type, payload, identityId: 'reader', signer: alice.signer, prev, sha256: nodeSha256 })
    expect(
      (await postReceipts(relay, [alice.created, await sign({ type: 'account', accountId: 'acc-reader' }, 'ACCOUNT_CREATED', {}, null)]))
        .status,
    ).toBe(200)
    const book = { type: 'pixbook', accountId: 'acc-reader', bookId: 'long' } as const
    let batch: Receipt[] = []
    for (let i = 0; i < RECEIPTS; i++) {
      const r = await sign(
        book,
        i === 0 ? 'PIXBOOK_CREATED' : 'CARD_ADDED',
        i === 0 ? { title: 'long' } : { cardId: `c${i}`, artHash: 'sha256:' + 'ab'.repeat(32) },
        head,
      )
      head = { eventId: r.eventId, hash: r.hash }
      batch.push(r)
      if (batch.length === 800) {
        expect((await postReceipts(relay, batch)).status).toBe(200)
        batch = []
      }
    }
    if (batch.length) expect((await postReceipts(relay, batch)).status).toBe(200)
    token = (await login(relay.url, 'reader', alice.signer)).token
  }, 120_000)
  afterAll(async () => relay.close())

  /** Catches up BOOK with a socket that counts pause() and resume() and tracks whether it is paused. */
  async function catchUp(readAheadBatches: number) {
    const calls = { pause: 0, resume: 0, paused: false }
    const verifier = nodeVerifier()
    // A slow verifier: each signature waits a macrotask, so the relay is always ahead of the client.
    const slow = {
      ...verifier,
      verify: async (...args: Parameters<typeof verifier.verify>) => {
        await new Promise((resolve) => setImmediate(resolve))
        return verifier.verify(...args)
      },
    }
    const client = await SyncClient.open({
      relayUrl: relay.url,
      log: new MemoryLocalLog(),
      identityId: 'reader',
      signer: alice.signer,
      streams: [BOOK],
      verifier: slow,
      sha256: nodeSha256,
      token: () => token,
      readAheadBatches,
      webSocket: (url) => {
        const ws = nodeWebSocket(url) as WebSocketLike & { pause(): void; resume(): void }
        const pause = ws.pause.bind(ws)
        const resume = ws.resume.bind(ws)
        ws.pause = () => {
          calls.pause++
          calls.paused = true
          pause()
        }
        ws.resume = () => {
          calls.resume++
          calls.paused = false
          resume()
        }
        return ws
      },
    })
    client.start()
    await client.whenSynced(60_000)
    const head = client.head(BOOK)
    await client.stop()
    return { calls, head }
  }

  it('pauses reading while batches wait and resumes as they are applied; every receipt arrives, in order', async () => {
    const { calls, head } = await catchUp(1)
    expect(head?.seq).toBe(RECEIPTS)
    expect(calls.pause).toBeGreaterThan(0)
    expect(calls.resume).toBe(calls.pause)
    expect(calls.paused).toBe(false)
  }, 60_000)

  it('a client stopped while its socket is paused still completes the close handshake at once', async () => {
    // Signatures hang until released, so the client sits paused with batches waiting; then it stops.
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    let paused!: () => void
    const pausedOnce = new Promise<void>((resolve) => (paused = resolve))
    let closed!: () => void
    const closedOnce = new Promise<void>((resolve) => (closed = resolve))
    const verifier = nodeVerifier()
    const client = await SyncClient.open({
      relayUrl: relay.url,
      log: new MemoryLocalLog(),
      identityId: 'reader',
      signer: alice.signer,
      streams: [BOOK],
      verifier: { ...verifier, verify: async (...args: Parameters<typeof verifier.verify>) => gate.then(() => verifier.verify(...args)) },
      sha256: nodeSha256,
      token: () => token,
      readAheadBatches: 1,
      webSocket: (url) => {
        const ws = nodeWebSocket(url) as WebSocketLike & { pause(): void; on(event: 'close', f: () => void): void }
        const pause = ws.pause.bind(ws)
        ws.pause = () => {
          pause()
          paused()
        }
        ws.on('close', () => closed())
        return ws
      },
    })
    client.start()
    await pausedOnce
    const stopping = client.stop()
    release()
    await stopping
    // Unread, the relay's close frame would keep the socket open until ws's 30 s close timeout.
    await closedOnce
  }, 20_000)

  it('with a read-ahead deeper than the catch-up, never pauses', async () => {
    const { calls, head } = await catchUp(1_000)
    expect(head?.seq).toBe(RECEIPTS)
    expect(calls.pause).toBe(0)
  }, 60_000)
})
