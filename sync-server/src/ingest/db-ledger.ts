/**
 * A LedgerView over the projection database: loads, inside the stream's lock, exactly the state the
 * shared rules need for a group of receipts of one stream, then tracks the group's own acceptances in
 * memory (with the same nextStreamState/nextIdentityState the offline verifier uses).
 */
import {
  nextIdentityState,
  nextStreamState,
  type Acceptance,
  type CheckedReceipt,
  type IdentityKind,
  type IdentityState,
  type LedgerView,
  type PublicJwk,
  type StreamState,
} from '@pixpax/shared'
import type { Queryable } from '../db/projection-db.js'

export class DbLedgerView implements LedgerView {
  private constructor(
    private readonly identities: Map<string, IdentityState>,
    private readonly streamKey: string,
    private readonly streams: Map<string, StreamState>,
    private readonly knownReceipts: Set<string>,
    private readonly idempotencyKeys: Map<string, string>,
  ) {}

  static async load(tx: Queryable, streamKey: string, group: readonly CheckedReceipt[]): Promise<DbLedgerView> {
    const identityIds = new Set<string>()
    for (const { receipt } of group) {
      identityIds.add(receipt.issuer.identityId)
      if (receipt.type === 'MEMBER_ADDED') identityIds.add(receipt.payload.identityId as string)
    }
    const identities = await loadIdentities(tx, [...identityIds])
    const streams = new Map<string, StreamState>()
    const own = await loadStream(tx, streamKey)
    if (own) streams.set(streamKey, own)
    // Opening a stream inside an account needs the account's members (shared rule: genesis owner).
    const accountId = group[0]?.receipt.stream.accountId
    if (!own && accountId && !streamKey.startsWith('account/')) {
      const account = await loadStream(tx, `account/${accountId}`)
      if (account) streams.set(`account/${accountId}`, account)
    }
    // Fork vs broken link and replays: which of the named receipts are in this stream already.
    const eventIds = new Set<string>()
    for (const { receipt } of group) {
      eventIds.add(receipt.eventId)
      if (receipt.prevEventId) eventIds.add(receipt.prevEventId)
    }
    const known = await tx.query<{ event_id: string; hash: string }>(
      'SELECT event_id, hash FROM receipts WHERE stream_key = $1 AND event_id = ANY($2::text[])',
      [streamKey, [...eventIds]],
    )
    const knownReceipts = new Set(known.rows.map((r) => `${r.event_id} ${r.hash}`))
    const idem = await tx.query<{ issuer_identity_id: string; idempotency_key: string; hash: string }>(
      `SELECT issuer_identity_id, idempotency_key, hash FROM receipts
       WHERE (issuer_identity_id, idempotency_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [group.map((c) => c.receipt.issuer.identityId), group.map((c) => c.receipt.idempotencyKey)],
    )
    const idempotencyKeys = new Map(idem.rows.map((r) => [`${r.issuer_identity_id} ${r.idempotency_key}`, r.hash]))
    return new DbLedgerView(identities, streamKey, streams, knownReceipts, idempotencyKeys)
  }

  identity(identityId: string): IdentityState | undefined {
    return this.identities.get(identityId)
  }
  /** The group's stream (no argument), or another stream loaded for the rules (its account). */
  stream(key: string = this.streamKey): StreamState | undefined {
    return this.streams.get(key)
  }
  hasReceipt(_streamKey: string, eventId: string, hash: string): boolean {
    return this.knownReceipts.has(`${eventId} ${hash}`)
  }
  idempotency(identityId: string, idempotencyKey: string): string | undefined {
    return this.idempotencyKeys.get(`${identityId} ${idempotencyKey}`)
  }

  /** Records an acceptance of this group so the group's next receipt sees it. */
  apply({ checked }: Acceptance): void {
    const { receipt } = checked
    const identity = nextIdentityState(checked, this.identities.get(receipt.issuer.identityId))
    if (identity) this.identities.set(identity.identityId, identity)
    this.streams.set(this.streamKey, nextStreamState(checked, this.streams.get(this.streamKey)))
    this.knownReceipts.add(`${receipt.eventId} ${receipt.hash}`)
    this.idempotencyKeys.set(`${receipt.issuer.identityId} ${receipt.idempotencyKey}`, receipt.hash)
  }
}

export async function loadIdentities(tx: Queryable, identityIds: string[]): Promise<Map<string, IdentityState>> {
  const identities = new Map<string, IdentityState>()
  if (identityIds.length === 0) return identities
  const rows = await tx.query<{ identity_id: string; account_id: string; kind: IdentityKind }>(
    'SELECT identity_id, account_id, kind FROM identities WHERE identity_id = ANY($1::text[])',
    [identityIds],
  )
  for (const r of rows.rows)
    identities.set(r.identity_id, { identityId: r.identity_id, accountId: r.account_id, kind: r.kind, keys: new Map() })
  const keys = await tx.query<{ identity_id: string; public_key_id: string; public_key: PublicJwk | string; revoked_seq: number | null }>(
    'SELECT identity_id, public_key_id, public_key, revoked_seq FROM identity_keys WHERE identity_id = ANY($1::text[])',
    [identityIds],
  )
  for (const k of keys.rows) {
    const publicKey = typeof k.public_key === 'string' ? (JSON.parse(k.public_key) as PublicJwk) : k.public_key
    identities.get(k.identity_id)?.keys.set(k.public_key_id, { publicKey, revoked: k.revoked_seq !== null })
  }
  return identities
}

/** A stream's state from the projection: head, owners and (account streams) members. */
async function loadStream(tx: Queryable, streamKey: string): Promise<StreamState | undefined> {
  const rows = await tx.query<{ stream_type: string; owner_identity_id: string; seq: number; head_event_id: string; head_hash: string }>(
    'SELECT stream_type, owner_identity_id, seq, head_event_id, head_hash FROM streams WHERE stream_key = $1',
    [streamKey],
  )
  const row = rows.rows[0]
  if (!row) return undefined
  const members = new Map<string, 'owner' | 'member'>()
  if (row.stream_type === 'account') {
    const m = await tx.query<{ identity_id: string; role: 'owner' | 'member' }>(
      'SELECT identity_id, role FROM account_members WHERE account_id = $1',
      [streamKey.slice('account/'.length)],
    )
    for (const r of m.rows) members.set(r.identity_id, r.role)
  }
  const owners =
    row.stream_type === 'account'
      ? new Set([...members].filter(([, role]) => role === 'owner').map(([id]) => id))
      : new Set([row.owner_identity_id])
  return { key: streamKey, count: row.seq, head: { eventId: row.head_event_id, hash: row.head_hash }, owners, members }
}
