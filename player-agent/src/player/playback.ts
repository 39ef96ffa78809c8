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
import { Wakeable } from './wakeable.js'

const DEFAULT_STILL_SECONDS = 10

export interface PlaybackEvents {
  showing(artwork: string): void
  refused(artwork: string, code: string, message: string): void
}

export class Playback {
  private items: PlaylistItem[] = []
  private index = 0
  private running = false
  private loop: Promise<void> | undefined
  private readonly wakeable = new Wakeable()
  private current: string | undefined
  private readonly broken = new Set<string>()

  constructor(
    private readonly cache: BlobCache,
    private readonly display: DeviceAdapter,
    private readonly events: PlaybackEvents,
  ) {}

  get artwork(): string | undefined {
    return this.current
  }

  setPlaylist(items: PlaylistItem[]): void {
    this.items = items
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
      const playable = this.playable()
      if (playable.length === 0) {
        await this.wakeable.wait(60_000)
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
    do {
      for (const [frameIndex, frame] of frames.entries()) {
        if (!this.running || this.items !== playlist) return
        await this.display.show({ artwork: item.artwork, frameIndex, frame })
        if (this.current !== item.artwork) {
          this.current = item.artwork
          this.events.showing(item.artwork)
        }
        const remaining = until - Date.now()
        await this.wakeable.wait(frames.length === 1 ? Math.max(0, remaining) : frame.delayMs)
      }
    } while (this.running && this.items === playlist && Date.now() < until)
  }
}
