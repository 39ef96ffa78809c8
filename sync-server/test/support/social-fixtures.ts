/**
 * Social test fixtures: people with an identity and a profile stream, moderators with a moderation
 * stream, validated media rows, and helpers that post social receipts over real HTTP and read the
 * relay's answer.
 */
import { randomBytes } from 'node:crypto'
import type { Receipt } from '@pixpax/shared'
import type { ProjectionDb } from '../../src/db/projection-db.js'
import {
  appendOk,
  artHash,
  identityCreated,
  newIdentity,
  postReceipts,
  StreamWriter,
  type Identity,
  type ResultJson,
} from './relay-harness.js'

export interface SocialActor extends Identity {
  readonly profile: StreamWriter
  readonly moderation: StreamWriter
}

export function socialActor(kind: 'person' | 'moderator' = 'person', name = kind === 'person' ? 'user' : 'mod'): SocialActor {
  const who = newIdentity(`acc-${randomBytes(3).toString('hex')}`, kind, `${name}-${randomBytes(5).toString('hex')}`)
  return Object.assign(who, {
    profile: new StreamWriter({ type: 'profile', identityId: who.identityId }),
    moderation: new StreamWriter({ type: 'moderation', identityId: who.identityId }),
  })
}

/** Creates the actor's identity and, for a person, opens its profile with `handle`. */
export async function join(url: string, who: SocialActor, handle?: string): Promise<void> {
  await appendOk(url, [await identityCreated(who)])
  if (handle !== undefined) await act(url, who, 'PROFILE_UPDATED', { handle })
}

/** Builds a receipt of the actor's profile (or moderation) stream at its current head. */
export function build(
  who: SocialActor,
  type: string,
  payload: Record<string, unknown>,
  stream: 'profile' | 'moderation' = 'profile',
): Promise<Receipt> {
  return who[stream].build(type, payload, who)
}

/** Posts one receipt that must be accepted; advances the stream. */
export async function act(
  url: string,
  who: SocialActor,
  type: string,
  payload: Record<string, unknown>,
  stream: 'profile' | 'moderation' = 'profile',
): Promise<Receipt> {
  const receipt = await build(who, type, payload, stream)
  const [result] = await appendOk(url, [receipt])
  who[stream].advance(receipt, result!.seq)
  return receipt
}

/** Posts receipts and returns the relay's per-receipt results (accepted ones advance their stream). */
export async function attempt(
  url: string,
  entries: ReadonlyArray<[SocialActor, Receipt, ('profile' | 'moderation')?]>,
): Promise<ResultJson[]> {
  const res = await postReceipts(
    url,
    entries.map(([, r]) => r),
  )
  if (!res.json?.results) throw new Error(`POST /v1/receipts ${res.status}: ${res.text.slice(0, 1000)}`)
  res.json.results.forEach((result, i) => {
    const [who, receipt, stream = 'profile'] = entries[i]!
    if (result.ok) who[stream].advance(receipt, result.seq)
  })
  return res.json.results
}

/** The rule a refused result names (details.rule), or its code, or 'accepted'. */
export function verdict(result: ResultJson): string {
  if (result.ok) return 'accepted'
  const rule = result.error.details?.rule
  return typeof rule === 'string' ? `${result.error.code}:${rule}` : result.error.code
}

export interface MediaRow {
  hash: string
  mime: string
  width: number
  height: number
  frames: number
}

/** A media_blobs row as the media module writes it once it has validated an upload. */
export async function holdMedia(db: ProjectionDb, label: string, over: Partial<MediaRow> & { status?: string } = {}): Promise<MediaRow> {
  const row: MediaRow = { hash: artHash(label), mime: 'image/png', width: 64, height: 64, frames: 1, ...over }
  await db.query(
    `INSERT INTO media_blobs (hash, mime, width, height, frames, unique_colors, transparent, byte_size, uploaded_by, uploaded_at, status)
     VALUES ($1, $2, $3, $4, $5, 16, false, 1234, 'test', '2026-12-01T00:00:00.000Z', $6)`,
    [row.hash, row.mime, row.width, row.height, row.frames, over.status ?? 'ok'],
  )
  return row
}

/** A POST_PUBLISHED payload for a held media row. */
export const postPayload = (media: MediaRow, title: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  title,
  media: { hash: media.hash, mime: media.mime, width: media.width, height: media.height, frames: media.frames },
  ...extra,
})
