/**
 * Projection: turns one accepted receipt into rows. A pure function of the receipt and its position —
 * no clock, no randomness, no reads of anything but the rows earlier receipts wrote — so replaying the
 * object store in chain order rebuilds byte-identical tables.
 */
import { canonicalJson, jwkThumbprint, type PublicJwk, type Receipt } from '@pixpax/shared'
import type { Queryable } from '../db/projection-db.js'

/** The projector name recorded in projector_offsets. */
export const PROJECTOR = 'main'

export interface ProjectedReceipt {
  readonly receipt: Receipt
  readonly streamKey: string
  readonly seq: number
  readonly objectKey: string
  /** The owner the stream has after this receipt (from the shared ledger rules). */
  readonly ownerIdentityId: string
}

export async function projectReceipt(tx: Queryable, p: ProjectedReceipt): Promise<void> {
  const { receipt: r, streamKey, seq } = p
  // The index row, the stream head and the projector offset in one statement (one round trip under the
  // stream's lock); the type's own rows follow.
  await tx.query(
    `WITH indexed AS (
       INSERT INTO receipts (stream_key, seq, event_id, hash, type, issuer_identity_id, issuer_public_key_id, idempotency_key, created_at, object_key, body)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ), head AS (
       INSERT INTO streams (stream_key, stream_type, owner_identity_id, seq, head_event_id, head_hash) VALUES ($1, $12, $13, $2, $3, $4)
       ON CONFLICT (stream_key) DO UPDATE SET owner_identity_id = EXCLUDED.owner_identity_id, seq = EXCLUDED.seq,
         head_event_id = EXCLUDED.head_event_id, head_hash = EXCLUDED.head_hash
     )
     INSERT INTO projector_offsets (projector, stream_key, last_seq, last_event_id) VALUES ($14, $1, $2, $3)
     ON CONFLICT (projector, stream_key) DO UPDATE SET last_seq = EXCLUDED.last_seq, last_event_id = EXCLUDED.last_event_id`,
    [
      streamKey,
      seq,
      r.eventId,
      r.hash,
      r.type,
      r.issuer.identityId,
      r.issuer.publicKeyId,
      r.idempotencyKey,
      r.createdAt,
      p.objectKey,
      canonicalJson(r),
      r.stream.type,
      p.ownerIdentityId,
      PROJECTOR,
    ],
  )
  await projectByType(tx, r, seq)
}

