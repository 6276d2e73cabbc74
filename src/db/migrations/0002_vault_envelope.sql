-- Envelope encryption for vault_cards (src/vault is the only reader and writer).
-- Each card has its own random 256-bit data key: iv/ciphertext/auth_tag (from 0001) hold the card
-- number sealed with AES-256-GCM under that data key; the columns below hold the data key itself,
-- sealed with AES-256-GCM under the key-encryption key named by key_id. Rotating to a new
-- key-encryption key rewrites only these three small columns and key_id, never the card ciphertext.
ALTER TABLE vault_cards
  ADD COLUMN data_key_wrapped   bytea NOT NULL,
  ADD COLUMN data_key_iv        bytea NOT NULL,
  ADD COLUMN data_key_auth_tag  bytea NOT NULL;

COMMENT ON COLUMN vault_cards.key_id IS 'Id of the key-encryption key that wraps data_key_wrapped';
COMMENT ON COLUMN vault_cards.ciphertext IS 'Card number, AES-256-GCM under the per-card data key; AAD binds token and merchant_id';
COMMENT ON COLUMN vault_cards.data_key_wrapped IS 'Per-card data key, AES-256-GCM under key_id; AAD binds token, merchant_id and key_id';
