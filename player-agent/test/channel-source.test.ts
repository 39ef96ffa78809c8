/**
 * RelayChannelSource over signed receipts held as verified streams, with a relay directory that lies:
 * a playlist plays in its own order; a post the relay places in the wrong stream, an untagged post it
 * lists under a hashtag, and a deleted post are not played; a change to a stream the channel read is
 * announced, one to another stream is not. Channel names parse strictly.
 */
import type { Receipt } from '@pixpax/shared'
import { describe, expect, it } from 'vitest'
import { newIdentity, StreamWriter, type Identity } from '../../sync-server/test/support/relay-harness.js'
import { parseChannel, formatChannel, ChannelFormatError, type SimpleChannel } from '../src/channels/channel.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PlaylistItem } from '../src/channels/channel-source.js'
import { newestFirst, PlaysetSource, weightedMix } from '../src/channels/playset-source.js'
import { RelayChannelSource, type PostDirectory } from '../src/channels/relay-channel-source.js'
import { RememberedLists } from '../src/channels/remembered-lists.js'
import type { VerifiedStreams } from '../src/channels/verified-streams.js'

class HeldStreams implements VerifiedStreams {
  readonly streams = new Map<string, Receipt[]>()
  readonly followed = new Set<string>()
  private readonly listeners = new Set<(key: string) => void>()
  follow(key: string): void {
    this.followed.add(key)
  }
  async read(key: string): Promise<Receipt[]> {
    return this.streams.get(key) ?? []
  }
  async keys(): Promise<string[]> {
    return [...this.streams.keys()]
  }
  onReceipt(listener: (key: string) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
  add(key: string, receipt: Receipt): void {
    this.streams.set(key, [...(this.streams.get(key) ?? []), receipt])
    for (const l of this.listeners) l(key)
  }
}

class Person {
  readonly writer: StreamWriter
  constructor(
    readonly who: Identity,
    private readonly held: HeldStreams,
  ) {
    this.writer = new StreamWriter({ type: 'profile', identityId: who.identityId })
  }
  async act(type: string, payload: Record<string, unknown>): Promise<Receipt> {
    const r = await this.writer.build(type, payload, this.who)
    this.writer.advance(r)
    this.held.add(this.writer.key, r)
    return r
  }
  async post(label: string, hashtags?: string[]): Promise<Receipt> {
    if (!this.writer.head) await this.act('PROFILE_UPDATED', { handle: label.slice(0, 8) + 'x' })
    const hash = `sha256:${label
      .padEnd(64, '0')
      .slice(0, 64)
      .replace(/[^0-9a-f]/g, 'a')}`
    return this.act('POST_PUBLISHED', {
      title: label,
      media: { hash, mime: 'image/png', width: 16, height: 16, frames: 1 },
      ...(hashtags ? { hashtags } : {}),
    })
  }
}

/** A channel that is not a playset (what RelayChannelSource plays). */
function simple(text: string): SimpleChannel {
  const channel = parseChannel(text)
  if (channel.kind === 'playset') throw new Error(`${text} is a playset`)
  return channel
}

const hashOf = (r: Receipt): string => (r.payload.media as { hash: string }).hash

describe('RelayChannelSource', () => {
  it('plays a playlist in its order, finding posts where the relay points, but only in their verified stream', async () => {
    const held = new HeldStreams()
    const owner = new Person(newIdentity('acct-o'), held)
    const artist = new Person(newIdentity('acct-a'), held)
    const a = await artist.post('a1')
    const b = await owner.post('b2')
    const c = await artist.post('c3')
    // The relay's directory: right about `a`, wrong about `c` (says the owner wrote it).
    const authors = new Map([
      [a.eventId, artist.who.identityId],
      [c.eventId, owner.who.identityId],
    ])
    const lookups: string[] = []
    const directory: PostDirectory = {
      authorOf: async (postId) => (lookups.push(postId), authors.get(postId)),
      hashtag: async () => [],
      promoted: async () => [],
    }
    // Only the owner's profile is held locally at first: the artist's stream is reached through the relay's hint.
    const artistKey = artist.writer.key
    const artistReceipts = held.streams.get(artistKey)!
    held.streams.delete(artistKey)
    const reads: string[] = []
    const streams: VerifiedStreams = {
      ...held,
      follow: (key) => {
        held.follow(key)
        // Following makes the engine deliver the stream (verified): here, at once.
        if (key === artistKey && !held.streams.has(key)) held.streams.set(key, artistReceipts)
      },
      read: (key) => (reads.push(key), held.read(key)),
      keys: () => held.keys(),
      onReceipt: (l) => held.onReceipt(l),
    }
    await owner.act('PLAYLIST_CREATED', { playlistId: 'pl', title: 'P', postIds: [c.eventId, a.eventId, b.eventId] })
    const source = new RelayChannelSource({ kind: 'playlist', owner: owner.who.identityId, playlistId: 'pl' }, streams, directory)
    const items = await source.load()
    expect(items.map((i) => i.source)).toEqual([a.eventId, b.eventId])
    expect(items.map((i) => i.artwork)).toEqual([hashOf(a), hashOf(b)])
    expect(items[0]).toMatchObject({ width: 16, height: 16, animated: false })
    expect(held.followed.has(artistKey)).toBe(true)
    expect(lookups).toContain(c.eventId)

    // Once the artist's stream is held, `c` is found there (the relay's wrong hint no longer matters).
    const again = await source.load()
    expect(again.map((i) => i.source)).toEqual([c.eventId, a.eventId, b.eventId])
  })

  it("plays a user's posts newest first without deleted ones, and a hashtag only where the verified post carries it", async () => {
    const held = new HeldStreams()
    const alice = new Person(newIdentity('acct-al'), held)
    const bob = new Person(newIdentity('acct-bo'), held)
    const p1 = await alice.post('d1', ['Dragon'])
    const p2 = await alice.post('e2')
    const p3 = await alice.post('f3', ['dragon'])
    await alice.act('POST_DELETED', { postId: p3.eventId })
    const p4 = await bob.post('a4')
    await bob.act('POST_EDITED', { postId: p4.eventId, hashtags: ['DRAGON'] })
    const user = new RelayChannelSource({ kind: 'user', identityId: alice.who.identityId }, held, {
      authorOf: async () => undefined,
      hashtag: async () => [],
      promoted: async () => [],
    })
    expect((await user.load()).map((i) => i.source)).toEqual([p2.eventId, p1.eventId])

    // The relay lists: a tagged post (ok), an untagged one, a deleted one, one under the wrong author, an edited-in tag.
    const directory: PostDirectory = {
      authorOf: async () => undefined,
      promoted: async () => [],
      hashtag: async () => [
        { postId: p1.eventId, author: alice.who.identityId },
        { postId: p2.eventId, author: alice.who.identityId },
        { postId: p3.eventId, author: alice.who.identityId },
        { postId: p1.eventId, author: bob.who.identityId },
        { postId: p4.eventId, author: bob.who.identityId },
      ],
    }
    const tag = new RelayChannelSource({ kind: 'hashtag', tag: 'dragon' }, held, directory)
    expect((await tag.load()).map((i) => i.source)).toEqual([p1.eventId, p4.eventId])
  })

  it('announces a verified receipt in a stream it read, and nothing else', async () => {
    const held = new HeldStreams()
    const alice = new Person(newIdentity('acct-x'), held)
    const bob = new Person(newIdentity('acct-y'), held)
    await alice.post('a1')
    const source = new RelayChannelSource({ kind: 'user', identityId: alice.who.identityId }, held, {
      authorOf: async () => undefined,
      hashtag: async () => [],
      promoted: async () => [],
    })
    await source.load()
    let changes = 0
    const off = source.onChange(() => changes++)
    await bob.post('b1')
    expect(changes).toBe(0)
    await alice.post('a2')
    expect(changes).toBe(1)
    off()
    await alice.post('a3')
    expect(changes).toBe(1)
  })

  it('parses channel names strictly', () => {
    expect(parseChannel('playlist:owner-1/living-room')).toEqual({ kind: 'playlist', owner: 'owner-1', playlistId: 'living-room' })
    expect(formatChannel(parseChannel('hashtag:#PixelArt'))).toBe('hashtag:pixelart')
    expect(parseChannel(' user:id-9 ')).toEqual({ kind: 'user', identityId: 'id-9' })
    for (const bad of ['playlist:owner', 'user:', 'hashtag:two words', 'radio:x', 'user:a/b']) {
      expect(() => parseChannel(bad), bad).toThrow(ChannelFormatError)
    }
  })

  it('plays the promoted feed only where the verified stream has the post, and drops taken-down posts', async () => {
    const held = new HeldStreams()
    const alice = new Person(newIdentity('acct-pa'), held)
    const bob = new Person(newIdentity('acct-pb'), held)
    const a1 = await alice.post('a1')
    const b1 = await bob.post('b1')
    const b2 = await bob.post('b2')
    const directory: PostDirectory = {
      authorOf: async () => undefined,
      hashtag: async () => [],
      promoted: async (category) =>
        category === 'frontpage'
          ? [{ postId: b2.eventId, author: bob.who.identityId }]
          : [
              { postId: b1.eventId, author: bob.who.identityId },
              // Under the wrong author: not played.
              { postId: a1.eventId, author: bob.who.identityId },
              { postId: b2.eventId, author: bob.who.identityId },
              { postId: a1.eventId, author: alice.who.identityId },
            ],
    }
    let takenDown = new Set<string>()
    const source = new RelayChannelSource(simple('promoted'), held, directory, { takedowns: async () => takenDown })
    expect((await source.load()).map((i) => i.source)).toEqual([b1.eventId, b2.eventId, a1.eventId])
    const front = new RelayChannelSource(simple('promoted:frontpage'), held, directory)
    expect((await front.load()).map((i) => i.source)).toEqual([b2.eventId])
    takenDown = new Set([b2.eventId])
    expect((await source.load()).map((i) => i.source)).toEqual([b1.eventId, a1.eventId])
  })

  it('plays the posts of the artists an identity follows, from its own verified follows, newest first', async () => {
    const held = new HeldStreams()
    const fan = new Person(newIdentity('acct-fan'), held)
    const alice = new Person(newIdentity('acct-fa'), held)
    const bob = new Person(newIdentity('acct-fb'), held)
    const carol = new Person(newIdentity('acct-fc'), held)
    const a1 = await alice.post('a1')
    const b1 = await bob.post('b1')
    const c1 = await carol.post('c1')
    const a2 = await alice.post('a2')
    const a3 = await alice.post('a3')
    await alice.act('POST_DELETED', { postId: a3.eventId })
    await fan.act('PROFILE_UPDATED', { handle: 'fanx' })
    await fan.act('FOLLOWED', { identityId: alice.who.identityId })
    await fan.act('FOLLOWED', { identityId: bob.who.identityId })
    await fan.act('FOLLOWED', { identityId: carol.who.identityId })
    await fan.act('UNFOLLOWED', { identityId: bob.who.identityId })
    const source = new RelayChannelSource(simple(`following:${fan.who.identityId}`), held, {
      authorOf: async () => undefined,
      hashtag: async () => [],
      promoted: async () => [],
    })
    // Newest first by post id (a ULID: publication time; two authors in one millisecond are ordered by its random part).
    const newest = (...rs: Receipt[]) =>
      rs
        .map((r) => r.eventId)
        .sort()
        .reverse()
    expect((await source.load()).map((i) => i.source)).toEqual(newest(a1, c1, a2))
    expect(held.followed).toEqual(new Set([fan, alice, carol].map((p) => p.writer.key)))
    // Following someone new is a verified receipt in a stream the channel read: it reloads.
    let changes = 0
    source.onChange(() => changes++)
    await fan.act('FOLLOWED', { identityId: bob.who.identityId })
    expect(changes).toBe(1)
    expect((await source.load()).map((i) => i.source)).toEqual(newest(a1, b1, c1, a2))
  })

  it('mixes a playset by weight under a seed, the same order for the same seed', () => {
    const list = (label: string, n: number): PlaylistItem[] =>
      Array.from({ length: n }, (_, i) => ({ artwork: `sha256:${label}${String(i).padStart(8, '0')}`, source: `${label}${i}` }))
    const lists = [list('a', 3000), list('b', 3000), list('c', 3000)]
    const mix = weightedMix(lists, [1, 2, 7], 42)
    expect(mix).toHaveLength(9000)
    const first = mix.slice(0, 1000)
    const count = (label: string) => first.filter((i) => i.source.startsWith(label)).length
    // Expected 100 / 200 / 700; a binomial's standard deviation here is at most 14.5, so ±50 is > 3σ.
    expect(Math.abs(count('a') - 100)).toBeLessThan(50)
    expect(Math.abs(count('b') - 200)).toBeLessThan(50)
    expect(Math.abs(count('c') - 700)).toBeLessThan(50)
    // Each source keeps its own order.
    const bs = mix.filter((i) => i.source.startsWith('b')).map((i) => i.source)
    expect(bs).toEqual(lists[1]!.map((i) => i.source))
    expect(weightedMix(lists, [1, 2, 7], 42)).toEqual(mix)
    expect(weightedMix(lists, [1, 2, 7], 43)).not.toEqual(mix)
    // An artwork two sources list plays once.
    const shared = { artwork: 'sha256:same', source: 'x' }
    expect(weightedMix([[shared], [{ ...shared, source: 'y' }]], [1, 1], 1)).toHaveLength(1)
  })

  it('plays a playset newest first across sources (recency), and without a source that fails', async () => {
    const held = new HeldStreams()
    const alice = new Person(newIdentity('acct-ra'), held)
    const bob = new Person(newIdentity('acct-rb'), held)
    const a1 = await alice.post('a1', ['sea'])
    const b1 = await bob.post('b1')
    const a2 = await alice.post('a2')
    const b2 = await bob.post('b2')
    let relayUp = true
    const directory: PostDirectory = {
      authorOf: async () => undefined,
      promoted: async () => [],
      hashtag: async () => {
        if (!relayUp) throw new Error('relay unreachable')
        return [{ postId: a1.eventId, author: alice.who.identityId }]
      },
    }
    const channel = parseChannel(`playset:recency:1*user:${alice.who.identityId},5*user:${bob.who.identityId},hashtag:sea`)
    if (channel.kind !== 'playset') throw new Error('not a playset')
    const warnings: string[] = []
    const source = new PlaysetSource(
      channel,
      (c) => new RelayChannelSource(c, held, directory),
      (l) => warnings.push(l),
    )
    const order = [a1, b1, a2, b2]
      .map((r) => r.eventId)
      .sort()
      .reverse()
    expect((await source.load()).map((i) => i.source)).toEqual(order)
    expect(newestFirst([[{ artwork: 'sha256:x', source: a1.eventId }], [{ artwork: 'sha256:x', source: b2.eventId }]])).toHaveLength(1)
    relayUp = false
    expect((await source.load()).map((i) => i.source)).toEqual(order)
    expect(warnings).toEqual([expect.stringContaining('relay unreachable')])
  })

  it('remembers the relay’s lists on disk and answers from them while the relay is unreachable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pixpax-lists-'))
    try {
      const file = join(dir, 'channel-lists.json')
      let up = true
      const listed = [{ postId: '01ARZ3NDEKTSV4RRFFQ69G5FAV', author: 'artist-1' }]
      const relay: PostDirectory = {
        authorOf: async () => undefined,
        hashtag: async () => {
          if (!up) throw new Error('offline')
          return listed
        },
        promoted: async () => {
          throw new Error('offline')
        },
      }
      const takedowns = async () => {
        if (!up) throw new Error('offline')
        return new Set(['01ARZ3NDEKTSV4RRFFQ69G5FAW'])
      }
      const first = new RememberedLists(file)
      expect(await first.directory(relay).hashtag('sea', 10)).toEqual(listed)
      expect(await first.takedowns(takedowns)).toEqual(new Set(['01ARZ3NDEKTSV4RRFFQ69G5FAW']))
      up = false
      // A restart with no network: a new instance over the same file.
      const again = new RememberedLists(file)
      expect(await again.directory(relay).hashtag('sea', 10)).toEqual(listed)
      expect(await again.takedowns(takedowns)).toEqual(new Set(['01ARZ3NDEKTSV4RRFFQ69G5FAW']))
      // Never answered before: the failure stands.
      await expect(again.directory(relay).promoted(undefined, 10)).rejects.toThrow('offline')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('parses promoted, following and playset channels, and formats them back', () => {
    expect(parseChannel('promoted')).toEqual({ kind: 'promoted' })
    expect(parseChannel('promoted:editor-pick')).toEqual({ kind: 'promoted', category: 'editor-pick' })
    expect(parseChannel('following:fan-1')).toEqual({ kind: 'following', identityId: 'fan-1' })
    const text = 'playset:random@7:3*user:a-1,hashtag:#Sea,2*promoted:frontpage'
    expect(parseChannel(text)).toEqual({
      kind: 'playset',
      mode: 'random',
      seed: 7,
      sources: [
        { weight: 3, channel: { kind: 'user', identityId: 'a-1' } },
        { weight: 1, channel: { kind: 'hashtag', tag: 'sea' } },
        { weight: 2, channel: { kind: 'promoted', category: 'frontpage' } },
      ],
    })
    expect(formatChannel(parseChannel(text))).toBe('playset:random@7:3*user:a-1,1*hashtag:sea,2*promoted:frontpage')
    expect(parseChannel(formatChannel(parseChannel(text)))).toEqual(parseChannel(text))
    for (const bad of [
      'promoted:nope',
      'following:',
      'playset:random:',
      'playset:shuffle:user:a',
      'playset:random:0*user:a',
      'playset:random:101*user:a',
      'playset:random@x:user:a',
      'playset:random:playset:random:user:a',
      `playset:random:${Array.from({ length: 9 }, (_, i) => `user:u${i}`).join(',')}`,
    ]) {
      expect(() => parseChannel(bad), bad).toThrow(ChannelFormatError)
    }
  })
})
