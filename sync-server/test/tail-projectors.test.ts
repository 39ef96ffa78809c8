/**
 * Tail projectors (ARCHITECTURE §7) on Postgres and PGlite: search and notifications follow the log at
 * their own offsets; a read says how far behind they are; a relay restarted after its runner stopped
 * catches up from the stored offset; a projection whose rows and offset are gone catches up from 0 to
 * the same rows; `rebuild --projector search` alone, with appends going on, gives the same digest.
 */
import { randomBytes } from 'node:crypto'
import { nodeSha256, nodeVerifier } from '@pixpax/shared/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { relayTrustPolicy } from '../src/app.js'
import type { ProjectionDb } from '../src/db/projection-db.js'
import { TAIL_PROJECTORS } from '../src/domains/modules.js'
import { TailRunner } from '../src/projection/tail-runner.js'
import { projectionDigest } from '../src/replay/digest.js'
import { rebuild } from '../src/replay/rebuild.js'
import {
  adminQuery,
  dropSchemas,
  http,
  openSession,
  removeDir,
  startTestRelay,
  uniqueSchema,
  type TestRelay,
} from './support/relay-harness.js'
import { act, holdMedia, join, postPayload, socialActor, type MediaRow } from './support/social-fixtures.js'

const PREFIX = `pixpax_tail_${randomBytes(4).toString('hex')}`

beforeAll(async () => {
  await adminQuery('SELECT 1')
})
afterAll(async () => {
  await dropSchemas(PREFIX)
})

interface Page {
  items: Array<{ postId?: string; kind?: string }>
}

