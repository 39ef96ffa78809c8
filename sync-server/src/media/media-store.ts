/**
 * The relay's record of validated media (table media_blobs) and the blob bytes in the object store,
 * for the media routes and for other modules: the social module refuses a POST_PUBLISHED whose media
 * is unknown (`media_unknown`) or measured differently (`media_mismatch`) through lookupMedia, and a
 * moderator's takedown deletes the bytes through takeDownMedia.
 */
import type { Queryable } from '../db/projection-db.js'
import type { ObjectStore } from '../stores/object-store.js'
import type { MediaMime } from './limits.js'
import type { MediaInfo } from './validate-media.js'

export type MediaStatus = 'ok' | 'taken_down' | 'corrupt'

export interface MediaRecord extends MediaInfo {
  status: MediaStatus
  uploadedBy: string
  uploadedAt: Date
}

/** Where a blob's bytes live (ARCHITECTURE §4); the same address as draft blobs (routes/blobs.ts). */
export const mediaKey = (hash: string): string => `pixpax/blobs/sha256/${hash.replace(/^sha256:/, '')}`

const HASH = /^sha256:[0-9a-f]{64}$/

interface Row {
  hash: string
  mime: MediaMime
  width: number
  height: number
  frames: number
  unique_colors: number
  transparent: boolean
  byte_size: number
  uploaded_by: string
  uploaded_at: Date
  status: MediaStatus
}

const COLUMNS = 'hash, mime, width, height, frames, unique_colors, transparent, byte_size, uploaded_by, uploaded_at, status'

function fromRow(row: Row): MediaRecord {
  return {
    hash: row.hash,
    mime: row.mime,
    width: row.width,
    height: row.height,
    frames: row.frames,
    uniqueColors: row.unique_colors,
    transparent: row.transparent,
    bytes: row.byte_size,
    status: row.status,
    uploadedBy: row.uploaded_by,
    uploadedAt: row.uploaded_at,
  }
}

/**
 * The records of `hashes` (`sha256:<hex>`) the relay holds, in one query; a hash it never validated is
 * absent from the map. A caller checks `status === 'ok'` before accepting a reference.
 */
export async function lookupMedia(db: Queryable, hashes: readonly string[]): Promise<Map<string, MediaRecord>> {
  const wanted = [...new Set(hashes)].filter((h) => HASH.test(h))
  const out = new Map<string, MediaRecord>()
  if (wanted.length === 0) return out
  const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM media_blobs WHERE hash = ANY($1::text[])`, [wanted])
  for (const row of rows) out.set(row.hash, fromRow(row))
  return out
}

/** Records a validated blob; returns false when it was already recorded (the stored row is kept). */
export async function recordMedia(db: Queryable, info: MediaInfo, uploadedBy: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO media_blobs (hash, mime, width, height, frames, unique_colors, transparent, byte_size, uploaded_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (hash) DO NOTHING`,
    [info.hash, info.mime, info.width, info.height, info.frames, info.uniqueColors, info.transparent, info.bytes, uploadedBy],
  )
  return rowCount === 1
}

/** Marks a blob `corrupt` if it is `ok`; returns whether this call changed it. */
export async function markMediaCorrupt(db: Queryable, hash: string): Promise<boolean> {
  const { rowCount } = await db.query(
    "UPDATE media_blobs SET status = 'corrupt', status_changed_at = now() WHERE hash = $1 AND status = 'ok'",
    [hash],
  )
  return rowCount === 1
}

/** Marks a corrupt blob `ok` again after its bytes were stored anew (a re-upload repairs it). */
export async function markMediaRepaired(db: Queryable, hash: string): Promise<boolean> {
  const { rowCount } = await db.query(
    "UPDATE media_blobs SET status = 'ok', status_changed_at = now() WHERE hash = $1 AND status = 'corrupt'",
    [hash],
  )
  return rowCount === 1
}

/**
 * A moderator's takedown (ARCHITECTURE §8): the row stays with status `taken_down` (the hash is still
 * known, so the same bytes cannot come back and GET answers 410), then the bytes are deleted. Returns
 * false for a hash the relay never validated. Idempotent; the scrubber deletes bytes a failed delete
 * left behind.
 */
export async function takeDownMedia(db: Queryable, store: ObjectStore, hash: string): Promise<boolean> {
  if (!HASH.test(hash)) return false
  const { rowCount } = await db.query(
    `UPDATE media_blobs SET status = 'taken_down', status_changed_at = CASE WHEN status = 'taken_down' THEN status_changed_at ELSE now() END
     WHERE hash = $1`,
    [hash],
  )
  if (rowCount === 0) return false
  await store.delete(mediaKey(hash))
  return true
}

/** Whether `hash` was taken down (upload routes refuse to store those bytes again). */
export async function isTakenDown(db: Queryable, hash: string): Promise<boolean> {
  const { rows } = await db.query<{ status: string }>('SELECT status FROM media_blobs WHERE hash = $1', [hash])
  return rows[0]?.status === 'taken_down'
}
