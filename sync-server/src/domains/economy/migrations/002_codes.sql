-- Printed codes (docs/economy.md, "Printed codes"): a redemption is a PACK_ISSUED whose pack records
-- the code it redeemed; a revocation is a CODE_REVOKED in the collection's stream. Both inline: the
-- code rules read them as facts (pack, code) in the next batch's append transaction.

ALTER TABLE economy_packs ADD COLUMN code_id text;

CREATE TABLE economy_code_revocations (
  collection_id  text NOT NULL,
  code_id        text NOT NULL,
  reason         text,
  event_id       text NOT NULL,
  PRIMARY KEY (collection_id, code_id)
);
