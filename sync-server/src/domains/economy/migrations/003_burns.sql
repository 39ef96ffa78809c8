-- Supply conservation (docs/economy.md): a CARD_REMOVED of a card instance burns it. The instance row
-- stays (its last holder, the burning receipt); the card counts its burned instances beside issued.

ALTER TABLE economy_instances ADD COLUMN burned_event_id text;
ALTER TABLE economy_cards ADD COLUMN burned bigint NOT NULL DEFAULT 0;
