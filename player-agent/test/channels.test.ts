/**
 * Channels from relay data the owner controls, end to end over a real relay: a paired player with no
 * channel plays its owner's posts; one on a playlist plays it in order — posts by another artist too —
 * and follows a PLAYLIST_UPDATED live; one on a hashtag plays the tagged posts. What it plays comes from
 * POST_PUBLISHED receipts its sync engine verified, and the bytes are checked against their hash.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestRelay, type TestRelay } from '../../sync-server/test/support/relay-harness.js'
import { newOwner, solidPng, type Owner } from './support/owner.js'
import { startPlayer, type PlayerProcess } from './support/player-process.js'
import { until } from './support/relay-proxy.js'

describe('channels', () => {
  let relay: TestRelay
  let root: string
  let owner: Owner
  let artist: Owner
  const players: PlayerProcess[] = []
  const posts: Record<string, { postId: string; hash: string }> = {}

  beforeAll(async () => {
    // Hashtag feeds list approved posts; this relay approves every post (no moderator in the test).
    relay = await startTestRelay({ db: 'pglite', store: 'fs', env: { SOCIAL_REQUIRE_APPROVAL: 'false' } })
    root = await mkdtemp(join(tmpdir(), 'pixpax-channels-'))
    owner = await newOwner(relay.url)
    artist = await newOwner(relay.url)
    posts.red = await owner.publish(solidPng(16, [255, 0, 0]), 'Red', ['Dragon'])
    posts.green = await owner.publish(solidPng(16, [0, 255, 0]), 'Green')
    posts.blue = await artist.publish(solidPng(16, [0, 0, 255]), 'Blue', ['dragon'])
    posts.white = await artist.publish(solidPng(16, [255, 255, 255]), 'White')
  }, 90_000)
  afterAll(async () => {
    await Promise.all(players.map((p) => p.kill()))
    await relay?.close()
    await rm(root, { recursive: true, force: true })
  })

  /** Starts a player, pairs it with the owner, and returns it once it printed `paired`. */
  async function pairedPlayer(name: string, env: Record<string, string> = {}): Promise<PlayerProcess> {
    const p = startPlayer({
      RELAY_URL: relay.url,
      PLAYER_DIR: join(root, name),
      PLAYER_POLL_MS: '50',
      PLAYER_STILL_SECONDS: '1',
      ...env,
    })
    players.push(p)
    const [, code] = await p.waitFor(/^PAIRING CODE: (\w{6})$/)
    expect((await owner.pair(code!, name)).status).toBe(200)
    await p.waitFor(/^paired$/)
    return p
  }

  /** The distinct artworks shown from line `from` on, in first-shown order, once `n` are seen. */
  async function shown(p: PlayerProcess, n: number, from = 0): Promise<string[]> {
    for (;;) {
      const seen = [...new Set(p.lines.slice(from).flatMap((l) => /^showing (\S+)$/.exec(l)?.[1] ?? []))]
      if (seen.length >= n) return seen
      await p.waitFor(/^showing /, p.lines.length)
    }
  }

  it("with no channel chosen, plays its owner's posts, newest first", async () => {
    const p = await pairedPlayer('default')
    await p.waitFor(new RegExp(`^channel user:${owner.who.identityId}$`))
    expect(new Set(await shown(p, 2))).toEqual(new Set([posts.green!.hash, posts.red!.hash]))
  }, 90_000)

  it('plays a playlist in its order, with another artist’s posts, and follows an update live', async () => {
    await owner.act('PLAYLIST_CREATED', {
      playlistId: 'living-room',
      title: 'Living room',
      postIds: [posts.blue!.postId, posts.red!.postId],
    })
    const p = await pairedPlayer('playlist', {
      PLAYER_CHANNEL: `playlist:${owner.who.identityId}/living-room`,
      PLAYER_HEARTBEAT_SECONDS: '1',
    })
    // (First-shown order is download order; the playlist's own order is checked in channel-source.test.ts.)
    expect(new Set(await shown(p, 2))).toEqual(new Set([posts.blue!.hash, posts.red!.hash]))

    const mark = p.lines.length
    await owner.act('PLAYLIST_UPDATED', { playlistId: 'living-room', postIds: [posts.white!.postId] })
    await p.waitFor(new RegExp(`^showing ${posts.white!.hash}$`), mark)
    // After the update only the new list plays: the player reports a one-item playlist showing it.
    const status = await until(
      async () => {
        const res = await owner.devices()
        const mine = res.json.devices.find((d) => d.name === 'playlist') as
          { status?: { playlistSize: number; artwork?: string } } | undefined
        return mine?.status?.playlistSize === 1 && mine.status.artwork === posts.white!.hash ? mine.status : undefined
      },
      'a heartbeat with the updated playlist',
      30_000,
      () => p.output(),
    )
    expect(status.playlistSize).toBe(1)
  }, 90_000)

  it('plays a hashtag’s posts (case-insensitive) and nothing untagged', async () => {
    const p = await pairedPlayer('hashtag', { PLAYER_CHANNEL: 'hashtag:#DRAGON' })
    await p.waitFor(/^channel hashtag:dragon$/)
    expect(new Set(await shown(p, 2))).toEqual(new Set([posts.red!.hash, posts.blue!.hash]))
  }, 90_000)
})
