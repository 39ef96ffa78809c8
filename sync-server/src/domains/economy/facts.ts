/**
 * Loaders of the economy's facts (shared ECONOMY_FACTS; values as domains/economy.ts declares them) from
 * the economy projector's inline tables. Each must give what the rules' `record` would have kept: the
 * rules compare fields, so a key absent here is an absent fact and `issued` 0 equals no fact.
 */
import { ECONOMY_FACTS } from '@pixpax/shared'
import type { FactLoader } from '../modules.js'

/** Keys `{a} {b}[ {c}]` bound as $n, joined to the rows they name. */
const split = (i: number): string => `split_part(q.k, ' ', ${i})`

export const economyFacts: Readonly<Record<string, FactLoader>> = {
  [ECONOMY_FACTS.collection]: {
    sql: (n) => `SELECT json_agg(json_build_object('k', c.collection_id, 'v', json_build_object(
        'owner', c.owner_identity_id,
        'version', c.version,
        'series', (SELECT coalesce(json_object_agg(s.series_id, json_build_object('retired', s.retired_event_id IS NOT NULL)), '{}'::json)
                   FROM economy_series s WHERE s.collection_id = c.collection_id),
        'cards', (SELECT coalesce(json_object_agg(d.card_id, json_build_object('seriesId', d.series_id, 'version', d.version, 'art', d.art, 'supply', d.supply)), '{}'::json)
                  FROM economy_cards d WHERE d.collection_id = c.collection_id))))
      FROM economy_collections c WHERE c.collection_id = ANY($${n}::text[])`,
  },
  [ECONOMY_FACTS.drop]: {
    sql: (n) => `SELECT json_agg(json_build_object('k', d.drop_id, 'v', json_build_object(
        'owner', d.owner_identity_id, 'collectionId', d.collection_id, 'version', d.version, 'series', d.series,
        'packSize', d.pack_size, 'commitment', d.commitment, 'opensAt', d.opens_at, 'closesAt', d.closes_at,
        'revealed', d.revealed_event_id IS NOT NULL)))
      FROM economy_drops d WHERE d.drop_id = ANY($${n}::text[])`,
  },
  [ECONOMY_FACTS.pack]: {
    sql: (n) => `SELECT json_agg(json_build_object('k', p.pack_id, 'v', json_build_object('book', p.account_id || ' ' || p.book_id)))
      FROM economy_packs p WHERE p.pack_id = ANY($${n}::text[])`,
  },
  [ECONOMY_FACTS.issued]: {
    sql: (n) => `SELECT json_agg(json_build_object('k', q.k, 'v', c.issued))
      FROM unnest($${n}::text[]) AS q(k) JOIN economy_cards c ON c.collection_id = ${split(1)} AND c.card_id = ${split(2)}`,
  },
  [ECONOMY_FACTS.instance]: {
    // `burned` only when burned, as the rule's record keeps it.
    sql: (n) => `SELECT json_agg(json_build_object('k', i.instance_id, 'v', jsonb_build_object(
        'book', i.account_id || ' ' || i.book_id, 'collectionId', i.collection_id, 'cardId', i.card_id)
        || CASE WHEN i.burned_event_id IS NULL THEN '{}'::jsonb ELSE '{"burned": true}'::jsonb END))
      FROM economy_instances i WHERE i.instance_id = ANY($${n}::text[])`,
  },
  [ECONOMY_FACTS.trade]: {
    // `expiresAt` only when the offer has one, as the rule's record keeps it.
    sql: (n) => `SELECT json_agg(json_build_object('k', q.k, 'v', jsonb_build_object(
        'eventId', t.offer_event_id, 'hash', t.offer_hash, 'to', t.to_account_id || ' ' || t.to_book_id,
        'instanceId', t.instance_id, 'wantCardId', t.want_card_id, 'state', t.state)
        || CASE WHEN t.expires_at IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('expiresAt', t.expires_at) END))
      FROM unnest($${n}::text[]) AS q(k) JOIN economy_trades t
        ON t.from_account_id = ${split(1)} AND t.from_book_id = ${split(2)} AND t.trade_id = ${split(3)}`,
  },
  [ECONOMY_FACTS.code]: {
    sql: (n) => `SELECT json_agg(json_build_object('k', q.k, 'v', json_build_object('revoked', true)))
      FROM unnest($${n}::text[]) AS q(k) JOIN economy_code_revocations c ON c.collection_id = ${split(1)} AND c.code_id = ${split(2)}`,
  },
}
