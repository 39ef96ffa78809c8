import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildReceipt, ChainVerifier, type Receipt } from '@pixpax/shared'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { login } from '../src/network/session.js'
import { FileKeyStore, FileLocalLog } from '../src/node.js'
import { SyncClient } from '../src/sync/sync-client.js'
import { nodeWebSocket, postReceipts, startTestRelay, type TestRelay } from './support/relay.js'

const child = join(import.meta.dirname, 'support', 'crash-child.ts')

describe('a Node client killed in the middle of writing', () => {
  let relay: TestRelay
  let dir: string
  let token: string
  const identityId = 'crashy'
  const book = 'pixbook/acc-crash/book'

  beforeAll(async () => {
    relay = await startTestRelay()
    dir = await mkdtemp(join(tmpdir(), 'pixpax-crash-'))
    const signer = await new FileKeyStore(join(dir, 'keys')).create(identityId)
    const created = await buildReceipt({
      stream: { type: 'identity', identityId },
      type: 'IDENTITY_CREATED',
      payload: { publicKey: signer.publicKey, accountId: 'acc-crash', kind: 'device' },
      identityId,
      signer,
      prev: null,
      sha256: nodeSha256,
    })
    const account = await buildReceipt({
      stream: { type: 'account', accountId: 'acc-crash' },
      type: 'ACCOUNT_CREATED',
      payload: {},
      identityId,
      signer,
      prev: null,
      sha256: nodeSha256,
    })
    expect((await postReceipts(relay, [created, account])).status).toBe(200)
    token = (await login(relay.url, identityId, signer)).token
  }, 60_000)
  afterAll(async () => {
    await relay.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('restarts with its log intact, re-sends its outbox and creates no duplicate', async () => {
    const count = 200
    // Run the client and kill it (SIGKILL: no cleanup) while it appends and pushes.
    const proc = spawn(process.execPath, ['--import', 'tsx', child, relay.url, dir, identityId, token, book, String(count)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', (d: Buffer) => {
        if (String(d).includes('appending')) setTimeout(() => proc.kill('SIGKILL'), 30)
      })
      proc.on('exit', () => resolve())
      proc.on('error', reject)
    })
    expect(proc.signalCode).toBe('SIGKILL')
    // Restart from the same directory: whatever reached the durable outbox is sent (again, if needed).
    const log = await FileLocalLog.open(join(dir, 'log'))
    const signer = (await new FileKeyStore(join(dir, 'keys')).load(identityId))!
    const client = await SyncClient.open({
      relayUrl: relay.url,
      log,
      identityId,
      signer,
      webSocket: nodeWebSocket,
      verifier: nodeVerifier(),
      sha256: nodeSha256,
      token: () => token,
      streams: [book],
    })
    // What survived the kill: receipts in the log plus those in the outbox — counted once, since a kill
    // between the log append and the outbox cleanup leaves a receipt in both (it is resent, not duplicated).
    const held = new Set(client.pending().map((e) => e.receipt.hash))
    for await (const r of log.scan()) if (r.streamKey === book) held.add(r.receipt.hash)
    const survived = held.size
    expect(survived).toBeGreaterThan(0)
    client.start()
    await client.whenSynced(30_000)
    await client.stop()
    const res = await fetch(`${relay.url}/v1/receipts?stream=${book}&limit=1000`, { headers: { authorization: `Bearer ${token}` } })
    const { receipts } = (await res.json()) as { receipts: Receipt[] }
    // No duplicate: every card at most once, every idempotency key once, and one valid chain.
    const cards = receipts.filter((r) => r.type === 'CARD_ADDED').map((r) => r.payload.cardId)
    expect(new Set(cards).size).toBe(cards.length)
    expect(new Set(receipts.map((r) => r.idempotencyKey)).size).toBe(receipts.length)
    expect(receipts.length).toBe(survived)
    const verifier = new ChainVerifier({ verifier: nodeVerifier() })
    const identity = (await (await fetch(`${relay.url}/v1/receipts?stream=identity/${identityId}`)).json()) as { receipts: Receipt[] }
    for (const r of [...identity.receipts, ...receipts]) expect(await verifier.add(r)).toMatchObject({ ok: true })
    // And the local log agrees with the relay.
    const local: number[] = []
    for await (const r of log.scan()) if (r.streamKey === book) local.push(r.seq)
    expect(local).toEqual(receipts.map((_, i) => i + 1))
    await log.close()
  }, 60_000)
})
