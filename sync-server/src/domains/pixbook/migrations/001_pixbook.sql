-- The pixbook projector: books, the cards in them, packs and trades (the PixPax seed's tables).

-- The seed's head table, over the streams projector's heads.
CREATE VIEW pixbook_ledger_heads AS
  SELECT stream_key, seq, head_event_id, head_hash FROM streams WHERE stream_type = 'pixbook';

CREATE TABLE pixbooks (
  account_id          text NOT NULL,
  book_id             text NOT NULL,
  owner_identity_id   text NOT NULL,
  title               text NOT NULL,
  description         text,
  series_id           text,
  card_count          integer NOT NULL DEFAULT 0,
  last_snapshot_hash  text,
  last_document_url   text,
  last_saved_event_id text,
  created_at          text NOT NULL,
  updated_at          text NOT NULL,
  PRIMARY KEY (account_id, book_id)
);

CREATE TABLE pixbook_cards (
  account_id      text NOT NULL,
  book_id         text NOT NULL,
  card_id         text NOT NULL,
  art_hash        text NOT NULL,
  pack_id         text,
  added_event_id  text NOT NULL,
  PRIMARY KEY (account_id, book_id, card_id)
);

CREATE TABLE pixbook_packs (
  account_id        text NOT NULL,
  book_id           text NOT NULL,
  pack_id           text NOT NULL,
  series_id         text,
  cards             jsonb NOT NULL,
  issued_event_id   text NOT NULL,
  opened_event_id   text,
  PRIMARY KEY (account_id, book_id, pack_id)
);

CREATE TABLE pixbook_trades (
  trade_id         text NOT NULL,
  account_id       text NOT NULL,
  book_id          text NOT NULL,
  role             text NOT NULL,
  state            text NOT NULL,
  card_id          text,
  counterparty     jsonb,
  last_event_id    text NOT NULL,
  PRIMARY KEY (account_id, book_id, trade_id)
);