async function projectByType(tx: Queryable, r: Receipt, seq: number): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- validated by the payload schema
  const p = r.payload as Record<string, any>
  const s = r.stream
  switch (r.type) {
    case 'IDENTITY_CREATED':
      await tx.query(
        `INSERT INTO identities (identity_id, account_id, kind, display_name, created_event_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
        [s.identityId, p.accountId, p.kind, p.displayName ?? null, r.eventId, r.createdAt],
      )
      await insertKey(tx, s.identityId!, p.publicKey as PublicJwk, seq)
      return
    case 'KEY_ADDED':
      await insertKey(tx, s.identityId!, p.publicKey as PublicJwk, seq)
      return
    case 'KEY_REVOKED':
      await tx.query(`UPDATE identity_keys SET revoked_seq = $3 WHERE identity_id = $1 AND public_key_id = $2`, [
        s.identityId,
        p.publicKeyId,
        seq,
      ])
      return
    case 'ACCOUNT_CREATED':
      await tx.query(`INSERT INTO accounts (account_id, display_name, created_by, created_event_id) VALUES ($1, $2, $3, $4)`, [
        s.accountId,
        p.displayName ?? null,
        r.issuer.identityId,
        r.eventId,
      ])
      await tx.query(`INSERT INTO account_members (account_id, identity_id, role) VALUES ($1, $2, 'owner')`, [
        s.accountId,
        r.issuer.identityId,
      ])
      return
    case 'MEMBER_ADDED':
      await tx.query(
        `INSERT INTO account_members (account_id, identity_id, role) VALUES ($1, $2, $3)
         ON CONFLICT (account_id, identity_id) DO UPDATE SET role = EXCLUDED.role`,
        [s.accountId, p.identityId, p.role],
      )
      return
    case 'MEMBER_REMOVED':
      await tx.query(`DELETE FROM account_members WHERE account_id = $1 AND identity_id = $2`, [s.accountId, p.identityId])
      return
    case 'PIXBOOK_CREATED':
      await tx.query(
        `INSERT INTO pixbooks (account_id, book_id, owner_identity_id, title, description, series_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
        [s.accountId, s.bookId, r.issuer.identityId, p.title, p.description ?? null, p.seriesId ?? null, r.createdAt],
      )
      return
    case 'PIXBOOK_SAVE':
      await tx.query(
        `UPDATE pixbooks SET last_snapshot_hash = $3, last_document_url = $4, last_saved_event_id = $5, updated_at = $6
         WHERE account_id = $1 AND book_id = $2`,
        [s.accountId, s.bookId, p.snapshotHash, p.documentUrl ?? null, r.eventId, r.createdAt],
      )
      return
    case 'CARD_ADDED': {
      // Counted incrementally (a count(*) per receipt would make a big book quadratic to project).
      const added = await tx.query<{ inserted: boolean }>(
        `INSERT INTO pixbook_cards (account_id, book_id, card_id, art_hash, pack_id, added_event_id) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (account_id, book_id, card_id) DO UPDATE SET art_hash = EXCLUDED.art_hash, pack_id = EXCLUDED.pack_id, added_event_id = EXCLUDED.added_event_id
         RETURNING (xmax = 0) AS inserted`,
        [s.accountId, s.bookId, p.cardId, p.artHash, p.packId ?? null, r.eventId],
      )
      await bumpCardCount(tx, s.accountId!, s.bookId!, added.rows[0]?.inserted ? 1 : 0, r.createdAt)
      return
    }
    case 'CARD_REMOVED': {
      const removed = await tx.query('DELETE FROM pixbook_cards WHERE account_id = $1 AND book_id = $2 AND card_id = $3', [
        s.accountId,
        s.bookId,
        p.cardId,
      ])
      await bumpCardCount(tx, s.accountId!, s.bookId!, removed.rowCount > 0 ? -1 : 0, r.createdAt)
      return
    }
    case 'PACK_ISSUED':
      await tx.query(
        `INSERT INTO pixbook_packs (account_id, book_id, pack_id, series_id, cards, issued_event_id) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (account_id, book_id, pack_id) DO NOTHING`,
        [s.accountId, s.bookId, p.packId, p.seriesId ?? null, JSON.stringify(p.cards), r.eventId],
      )
      return
    case 'PACK_OPENED':
      await tx.query(
        `UPDATE pixbook_packs SET opened_event_id = $4 WHERE account_id = $1 AND book_id = $2 AND pack_id = $3 AND opened_event_id IS NULL`,
        [s.accountId, s.bookId, p.packId, r.eventId],
      )
      return
    case 'CARD_TRADE_OFFERED':
      await upsertTrade(tx, s.accountId!, s.bookId!, p.tradeId, 'offerer', 'offered', p.cardId, p.to, r.eventId)
      return
    case 'CARD_TRADE_ACCEPTED':
      await upsertTrade(tx, s.accountId!, s.bookId!, p.tradeId, 'receiver', 'accepted', p.giveCardId ?? null, p.from, r.eventId)
      return
    case 'CARD_TRADE_DECLINED':
      await upsertTrade(tx, s.accountId!, s.bookId!, p.tradeId, 'receiver', 'declined', null, p.from, r.eventId)
      return
    case 'CARD_TRADE_CANCELLED':
      await tx.query(
        `UPDATE pixbook_trades SET state = 'cancelled', last_event_id = $4 WHERE account_id = $1 AND book_id = $2 AND trade_id = $3`,
        [s.accountId, s.bookId, p.tradeId, r.eventId],
      )
      return
  }
}

async function insertKey(tx: Queryable, identityId: string, publicKey: PublicJwk, seq: number): Promise<void> {
  await tx.query(`INSERT INTO identity_keys (identity_id, public_key_id, public_key, added_seq) VALUES ($1, $2, $3, $4)`, [
    identityId,
    jwkThumbprint(publicKey),
    JSON.stringify(publicKey),
    seq,
  ])
}

async function bumpCardCount(tx: Queryable, accountId: string, bookId: string, delta: number, at: string): Promise<void> {
  await tx.query('UPDATE pixbooks SET card_count = card_count + $3, updated_at = $4 WHERE account_id = $1 AND book_id = $2', [
    accountId,
    bookId,
    delta,
    at,
  ])
}

async function upsertTrade(
  tx: Queryable,
  accountId: string,
  bookId: string,
  tradeId: unknown,
  role: string,
  state: string,
  cardId: unknown,
  counterparty: unknown,
  eventId: string,
): Promise<void> {
  await tx.query(
    `INSERT INTO pixbook_trades (trade_id, account_id, book_id, role, state, card_id, counterparty, last_event_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (account_id, book_id, trade_id) DO UPDATE SET state = EXCLUDED.state, last_event_id = EXCLUDED.last_event_id`,
    [tradeId, accountId, bookId, role, state, cardId, JSON.stringify(counterparty), eventId],
  )
}
