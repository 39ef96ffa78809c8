/**
 * What a player plays, named as data the owner controls (issue 12 §3): a playlist in an owner's profile
 * stream, one identity's posts, or a hashtag. Written `playlist:<ownerIdentityId>/<playlistId>`,
 * `user:<identityId>`, `hashtag:<tag>` — in `PLAYER_CHANNEL`, in `channel.json` and in remote commands.
 */
import { HashtagSchema, hashtagKey, IdSchema } from '@pixpax/shared'
import { z } from 'zod'

export type Channel =
  | { readonly kind: 'playlist'; readonly owner: string; readonly playlistId: string }
  | { readonly kind: 'user'; readonly identityId: string }
  | { readonly kind: 'hashtag'; readonly tag: string }

export const ChannelSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('playlist'), owner: IdSchema, playlistId: IdSchema }),
  z.strictObject({ kind: z.literal('user'), identityId: IdSchema }),
  z.strictObject({ kind: z.literal('hashtag'), tag: HashtagSchema.transform(hashtagKey) }),
])

export class ChannelFormatError extends Error {
  override name = 'ChannelFormatError'
}

/** Parses `playlist:<owner>/<id>`, `user:<id>` or `hashtag:<tag>` (a leading `#` is allowed). */
export function parseChannel(text: string): Channel {
  const [kind, rest = ''] = splitOnce(text.trim(), ':')
  let candidate: unknown
  if (kind === 'playlist') {
    const [owner, playlistId] = splitOnce(rest, '/')
    candidate = { kind, owner, playlistId }
  } else if (kind === 'user') candidate = { kind, identityId: rest }
  else if (kind === 'hashtag') candidate = { kind, tag: rest.replace(/^#/, '') }
  else
    throw new ChannelFormatError(
      `channel ${JSON.stringify(text)}: expected playlist:<owner>/<playlistId>, user:<identityId> or hashtag:<tag>`,
    )
  const parsed = ChannelSchema.safeParse(candidate)
  if (!parsed.success) throw new ChannelFormatError(`channel ${JSON.stringify(text)}: ${parsed.error.issues[0]!.message}`)
  return parsed.data
}

export function formatChannel(channel: Channel): string {
  switch (channel.kind) {
    case 'playlist':
      return `playlist:${channel.owner}/${channel.playlistId}`
    case 'user':
      return `user:${channel.identityId}`
    case 'hashtag':
      return `hashtag:${channel.tag}`
  }
}

function splitOnce(text: string, sep: string): [string, string | undefined] {
  const i = text.indexOf(sep)
  return i < 0 ? [text, undefined] : [text.slice(0, i), text.slice(i + 1)]
}
