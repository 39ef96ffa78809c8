/**
 * RelayChannelSource over signed receipts held as verified streams, with a relay directory that lies:
 * a playlist plays in its own order; a post the relay places in the wrong stream, an untagged post it
 * lists under a hashtag, and a deleted post are not played; a change to a stream the channel read is
 * announced, one to another stream is not. Channel names parse strictly.
 */
import type { Receipt } from '@pixpax/shared'
import { describe, expect, it } from 'vitest'
import { newIdentity, StreamWriter, type Identity } from '../../sync-server/test/support/relay-harness.js'
import { parseChannel, formatChannel, ChannelFormatError } from '../src/channels/channel.js'
import { RelayChannelSource, type PostDirectory } from '../src/channels/relay-channel-source.js'
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
})
