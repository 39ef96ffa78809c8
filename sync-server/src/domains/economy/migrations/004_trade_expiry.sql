-- Offer expiry (docs/economy.md, "Card instances and trades"): a CARD_TRADE_OFFERED may carry expiresAt
-- (RFC 3339, the receipt format); an acceptance whose createdAt is at or past it is trade_expired. NULL for
-- offers without one, so trades from before keep their facts and the rebuild digest.

ALTER TABLE economy_trades ADD COLUMN expires_at text;