describe.each(['pg', 'pglite'] as const)('tail projectors on %s', (db) => {
  let relay: TestRelay
  const alice = socialActor('person', 'alice')
  const bob = socialActor('person', 'bob')
  const mod = socialActor('moderator')
  let png: MediaRow
  let aliceToken: string

  const offsets = async (): Promise<Record<string, number>> => {
    const rows = await relay.deps.db.query<{ projector: string; applied_size: number }>(
      'SELECT projector, applied_size FROM projector_offsets',
    )
    return Object.fromEntries(rows.rows.map((r) => [r.projector, r.applied_size]))
  }
  const logSize = async (): Promise<number> => (await relay.deps.db.query<{ size: number }>('SELECT size FROM log_sequence')).rows[0]!.size
  const search = (q: string) => http<Page>(`${relay.url}/v1/search?q=${encodeURIComponent(q)}`)
  const notifications = () => http<Page>(`${relay.url}/v1/notifications`, { headers: { authorization: `Bearer ${aliceToken}` } })

  beforeAll(async () => {
    // A short wait, so a read of a stopped projection answers soon (and says how far behind it is).
    relay = await startTestRelay({
      db,
      store: 'fs',
      schema: uniqueSchema(PREFIX),
      env: { MODERATORS: mod.identityId, TAIL_READ_WAIT_MS: '50' },
    })
    await join(relay.url, mod)
    await join(relay.url, alice, `alice_${db}`)
    await join(relay.url, bob, `bob_${db}`)
    await act(relay.url, mod, 'USER_TRUSTED', { identityId: alice.identityId }, 'moderation')
    png = await holdMedia(relay.deps.db, `png ${db}`)
    aliceToken = await openSession(relay.url, alice)
  })
  afterAll(async () => {
    await relay?.close()
    if (relay) await removeDir(relay.options.dataDir)
  })

  it('search and notifications follow the log to its end, each at its own offset', async () => {
    const post = await act(relay.url, alice, 'POST_PUBLISHED', postPayload(png, 'Castle in the clouds', { hashtags: ['castle'] }))
    await act(relay.url, bob, 'REACTION_ADDED', { postId: post.eventId, emoji: '🏰' })
    // Answered once the projection covers the log as it was when the request came: no polling.
    const found = await search('castles')
    expect(found.status).toBe(200)
    expect(found.headers.get('x-projection-behind')).toBe('0')
    expect(found.json.items.map((p) => p.postId)).toEqual([post.eventId])
    const notes = await notifications()
    expect(notes.headers.get('x-projection-behind')).toBe('0')
    expect(notes.json.items.map((n) => n.kind)).toEqual(['reaction'])
    await relay.app.relay.tails.settled()
    const size = await logSize()
    expect(await offsets()).toMatchObject({ search: size, notifications: size, social: size })
  })

  it('a stopped runner leaves reads behind, and says so; a restart catches up from the stored offset', async () => {
    await relay.app.relay.tails.stop()
    const at = (await offsets()).search!
    const post = await act(relay.url, alice, 'POST_PUBLISHED', postPayload(png, 'Windmill at dusk'))
    await act(relay.url, bob, 'COMMENT_ADDED', { postId: post.eventId, body: 'lovely' })
    const behind = await search('windmill')
    expect(behind.json.items).toEqual([])
    expect(Number(behind.headers.get('x-projection-behind'))).toBe((await logSize()) - at)
    expect((await offsets()).search).toBe(at)

    await relay.close()
    relay = await startTestRelay(relay.options)
    const caughtUp = await search('windmill')
    expect(caughtUp.headers.get('x-projection-behind')).toBe('0')
    expect(caughtUp.json.items.map((p) => p.postId)).toEqual([post.eventId])
    expect((await notifications()).json.items.map((n) => n.kind)).toEqual(['comment', 'reaction'])
  })

  it('a projection with no rows and no offset catches up from position 0 to the same rows', async () => {
    await relay.app.relay.tails.settled()
    const before = await projectionDigest(relay.deps.db)
    // Wipe the search projection as a fresh table would be (its runner stopped first), then restart.
    await relay.app.relay.tails.stop()
    await relay.deps.db.query('TRUNCATE search_posts, search_words, search_hashtags')
    await relay.deps.db.query(`DELETE FROM projector_offsets WHERE projector = 'search'`)
    await relay.close()
    relay = await startTestRelay(relay.options)
    await relay.app.relay.tails.settled()
    expect(await projectionDigest(relay.deps.db)).toEqual(before)
  })

  it('rebuild --projector search alone, with appends going on, gives the same rows as following the log', async () => {
    const policy = relayTrustPolicy(relay.config)
    const appends = (async () => {
      for (let i = 0; i < 5; i++) await act(relay.url, alice, 'POST_PUBLISHED', postPayload(png, `Lighthouse ${i}`, { hashtags: ['sea'] }))
    })()
    const result = await rebuild(
      { db: relay.deps.db, store: relay.deps.store, sha256: nodeSha256, verifier: nodeVerifier(), policy },
      { projectors: ['search'], batchSize: 3 },
    )
    await appends
    expect(result.projectors).toEqual(['search'])
    await relay.app.relay.tails.settled()
    const live = await projectionDigest(relay.deps.db)
    expect(live.tables.search_posts!.rows).toBe(7)
    expect((await search('lighthouse')).json.items).toHaveLength(5)
    // Everything rebuilt from the store gives the same rows again.
    await rebuild({ db: relay.deps.db, store: relay.deps.store, sha256: nodeSha256, verifier: nodeVerifier(), policy })
    expect(await projectionDigest(relay.deps.db)).toEqual(live)
    expect((await offsets()).search).toBe(await logSize())
  })

  it('a misspelt query pages through its typo matches with the cursor it was given', async () => {
    const seen: string[] = []
    let path = '/v1/search?q=lighthuose&limit=2'
    for (;;) {
      const page = await http<Page & { next: string | null }>(`${relay.url}${path}`)
      expect(page.status, page.text).toBe(200)
      seen.push(...page.json.items.map((p) => p.postId!))
      if (!page.json.next) break
      path = `/v1/search?q=lighthuose&limit=2&cursor=${page.json.next}`
    }
    expect(seen).toHaveLength(5)
    expect(new Set(seen).size).toBe(5)
  })

  it('moves over receipts no tail projector reads in one statement, with no batch transaction', async () => {
    await relay.app.relay.tails.stop()
    let transactions = 0
    const db = relay.deps.db
    const counting: ProjectionDb = {
      name: db.name,
      query: (sql, params) => db.query(sql, params),
      transaction: (fn) => {
        transactions++
        return db.transaction(fn)
      },
      withLock: (key, fn) => db.withLock(key, fn),
      close: () => Promise.resolve(),
    }
    const runner = new TailRunner({ db: counting, notifier: relay.app.relay.notifier, projectors: TAIL_PROJECTORS })
    // Identity receipts only: neither search (profile) nor notifications (profile, moderation) reads them.
    for (const who of [socialActor('person', 'carol'), socialActor('person', 'dave')]) await join(relay.url, who)
    await runner.start()
    await runner.settled()
    const size = await logSize()
    expect(await offsets()).toMatchObject({ search: size, notifications: size })
    expect(transactions).toBe(0)
    // A receipt search reads: a batch transaction again, and the post is found.
    const post = await act(relay.url, alice, 'POST_PUBLISHED', postPayload(png, 'Lighthouse in fog'))
    runner.wake()
    await runner.settled()
    expect(transactions).toBeGreaterThan(0)
    expect((await offsets()).search).toBe(await logSize())
    await runner.stop()
    await relay.close()
    relay = await startTestRelay(relay.options)
    expect((await search('lighthouse')).json.items.map((p) => p.postId)).toContain(post.eventId)
  })
})
