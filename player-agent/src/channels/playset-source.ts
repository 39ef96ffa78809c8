/**
 * A playset (issue 12 §3): one channel made of several weighted channels, mixed by a pick mode —
 *
 * - `random`: each next item comes from a source drawn with probability weight / (sum of the weights of
 *   the sources that still have items), its items taken in the source's own order; the draw uses a
 *   seeded PRNG, so the same playset over the same lists gives the same order (a reload that changes
 *   nothing keeps the artwork on screen, and tests can check the distribution). Without a seed the seed
 *   is a hash of the playset's name.
 * - `recency`: every source's items, newest first (post ids are ULIDs, ordered by publication time);
 *   weights do not matter.
 *
 * An artwork listed by two sources plays once. A source that fails to load is left out of this load
 * (reported), so one unreachable feed does not silence the others; all failing is a failure.
 */
import { formatChannel, type Channel, type SimpleChannel } from './channel.js'
import type { ChannelSource, PlaylistItem } from './channel-source.js'

type Playset = Extract<Channel, { kind: 'playset' }>

export class PlaysetSource implements ChannelSource {
  readonly name: string
  private readonly sources: ChannelSource[]

  constructor(
    readonly channel: Playset,
    makeSource: (channel: SimpleChannel) => ChannelSource,
    private readonly warn: (line: string) => void = () => undefined,
  ) {
    this.name = `relay:${formatChannel(channel)}`
    this.sources = channel.sources.map((s) => makeSource(s.channel))
  }

  async load(): Promise<PlaylistItem[]> {
    const settled = await Promise.allSettled(this.sources.map((s) => s.load()))
    const lists: PlaylistItem[][] = []
    settled.forEach((result, i) => {
      if (result.status === 'fulfilled') lists.push(result.value)
      else {
        lists.push([])
        this.warn(`playset: ${this.sources[i]!.name}: ${(result.reason as Error).message}`)
      }
    })
    const failed = settled.find((r) => r.status === 'rejected')
    if (failed && settled.every((r) => r.status === 'rejected')) throw failed.reason
    const weights = this.channel.sources.map((s) => s.weight)
    return this.channel.mode === 'recency'
      ? newestFirst(lists)
      : weightedMix(lists, weights, this.channel.seed ?? fnv1a(formatChannel(this.channel)))
  }

  onChange(listener: () => void): () => void {
    const offs = this.sources.map((s) => s.onChange(listener))
    return () => offs.forEach((off) => off())
  }
}

/** Items of every list, newest first by post id (ULID), each artwork once. */
export function newestFirst(lists: readonly PlaylistItem[][]): PlaylistItem[] {
  return dedupe(lists.flat().sort((a, b) => (a.source < b.source ? 1 : a.source > b.source ? -1 : 0)))
}

/** Interleaves `lists` by weighted draws of a seeded PRNG (see the module comment), each artwork once. */
export function weightedMix(lists: readonly PlaylistItem[][], weights: readonly number[], seed: number): PlaylistItem[] {
  const random = mulberry32(seed)
  const queues = lists.map((l) => [...l])
  const out: PlaylistItem[] = []
  const seen = new Set<string>()
  for (;;) {
    const open = queues.flatMap((q, i) => (q.length > 0 ? [i] : []))
    if (open.length === 0) return out
    const total = open.reduce((sum, i) => sum + weights[i]!, 0)
    let r = random() * total
    let pick = open[open.length - 1]!
    for (const i of open) {
      r -= weights[i]!
      if (r < 0) {
        pick = i
        break
      }
    }
    const item = queues[pick]!.shift()!
    if (seen.has(item.artwork)) continue
    seen.add(item.artwork)
    out.push(item)
  }
}

function dedupe(items: PlaylistItem[]): PlaylistItem[] {
  const seen = new Set<string>()
  return items.filter((i) => !seen.has(i.artwork) && (seen.add(i.artwork), true))
}

/** A small, well-mixed 32-bit PRNG: deterministic across platforms, which Math.random is not. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** FNV-1a over the UTF-16 code units: the default seed of a playset, from its name. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return h
}
