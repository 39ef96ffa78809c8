-- The economy projector (docs/economy.md): collections and their cards (with how many were issued),
-- drops, packs, card instances (who holds each) and trades. All inline: the economy's cross-stream
-- rules read them as facts (loaders in facts.ts) in the next batch's append transaction.

CREATE TABLE economy_collections (
  collection_id      text PRIMARY KEY,
  owner_identity_id  text NOT NULL,
  name               text NOT NULL,
  description        text,
  palette            jsonb NOT NULL,
  version            integer NOT NULL,
  created_event_id   text NOT NULL
);

CREATE TABLE economy_series (
  collection_id     text NOT NULL,
  series_id         text NOT NULL,
  name              text NOT NULL,
  version           integer NOT NULL,
  retired_event_id  text,
  PRIMARY KEY (collection_id, series_id)
);

CREATE TABLE economy_cards (
  collection_id  text NOT NULL,
  card_id        text NOT NULL,
  series_id      text NOT NULL,
  name           text NOT NULL,
  art            text NOT NULL,
  supply         bigint,
  version        integer NOT NULL,
  issued         bigint NOT NULL,
  PRIMARY KEY (collection_id, card_id)
);

CREATE TABLE economy_drops (
  drop_id             text PRIMARY KEY,
  owner_identity_id   text NOT NULL,
  collection_id       text NOT NULL,
  version             integer NOT NULL,
  series              jsonb NOT NULL,
  pack_size           integer NOT NULL,
  commitment          text NOT NULL,
  opens_at            text NOT NULL,
  closes_at           text NOT NULL,
  scheduled_event_id  text NOT NULL,
  seed                text,
  revealed_event_id   text
);

CREATE TABLE economy_packs (
  pack_id          text PRIMARY KEY,
  account_id       text NOT NULL,
  book_id          text NOT NULL,
  collection_id    text,
  drop_id          text,
  collector        text,
  ticket           text,
  cards            jsonb NOT NULL,
  issued_event_id  text NOT NULL,
  position         bigint NOT NULL
);
CREATE INDEX economy_packs_book ON economy_packs (account_id, book_id, position);
CREATE INDEX economy_packs_drop ON economy_packs (drop_id, position);

CREATE TABLE economy_instances (
  instance_id        text PRIMARY KEY,
  collection_id      text,
  card_id            text NOT NULL,
  pack_id            text NOT NULL,
  account_id         text NOT NULL,
  book_id            text NOT NULL,
  acquired_event_id  text NOT NULL
);
CREATE INDEX economy_instances_book ON economy_instances (account_id, book_id, card_id);

CREATE TABLE economy_trades (
  from_account_id   text NOT NULL,
  from_book_id      text NOT NULL,
  trade_id          text NOT NULL,
  to_account_id     text NOT NULL,
  to_book_id        text NOT NULL,
  instance_id       text NOT NULL,
  want_card_id      text,
  offer_event_id    text NOT NULL,
  offer_hash        text NOT NULL,
  state             text NOT NULL,
  give_instance_id  text,
  closed_event_id   text,
  PRIMARY KEY (from_account_id, from_book_id, trade_id)
);
CREATE INDEX economy_trades_to ON economy_trades (to_account_id, to_book_id);

-- Relay state, not a projection (never rebuilt, not in the digest): the seeds of the drops this relay
-- issues packs for, secret until the drop's DROP_REVEALED.
CREATE TABLE economy_drop_secrets (
  drop_id     text PRIMARY KEY,
  seed        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
