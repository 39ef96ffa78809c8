import { canonicalBytes, formatSignature, type Ack, type Signer } from '@pixpax/shared'
import type { Queryable } from '../db/projection-db.js'

export type { Ack }

export type AckFields = Omit<Ack, 'relayKeyId' | 'signature'>

/** Signs acks exactly like receipts (ECDSA P-256 over the JCS bytes without `signature`), in one backend call where the signer can. */
export async function signAcks(signer: Signer, fields: readonly AckFields[]): Promise<Ack[]> {
  const bodies = fields.map((f) => ({
    stream: f.stream,
    seq: f.seq,
    position: f.position,
    eventId: f.eventId,
    hash: f.hash,
    relayKeyId: signer.publicKeyId,
  }))
  const data = bodies.map((b) => canonicalBytes(b))
  const signatures = signer.signBatch ? await signer.signBatch(data) : await Promise.all(data.map((d) => signer.sign(d)))
  return bodies.map((b, i) => ({ ...b, signature: formatSignature(signatures[i]!) }))
}

/** An accepted receipt as the acks table knows it; `ack` is its stored JSON, or null when none is stored yet. */
export interface AckRow extends AckFields {
  ack: string | null
}

/**
 * The ack JSON of each row, in order: the stored one, or — where none is stored yet (a fresh batch, a
 * crash between COMMIT and the ack INSERT, a rebuilt database) — one signed now and stored in one INSERT.
 * An ack is a promise returned byte for byte on every retry, so if another caller stored one first, its
 * ack is the one returned.
 */
export async function completeAcks(db: Queryable, signer: Signer, rows: readonly AckRow[]): Promise<string[]> {
  const missing = rows.filter((r) => r.ack === null)
  if (missing.length === 0) return rows.map((r) => r.ack!)
  const fresh = await signAcks(signer, missing)
  const stored = await db.query<{ stream_key: string; seq: number; ack: string }>(
    `INSERT INTO acks (stream_key, seq, position, ack) SELECT * FROM unnest($1::text[], $2::int4[], $3::int8[], $4::text[])
     ON CONFLICT (stream_key, seq) DO UPDATE SET ack = acks.ack RETURNING stream_key, seq, ack`,
    [missing.map((r) => r.stream), missing.map((r) => r.seq), missing.map((r) => r.position), fresh.map((a) => JSON.stringify(a))],
  )
  const byKey = new Map(stored.rows.map((r) => [`${r.seq} ${r.stream_key}`, r.ack]))
  return rows.map((r) => r.ack ?? byKey.get(`${r.seq} ${r.stream}`)!)
}
