/**
 * Live notifications over the sync WebSocket, across replicas: two relay processes share Postgres and
 * the store; a person connected to relay B is pushed the notification of a follow and a reaction pushed
 * through relay A — projected by whichever replica's tail runner took the batch, announced by
 * Postgres NOTIFY. A reconnect resumes after the last position received (what it missed comes first);
 * without a session the request is refused, the connection stays open.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import type { LiveNotification, ServerMessage } from '@pixpax/shared'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import {
  adminQuery,
  dropSchemas,
  openSession,
  relayEnv,
  startRelayProcess,
  uniqueSchema,
  type RelayProcess,
} from './support/relay-harness.js'
import { act, join, postPayload, socialActor } from './support/social-fixtures.js'

const PREFIX = `pixpax_livenote_${randomBytes(4).toString('hex')}`
const processes: RelayProcess[] = []

beforeAll(async () => {
  await adminQuery('SELECT 1') // fail, never skip, without Postgres
})
afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill()))
  await dropSchemas(PREFIX)
})

/** A sync connection whose messages can be awaited one by one, in arrival order. */
async function connect(
  url: string,
  token?: string,
): Promise<{ next: (type: ServerMessage['type']) => Promise<ServerMessage>; send: (m: unknown) => void; close: () => void }> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/sync`)
  const queue: ServerMessage[] = []
  const waiting: Array<() => void> = []
  ws.on('message', (data: Buffer) => {
    queue.push(JSON.parse(data.toString()) as ServerMessage)
    for (const w of waiting.splice(0)) w()
  })
  await new Promise<void>((resolve) => ws.once('open', () => resolve()))
  const next = async (type: ServerMessage['type']): Promise<ServerMessage> => {
    for (;;) {
      const i = queue.findIndex((m) => m.type === type)
      if (i >= 0) return queue.splice(i, 1)[0]!
      await new Promise<void>((resolve) => waiting.push(resolve))
    }
  }
  const send = (m: unknown): void => ws.send(JSON.stringify(m))
  send({ type: 'hello', v: 1, ...(token ? { token } : {}) })
  await next('welcome')
  return { next, send, close: () => ws.close() }
}

const items = (m: ServerMessage): LiveNotification[] => (m.type === 'notifications' ? m.items : [])

describe('live notifications across two relay processes (Postgres)', () => {
  let a: RelayProcess
  let b: RelayProcess
  const alice = socialActor('person', 'alice')
  const bob = socialActor('person', 'bob')
  let aliceToken: string

  beforeAll(async () => {
    const dataDir = await mkdtemp(joinPath(tmpdir(), 'pixpax-livenote-'))
    const schema = uniqueSchema(PREFIX)
    const env = relayEnv({ db: 'pg', store: 'fs', dataDir, schema, env: { SOCIAL_REQUIRE_APPROVAL: 'false' } })
    ;[a, b] = await Promise.all([startRelayProcess(env), startRelayProcess(env)])
    processes.push(a, b)
    await join(a.url, alice, 'alice_live')
    await join(a.url, bob, 'bob_live')
    aliceToken = await openSession(b.url, alice)
    // A validated blob for alice's post (what the media module records after an upload).
    await adminQuery(
      `INSERT INTO "${schema}".media_blobs (hash, mime, width, height, frames, unique_colors, transparent, byte_size, uploaded_by, uploaded_at, status)
       VALUES ($1, 'image/png', 32, 32, 1, 4, false, 100, $2, '2026-12-01T00:00:00.000Z', 'ok')`,
      ['sha256:' + 'ef'.repeat(32), alice.identityId],
    )
  }, 90_000)

  it('pushes a notification made through relay A to the recipient on relay B; a reconnect resumes after its cursor', async () => {
    const live = await connect(b.url, aliceToken)
    live.send({ type: 'notifications', id: 'n1', after: null })
    const answer = await live.next('notifications')
    expect(answer).toEqual({ type: 'notifications', id: 'n1', items: [] })

    await act(a.url, bob, 'FOLLOWED', { identityId: alice.identityId })
    const follow = items(await live.next('notifications'))
    expect(follow.map((n) => [n.kind, n.actor.identityId])).toEqual([['follow', bob.identityId]])

    const media = { hash: 'sha256:' + 'ef'.repeat(32), mime: 'image/png', width: 32, height: 32, frames: 1 }
    const post = await act(a.url, alice, 'POST_PUBLISHED', postPayload(media, 'Live pixels'))
    live.close()
    // While alice is away, bob reacts; her next connection asks for what came after the follow.
    await act(a.url, bob, 'REACTION_ADDED', { postId: post.eventId, emoji: '✨' })
    const again = await connect(b.url, aliceToken)
    again.send({ type: 'notifications', id: 'n2', after: follow[0]!.position })
    const missed = await again.next('notifications')
    expect(missed.type === 'notifications' && missed.id).toBe('n2')
    expect(items(missed).map((n) => [n.kind, n.postId, n.detail])).toEqual([['reaction', post.eventId, '✨']])
    // From position 0: everything, oldest first — the same rows GET /v1/notifications lists newest first.
    again.send({ type: 'notifications', id: 'n3', after: 0 })
    const all = items(await again.next('notifications'))
    expect(all.map((n) => n.kind)).toEqual(['follow', 'reaction'])
    const listed = (await (await fetch(`${b.url}/v1/notifications`, { headers: { authorization: `Bearer ${aliceToken}` } })).json()) as {
      items: LiveNotification[]
    }
    expect(listed.items).toEqual([...all].reverse())
    again.close()
  }, 60_000)

  it('refuses notifications without a session, and the connection stays usable', async () => {
    const anonymous = await connect(b.url)
    anonymous.send({ type: 'notifications', id: 'x1' })
    const error = await anonymous.next('error')
    expect(error).toMatchObject({ type: 'error', id: 'x1', code: 'UNAUTHENTICATED', fatal: false })
    anonymous.send({ type: 'ping', id: 'p1' })
    expect(await anonymous.next('pong')).toEqual({ type: 'pong', id: 'p1' })
    anonymous.close()
  })
})
