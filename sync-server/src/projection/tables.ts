/**
 * The projection tables, in the order rebuild clears them, with the columns that order their rows for the
 * digest. Everything here is derived from receipts; nothing else is (acks, intents, sessions are relay
 * state and survive a rebuild).
 */
export const PROJECTION_TABLES: ReadonlyArray<{ name: string; orderBy: string }> = [
  { name: 'identities', orderBy: 'identity_id' },
  { name: 'identity_keys', orderBy: 'identity_id, public_key_id' },
  { name: 'accounts', orderBy: 'account_id' },
  { name: 'account_members', orderBy: 'account_id, identity_id' },
  { name: 'streams', orderBy: 'stream_key' },
  { name: 'receipts', orderBy: 'stream_key, seq' },
  { name: 'pixbooks', orderBy: 'account_id, book_id' },
  { name: 'pixbook_cards', orderBy: 'account_id, book_id, card_id' },
  { name: 'pixbook_packs', orderBy: 'account_id, book_id, pack_id' },
  { name: 'pixbook_trades', orderBy: 'account_id, book_id, trade_id' },
  { name: 'projector_offsets', orderBy: 'projector, stream_key' },
]
