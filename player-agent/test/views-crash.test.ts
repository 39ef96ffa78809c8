/**
 * Views survive kill -9 (issue 12): a real player records views (`view <viewedAt>`: journaled) with no
 * heartbeat due to send them, and is killed with SIGKILL. Restarted, it sends every one of them, and the
 * relay counts each exactly once; killed again right after that batch reached its outbox and restarted
 * once more, nothing is sent twice and nothing is refused.
 */
import { join } from 'node:path'
import type { DeviceViews } from '@pixpax/shared'
import { beforeAll, describe, expect, it } from 'vitest'
import { http } from '../../sync-server/test/support/relay-harness.js'
import { solidPng } from './support/owner.js'
import { startPlayer, type PlayerProcess } from './support/player-process.js'
import { until } from './support/relay-proxy.js'
import { pairPlayer, usePlayerTestbed } from './support/testbed.js'

/** `view <viewedAt>` lines: the views a player journaled. */
const journaledBy = (p: PlayerProcess) => p.lines.flatMap((l) => /^view (\S+)$/.exec(l)?.slice(1) ?? [])

describe('views of a player killed with SIGKILL', () => {
  const bed = usePlayerTestbed('views-crash')

  beforeAll(async () => {
    for (const colour of [
      [255, 0, 0],
      [0, 0, 255],
    ] as const)
      await bed.owner.publish(solidPng(16, [...colour]), `art ${colour.join(',')}`)
  }, 90_000)

  it('counts every journaled view exactly once on the relay after a kill -9 and a restart', async () => {
    const env = {
      RELAY_URL: bed.proxy.url,
      PLAYER_DIR: join(bed.root, 'player'),
      PLAYER_CHANNEL: `user:${bed.owner.who.identityId}`,
      PLAYER_STILL_SECONDS: '1',
      PLAYER_POLL_MS: '50',
    }
    const relayViews = async (identityId: string) => {
      const rows = await bed.relay.deps.db.query<{ body: string }>(
        `SELECT body FROM receipts WHERE stream_key = $1 AND type = 'DEVICE_VIEWS' ORDER BY seq`,
        [`device/${identityId}`],
      )
      return rows.rows.flatMap((r) => (JSON.parse(r.body) as { payload: DeviceViews }).payload.views.map((v) => v.viewedAt))
    }

    // No heartbeat after the first (at start, before any view): views only reach the journal.
    const first = startPlayer({ ...env, PLAYER_HEARTBEAT_SECONDS: '3600' })
    bed.players.push(first)
    const identityId = await pairPlayer(first, bed.owner, 'Crashy views')
    await first.waitFor(/^view /)
    await first.waitFor(/^view /, first.lines.findIndex((l) => l.startsWith('view ')) + 1)
    await first.kill()
    const journaled = journaledBy(first)
    expect(journaled.length).toBeGreaterThanOrEqual(2)
    expect(first.lines.some((l) => l.startsWith('views '))).toBe(false)
    expect(await relayViews(identityId)).toEqual([])

    // Restarted: the journaled views go in the first batch, sent once.
    const second = startPlayer({ ...env, PLAYER_HEARTBEAT_SECONDS: '1' })
    bed.players.push(second)
    await second.waitFor(/^views \d+ /)
    const onRelay = await until(
      async () => {
        const views = await relayViews(identityId)
        return journaled.every((v) => views.includes(v)) ? views : undefined
      },
      'the journaled views on the relay',
      60_000,
      () => second.output(),
    )
    expect(onRelay.filter((v) => journaled.includes(v))).toEqual(journaled)
    // Killed right after a batch reached the outbox (the journal replaced or not yet), then restarted.
    await second.waitFor(/^views \d+ /, second.lines.findIndex((l) => l.startsWith('views ')) + 1)
    await second.kill()
    const third = startPlayer({ ...env, PLAYER_HEARTBEAT_SECONDS: '1' })
    bed.players.push(third)
    await third.waitFor(/^views \d+ /)
    const everyJournaled = [...journaled, ...journaledBy(second), ...journaledBy(third)]
    const all = await until(
      async () => {
        const views = await relayViews(identityId)
        return [...journaled, ...journaledBy(second)].every((v) => views.includes(v)) ? views : undefined
      },
      "the second player's views on the relay",
      60_000,
      () => third.output(),
    )
    expect(await third.stop(), third.output()).toBe(0)

    // Exactly once: no view twice, in order, nothing refused, and the counts are the receipts' views.
    expect(new Set(all).size).toBe(all.length)
    expect([...all].sort()).toEqual(all)
    for (const v of all) expect(everyJournaled).toContain(v)
    for (const p of [second, third]) expect(p.output()).not.toMatch(/relay refused/)
    const counted = await http<{ views: number }>(`${bed.relay.url}/v1/devices/${identityId}/views`, {
      headers: { authorization: `Bearer ${bed.owner.token}` },
    })
    expect(counted.json.views).toBe((await relayViews(identityId)).length)
  }, 180_000)
})
