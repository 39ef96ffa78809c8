/**
 * Views (issue 12 §7) from a real player process to a real relay: the player plays its owner's posts
 * and reports each play as a view, at most one per 5 s, in DEVICE_VIEWS batches through its outbox.
 * With the relay stopped it keeps recording; stopped itself (SIGTERM) while the relay is down and
 * started again, every batch it appended reaches the relay exactly once, and the owner's counts per
 * device and per post are what the receipts say.
 */
import { join } from 'node:path'
import { MIN_VIEW_GAP_MS, type DeviceViews } from '@pixpax/shared'
import { beforeAll, describe, expect, it } from 'vitest'
import { http, startTestRelay } from '../../sync-server/test/support/relay-harness.js'
import { solidPng } from './support/owner.js'
import { startPlayer, type PlayerProcess } from './support/player-process.js'
import { until } from './support/relay-proxy.js'
import { pairPlayer, usePlayerTestbed } from './support/testbed.js'

/** `views <n> <last viewedAt>` lines: the batches a player appended to its outbox. */
const batchesOf = (p: PlayerProcess) =>
  p.lines.flatMap((l) => {
    const m = /^views (\d+) (\S+)$/.exec(l)
    return m ? [{ n: Number(m[1]), last: m[2]! }] : []
  })

describe('views from a player', () => {
  const bed = usePlayerTestbed('views')
  let env: Record<string, string>
  let identityId: string
  const posts: string[] = []
  const relayBatches = async () => {
    const rows = await bed.relay.deps.db.query<{ seq: number; idempotency_key: string; body: string }>(
      `SELECT seq, idempotency_key, body FROM receipts WHERE stream_key = $1 AND type = 'DEVICE_VIEWS' ORDER BY seq`,
      [`device/${identityId}`],
    )
    return rows.rows.map((r) => ({ ...r, views: (JSON.parse(r.body) as { payload: DeviceViews }).payload.views }))
  }

  beforeAll(async () => {
    for (const colour of [
      [255, 0, 0],
      [0, 0, 255],
    ] as const)
      posts.push((await bed.owner.publish(solidPng(16, [...colour]), `art ${colour.join(',')}`)).postId)
    env = {
      RELAY_URL: bed.proxy.url,
      PLAYER_DIR: join(bed.root, 'player'),
      PLAYER_CHANNEL: `user:${bed.owner.who.identityId}`,
      PLAYER_STILL_SECONDS: '1',
      PLAYER_POLL_MS: '50',
      PLAYER_HEARTBEAT_SECONDS: '1',
    }
    const player = startPlayer(env)
    bed.players.push(player)
    identityId = await pairPlayer(player, bed.owner, 'Views')
  }, 90_000)

  it('reports plays as views of their posts, at most one per 5 s, on a clock the relay agrees with', async () => {
    const player = bed.players[0]!
    await player.waitFor(/^views \d+ /)
    const batches = await until(async () => {
      const b = await relayBatches()
      return b.flatMap((x) => x.views).length >= 2 ? b : undefined
    }, 'two views on the relay')
    const views = batches.flatMap((b) => b.views)
    for (const v of views) {
      expect(posts).toContain(v.postId)
      expect(v.channel).toBe(`relay:user:${bed.owner.who.identityId}`)
      expect(v.clockUnsynced).toBeUndefined()
    }
    for (let i = 1; i < views.length; i++)
      expect(Date.parse(views[i]!.viewedAt) - Date.parse(views[i - 1]!.viewedAt)).toBeGreaterThanOrEqual(MIN_VIEW_GAP_MS)
  }, 60_000)

  it('delivers every batch exactly once across a relay outage and a player restart', async () => {
    const first = bed.players[0]!
    const from = first.lines.length
    await bed.relay.close()
    await first.waitFor(/^relay offline$/, from)
    // A view recorded and appended while the relay is gone…
    await first.waitFor(/^views \d+ /, first.lines.length)
    // …and the player stopped before the relay is back: the batches wait in its outbox on disk.
    expect(await first.stop(), first.output()).toBe(0)
    const appended = batchesOf(first)

    bed.relay = await startTestRelay(bed.relay.options)
    bed.proxy.retarget(bed.relay.url)
    const second = startPlayer(env)
    bed.players.push(second)
    // The restarted player's own new views keep the 5 s gap after the last one it reported.
    await second.waitFor(/^views \d+ /)
    const all = await until(
      async () => {
        const b = await relayBatches()
        const later = batchesOf(second)[0]!
        const on = (x: { n: number; last: string }) => b.some((r) => r.views.length === x.n && r.views.at(-1)!.viewedAt === x.last)
        return [...appended, later].every(on) ? b : undefined
      },
      'every appended batch on the relay',
      60_000,
      () => second.output(),
    )
    // Exactly once: one receipt per batch, no idempotency key twice, the stream's seqs contiguous.
    expect(all.length).toBeGreaterThanOrEqual(appended.length + 1)
    expect(new Set(all.map((r) => r.idempotency_key)).size).toBe(all.length)
    const views = all.flatMap((r) => r.views)
    expect(new Set(views.map((v) => v.viewedAt)).size).toBe(views.length)
    expect(second.output()).not.toMatch(/relay refused DEVICE_VIEWS/)
    const seqs = await bed.relay.deps.db.query<{ seq: number }>('SELECT seq FROM receipts WHERE stream_key = $1 ORDER BY seq', [
      `device/${identityId}`,
    ])
    expect(seqs.rows.map((r) => r.seq)).toEqual(seqs.rows.map((_, i) => i + 1))

    // The owner's counts are the receipts' views, per device and per post.
    const rows = await bed.relay.deps.db.query<{ n: number }>('SELECT count(*)::int AS n FROM device_views WHERE device_identity_id = $1', [
      identityId,
    ])
    const counted = await http<{ views: number; posts: Array<{ postId: string; views: number }> }>(
      `${bed.relay.url}/v1/devices/${identityId}/views`,
      { headers: { authorization: `Bearer ${bed.owner.token}` } },
    )
    expect(counted.json.views).toBe(rows.rows[0]!.n)
    expect(counted.json.views).toBeGreaterThanOrEqual(views.length)
    const perPost = await http<{ views: number }>(`${bed.relay.url}/v1/posts/${posts[0]}/views`)
    expect(perPost.json.views).toBe(counted.json.posts.find((p) => p.postId === posts[0])?.views ?? 0)
    expect(await second.stop(), second.output()).toBe(0)
  }, 120_000)
})
