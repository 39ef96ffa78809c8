/**
 * What a player plays, named as data the owner controls (issue 12 §3): a playlist in an owner's profile
 * stream, one identity's posts, a hashtag, the relay's promoted posts, the artists an identity follows, or
 * a playset mixing several of those with weights. Written
 * `playlist:<ownerIdentityId>/<playlistId>`, `user:<identityId>`, `hashtag:<tag>`, `promoted[:<category>]`,
 * `following:<identityId>`, `playset:<random|recency>[@<seed>]:<weight>*<channel>,…` — in `PLAYER_CHANNEL`,
 * in `channel.json` and in remote commands (a command argument is at most 200 characters, which bounds a
 * playset sent that way).
 */
import { HashtagSchema, hashtagKey, IdSchema, PROMOTION_CATEGORIES } from '@pixpax/shared'
import { z } from 'zod'

export type SimpleChannel =
  | { readonly kind: 'playlist'; readonly owner: string; readonly playlistId: string }
  | { readonly kind: 'user'; readonly identityId: string }
  | { readonly kind: 'hashtag'; readonly tag: string }
  | { readonly kind: 'promoted'; readonly category?: (typeof PROMOTION_CATEGORIES)[number] | undefined }
  | { readonly kind: 'following'; readonly identityId: string }

export type PlaysetMode = 'random' | 'recency'
export interface PlaysetSourceSpec {
  readonly weight: number
  readonly channel: SimpleChannel
}
export type Channel =
  | SimpleChannel
  | {
      readonly kind: 'playset'
      readonly mode: PlaysetMode
      readonly seed?: number | undefined
      readonly sources: readonly PlaysetSourceSpec[]
    }

const SimpleChannelSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('playlist'), owner: IdSchema, playlistId: IdSchema }),
  z.strictObject({ kind: z.literal('user'), identityId: IdSchema }),
  z.strictObject({ kind: z.literal('hashtag'), tag: HashtagSchema.transform(hashtagKey) }),
  z.strictObject({ kind: z.literal('promoted'), category: z.enum(PROMOTION_CATEGORIES).optional() }),
  z.strictObject({ kind: z.literal('following'), identityId: IdSchema }),
])

/** Most sources in a playset, and the weight range (integers, so a playset names the same mix everywhere). */
export const PLAYSET_MAX_SOURCES = 8
export const PLAYSET_MAX_WEIGHT = 100

export const ChannelSchema = z.union([
  SimpleChannelSchema,
  z.strictObject({
    kind: z.literal('playset'),
    mode: z.enum(['random', 'recency']),
    seed: z.number().int().min(0).max(0xffffffff).optional(),
    sources: z
      .array(z.strictObject({ weight: z.number().int().min(1).max(PLAYSET_MAX_WEIGHT), channel: SimpleChannelSchema }))
      .min(1)
      .max(PLAYSET_MAX_SOURCES),
  }),
]) as unknown as z.ZodType<Channel, unknown>

export class ChannelFormatError extends Error {
  override name = 'ChannelFormatError'
}

const EXPECTED =
  'expected playlist:<owner>/<playlistId>, user:<identityId>, hashtag:<tag>, promoted[:<category>], following:<identityId> or playset:<mode>:<weight>*<channel>,…'

/** Parses a channel name (see the module comment; a hashtag's leading `#` is allowed). */
export function parseChannel(text: string): Channel {
  const trimmed = text.trim()
  const candidate = trimmed.startsWith('playset:') ? playsetCandidate(trimmed, text) : simpleCandidate(trimmed, text)
  const parsed = ChannelSchema.safeParse(candidate)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const where = issue.path.length ? `${issue.path.join('.')}: ` : ''
    throw new ChannelFormatError(`channel ${JSON.stringify(text)}: ${where}${issue.message}`)
  }
  return parsed.data
}

function simpleCandidate(trimmed: string, text: string): unknown {
  const [kind, rest] = splitOnce(trimmed, ':')
  if (kind === 'playlist') {
    const [owner, playlistId] = splitOnce(rest ?? '', '/')
    return { kind, owner, playlistId }
  }
  if (kind === 'user' || kind === 'following') return { kind, identityId: rest ?? '' }
  if (kind === 'hashtag') return { kind, tag: (rest ?? '').replace(/^#/, '') }
  if (kind === 'promoted') return rest === undefined ? { kind } : { kind, category: rest }
  throw new ChannelFormatError(`channel ${JSON.stringify(text)}: ${EXPECTED}`)
}

/** `playset:<mode>[@<seed>]:<weight>*<channel>,…` (a weight may be left out: 1). */
function playsetCandidate(trimmed: string, text: string): unknown {
  const [head, list = ''] = splitOnce(trimmed.slice('playset:'.length), ':')
  const [mode, seedText] = splitOnce(head, '@')
  const seed = seedText === undefined ? undefined : /^\d{1,10}$/.test(seedText) ? Number(seedText) : NaN
  const sources = list
    .split(',')
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const m = /^\s*(\d{1,3})\*(.*)$/.exec(part)
      const name = m ? m[2]! : part
      if (name.trim().startsWith('playset:'))
        throw new ChannelFormatError(`channel ${JSON.stringify(text)}: a playset cannot hold a playset`)
      return { weight: m ? Number(m[1]) : 1, channel: simpleCandidate(name.trim(), text) }
    })
  return { kind: 'playset', mode, ...(seed === undefined ? {} : { seed }), sources }
}

export function formatChannel(channel: Channel): string {
  switch (channel.kind) {
    case 'playlist':
      return `playlist:${channel.owner}/${channel.playlistId}`
    case 'user':
      return `user:${channel.identityId}`
    case 'hashtag':
      return `hashtag:${channel.tag}`
    case 'promoted':
      return channel.category ? `promoted:${channel.category}` : 'promoted'
    case 'following':
      return `following:${channel.identityId}`
    case 'playset':
      return `playset:${channel.mode}${channel.seed === undefined ? '' : `@${channel.seed}`}:${channel.sources
        .map((s) => `${s.weight}*${formatChannel(s.channel)}`)
        .join(',')}`
  }
}

function splitOnce(text: string, sep: string): [string, string | undefined] {
  const i = text.indexOf(sep)
  return i < 0 ? [text, undefined] : [text.slice(0, i), text.slice(i + 1)]
}
