/**
 * Live fan-out across relay replicas: two relay processes share Postgres and the store; a subscriber
 * connected to relay B receives, live and in order, receipts appended through relay A — delivered by
 * Postgres LISTEN/NOTIFY, not by anything in-process.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { canonicalBytes, formatSignature, type Receipt, type ServerMessage } from '@pixpax/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import {
  accountStream,
  adminQuery,
  dropSchemas,
  identityCreated,
  newIdentity,
  pixbookStream,
  relayEnv,
  startRelayProcess,
  StreamWriter,
  uniqueSchema,
  type RelayProcess,
} from './support/relay-harness.js'

const PREFIX = `pixpax_fanout_${randomBytes(4).toString('hex')}`
const processes: RelayProcess[] = []

beforeAll(async () => {
  await adminQuery('SELECT 1') // fail, never skip, without Postgres
})
afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()))
  await dropSchemas(PREFIX)
})

async function post(url: string, receipts: Receipt[]): Promise<void> {
  const res = await fetch(`${url}/v1/receipts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ receipts }),
  })
  expect(res.status, await res.clone().text()).toBe(200)
}

describe('live fan-out across two relay processes (Postgres LISTEN/NOTIFY)', () => {
  it('a subscriber on relay B gets what is appended on relay A, in order, no gap, no duplicate', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pixpax-fanout-'))
    const env = relayEnv({ db: 'pg', store: 'fs', dataDir, schema: uniqueSchema(PREFIX) })
    const [a, b] = await Promise.all([startRelayProcess(env), startRelayProcess(env)])
    processes.push(a, b)
    const owner = newIdentity(`acc-${randomBytes(3).toString('hex')}`)
    const account = new StreamWriter(accountStream(owner.accountId))
    const book = new StreamWriter(pixbookStream(owner.accountId, 'live'))
    const created = await identityCreated(owner)
    const opened = await account.build('ACCOUNT_CREATED', {}, owner)
    const genesis = await book.build('PIXBOOK_CREATED', { title: 'live' }, owner)
    book.advance(genesis)
    await post(a.url, [created, opened, genesis])

    // A session on relay B (sessions live in the shared database).
    const challenge = (await (
      await fetch(`${b.url}/v1/auth/challenge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    ).json()) as {
      nonce: string
    }
    const relay = (await (await fetch(`${b.url}/v1/relay`)).json()) as { identityId: string }
    const message = canonicalBytes({
      purpose: 'pixpax-session',
      nonce: challenge.nonce,
      identityId: owner.identityId,
      relay: relay.identityId,
    })
    const session = await fetch(`${b.url}/v1/auth/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        identityId: owner.identityId,
        publicKeyId: owner.signer.publicKeyId,
        nonce: challenge.nonce,
        signature: formatSignature(await owner.signer.sign(message)),
      }),
    })
    const { token } = (await session.json()) as { token: string }

    const ws = new WebSocket(`${b.url.replace('http', 'ws')}/v1/sync`)
    const seqs: number[] = []
    const eventIds: string[] = []
    let caughtUp!: () => void
    const ready = new Promise<void>((resolve) => (caughtUp = resolve))
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString()) as ServerMessage
      if (m.type === 'receipts') {
        for (const d of m.receipts) {
          seqs.push(d.seq)
          eventIds.push((d.receipt as Receipt).eventId)
        }
      }
      if (m.type === 'caught-up') caughtUp()
    })
    await new Promise<void>((resolve) => ws.once('open', () => resolve()))
    ws.send(JSON.stringify({ type: 'hello', v: 1, token }))
    ws.send(JSON.stringify({ type: 'subscribe', streams: [{ key: book.key }] }))
    await ready
    expect(seqs).toEqual([1])

    // 30 receipts appended through relay A, in several requests.
    const sent: string[] = []
    let group: Receipt[] = []
    for (let i = 0; i < 30; i++) {
      const r = await book.build('CARD_ADDED', { cardId: `c${i}`, artHash: 'sha256:' + 'ab'.repeat(32) }, owner)
      book.advance(r)
      sent.push(r.eventId)
      group.push(r)
      if (group.length === 3) {
        await post(a.url, group)
        group = []
      }
    }
    const deadline = Date.now() + 10_000
    while (seqs.length < 31 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    ws.close()
    expect(seqs).toEqual(Array.from({ length: 31 }, (_, i) => i + 1))
    expect(eventIds.slice(1)).toEqual(sent)
  }, 60_000)
})
