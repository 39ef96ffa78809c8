/**
 * The play loop: shows the playable items of the playlist in order, one artwork at a time, frames at
 * their own timing. Only bytes the cache re-verified against the item's hash are decoded and shown; a
 * blob that fails (tampered on disk, not art) is refused and reported, never drawn. It never needs the
 * network: with the relay gone it keeps cycling through the cache.
 */
import type { BlobCache } from '../cache/blob-cache.js'
import { BlobHashMismatchError } from '../cache/blob-cache.js'
import type { PlaylistItem } from '../channels/channel-source.js'
import { ArtFormatError, decodeArt, fitFrame } from '../art/decode.js'
import type { DeviceAdapter, Frame } from '../device/device-adapter.js'
import { Wakeable, type Waiter } from './wakeable.js'

const DEFAULT_STILL_SECONDS = 10

export interface PlaybackEvents {
  showing(artwork: string): void
  refused(artwork: string, code: string, message: string): void
  /** The first frame of a play of `item` is on the display (once per play: a view, issue 12 §7). */
  viewed?(item: PlaylistItem): void
}

export class Playback {
  private items: PlaylistItem[] = []
  private index = 0
  private running = false
  private loop: Promise<void> | undefined
  private readonly wakeable = new Wakeable()
  /** The play loop's waiter, new at each start: wakes from before it (a playlist set first) are moot. */
  private waiter: Waiter = this.wakeable.waiter()
  private current: string | undefined
  private readonly broken = new Set<string>()
  /** Bumped by a remote command (next, back, show): the artwork on screen gives way at once. */
  private jumps = 0
  private paused = false
  /** An artwork from outside the playlist to show next, once (remote `show`). */
  private interlude: PlaylistItem | undefined

  constructor(
    private readonly cache: BlobCache,
    private readonly display: DeviceAdapter,
    private readonly events: PlaybackEvents,
  ) {}

  get artwork(): string | undefined {
    return this.current
  }

  setPlaylist(items: PlaylistItem[]): void {
    // A reload that changes nothing (the periodic art sync) must not cut the artwork on screen short.
    if (items.length === this.items.length && items.every((item, i) => sameItem(item, this.items[i]!))) return
    this.items = items
    this.wakeable.wake()
  }

  /** Shows the artwork after the one on screen now (remote `next`). */
  next(): void {
    this.step(1)
  }

  /** Shows the artwork before the one on screen now (remote `back`). */
  back(): void {
    this.step(-1)
  }

  /** Positions on the playable list around the artwork on screen (the list grows as downloads land). */
  private step(by: number): void {
    const playable = this.playable()
    const n = playable.length
    if (n > 0) {
      const at = playable.findIndex((item) => item.artwork === this.current)
      this.index = at < 0 ? 0 : (((at + by) % n) + n) % n
    }
    this.jump()
  }

  /**
   * Shows `artwork` now if it is in the playlist and cached; false otherwise (remote `show`). `outside`,
   * an item verified by the caller and cached, is shown once when the playlist does not have it, and the
   * playlist plays on after it.
   */
  show(artwork: string, outside?: PlaylistItem): boolean {
    const i = this.playable().findIndex((item) => item.artwork === artwork)
    if (i >= 0) this.index = i
    else if (outside?.artwork === artwork && this.cache.has(artwork)) this.interlude = outside
    else return false
    this.jump()
    return true
  }

  /** Holds the current frame until `resume` (remote `pause`). */
  pause(): void {
    this.paused = true
  }

  resume(): void {
    this.paused = false
    this.wakeable.wake()
  }

  private jump(): void {
    this.jumps++
    this.paused = false
    this.wakeable.wake()
  }

  /** Lets a blob the cache just stored (again) be tried again. */
  retry(artwork: string): void {
    this.broken.delete(artwork)
    this.wakeable.wake()
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.waiter = this.wakeable.waiter()
    this.loop = this.run()
  }

  async stop(): Promise<void> {
    this.running = false
    this.wakeable.wake()
    await this.loop
  }

  private playable(): PlaylistItem[] {
    return this.items.filter((i) => this.cache.has(i.artwork) && !this.broken.has(i.artwork))
  }

  private async run(): Promise<void> {
    while (this.running) {
      const interlude = this.interlude
      if (interlude) {
        this.interlude = undefined
        const frames = await this.framesOf(interlude)
        if (frames) await this.play(interlude, frames)
        continue
      }
      const playable = this.playable()
      if (playable.length === 0) {
        await this.waiter.wait(60_000)
        continue
      }
      const item = playable[this.index % playable.length]!
      this.index = (this.index + 1) % playable.length
      const frames = await this.framesOf(item)
      if (!frames) continue
      await this.play(item, frames)
    }
  }

  private async framesOf(item: PlaylistItem): Promise<Frame[] | undefined> {
    try {
      const bytes = await this.cache.get(item.artwork)
      if (!bytes) return undefined
      const { maxWidth, maxHeight, animation } = this.display.capabilities
      const decoded = decodeArt(bytes)
      return (animation ? decoded : decoded.slice(0, 1)).map((f) => fitFrame(f, maxWidth, maxHeight))
    } catch (error) {
      this.broken.add(item.artwork)
      if (error instanceof BlobHashMismatchError) this.events.refused(item.artwork, error.code, error.message)
      else if (error instanceof ArtFormatError) this.events.refused(item.artwork, 'ART_FORMAT', error.message)
      else throw error
      return undefined
    }
  }

  /** Stills stay `durationSeconds`; animations loop their frames for at least that long (one pass at least). */
  private async play(item: PlaylistItem, frames: Frame[]): Promise<void> {
    const until = Date.now() + (item.durationSeconds ?? DEFAULT_STILL_SECONDS) * 1000
    const playlist = this.items
    const jumps = this.jumps
    // A new playlist cuts the artwork short — except while paused, when only losing the artwork does
    // (a reload must not undo the owner's pause; a takedown must still take the art off the screen).
    const interrupted = () =>
      !this.running ||
      this.jumps !== jumps ||
      (this.items !== playlist && (!this.paused || !this.items.some((i) => i.artwork === item.artwork)))
    let viewed = false
    do {
      for (const [frameIndex, frame] of frames.entries()) {
        if (interrupted()) return
        await this.display.show({ artwork: item.artwork, frameIndex, frame })
        if (this.current !== item.artwork) {
          this.current = item.artwork
          this.events.showing(item.artwork)
        }
        if (!viewed) {
          viewed = true
          this.events.viewed?.(item)
        }
        // A stop or jump that came while the frame was being drawn makes this wait return at once (Wakeable).
        const remaining = until - Date.now()
        await this.waiter.wait(frames.length === 1 ? Math.max(0, remaining) : frame.delayMs)
        while (this.paused && !interrupted()) await this.waiter.wait(60_000)
      }
    } while (!interrupted() && Date.now() < until)
  }
}

function sameItem(a: PlaylistItem, b: PlaylistItem): boolean {
  return a.artwork === b.artwork && a.source === b.source && a.durationSeconds === b.durationSeconds
}
