/**
 * What to play (issue 12 §3): a channel yields playlist items, each naming an artwork by the hash its
 * verified source committed to. The cache checks downloaded bytes against exactly that hash, so a source
 * is trusted for *which* art to play, never for the bytes.
 *
 * Sources: `StaticListSource` (a local JSON file the owner of the machine wrote),
 * `RelayChannelSource` (relay-channel-source.ts: a playlist, a user's posts, a hashtag, the promoted feed
 * or the artists an identity follows, verified) and `PlaysetSource` (playset-source.ts: a weighted mix).
 */
import { readFile } from 'node:fs/promises'
import { Sha256RefSchema } from '@pixpax/shared'
import { z } from 'zod'

export interface PlaylistItem {
  /** The artwork's blob hash, `sha256:…`. */
  readonly artwork: string
  /** Where the hash comes from (a receipt's eventId, a file), for reports. */
  readonly source: string
  /** The post it comes from (relay channels), reported with its views. */
  readonly postId?: string
  /** Seconds to show a still image (animations play their frames once, at least this long). */
  readonly durationSeconds?: number
  /** Size and animation as declared by the source, to filter by the display's capabilities before download. */
  readonly width?: number
  readonly height?: number
  readonly animated?: boolean
}

export interface ChannelSource {
  /** A name for logs and status, e.g. `static:/path/list.json`. */
  readonly name: string
  /** The current playlist (in play order). */
  load(): Promise<PlaylistItem[]>
  /** Calls `listener` when the playlist changes; returns an unsubscribe function. */
  onChange(listener: () => void): () => void
}

const StaticList = z.strictObject({
  items: z.array(
    z.strictObject({
      artwork: Sha256RefSchema,
      durationSeconds: z.number().int().min(1).max(86_400).optional(),
      width: z.number().int().min(1).optional(),
      height: z.number().int().min(1).optional(),
      animated: z.boolean().optional(),
    }),
  ),
})

export class PlaylistFormatError extends Error {
  override name = 'PlaylistFormatError'
}

/** A playlist from a local JSON file: `{"items": [{"artwork": "sha256:…", "durationSeconds"?: n}]}`. */
export class StaticListSource implements ChannelSource {
  readonly name: string
  constructor(private readonly path: string) {
    this.name = `static:${path}`
  }

  async load(): Promise<PlaylistItem[]> {
    let json: unknown
    try {
      json = JSON.parse(await readFile(this.path, 'utf8'))
    } catch (cause) {
      throw new PlaylistFormatError(`${this.path}: not readable JSON (${(cause as Error).message})`)
    }
    const parsed = StaticList.safeParse(json)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      throw new PlaylistFormatError(`${this.path}: ${issue.path.join('.') || '(root)'}: ${issue.message}`)
    }
    return parsed.data.items.map((item, i) => ({ ...item, source: `${this.path}#${i}` }))
  }

  onChange(): () => void {
    return () => undefined
  }
}

/**
 * Keeps the items a display can show: animated art only on a display that animates, and nothing declared
 * larger than the display (art with no declared size is scaled down to fit after decoding).
 */
export function filterForDisplay(
  items: readonly PlaylistItem[],
  caps: { maxWidth: number; maxHeight: number; animation: boolean },
): PlaylistItem[] {
  return items.filter(
    (item) =>
      (item.animated !== true || caps.animation) &&
      (item.width === undefined || item.width <= caps.maxWidth) &&
      (item.height === undefined || item.height <= caps.maxHeight),
  )
}
